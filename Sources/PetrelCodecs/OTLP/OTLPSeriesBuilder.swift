import PetrelCore

/// Collects samples and histograms by label set, so that points of one series arrive in a batch as one series
/// however they were spread over the request, as the Collector's remote-write exporter groups them.
struct OTLPSeriesBuilder {
    private struct Pending {
        var labels: [(name: String, value: String)]
        var type: MetricType
        var samples: [Sample] = []
        var histograms: [NativeHistogram] = []
    }

    private var pending: [Pending] = []
    private var index: [[String]: Int] = [:]
    private var metadataNames: Set<String> = []
    private var metadata: [MetricMetadata] = []

    /// Labels as a map from name to value; `__name__` included.
    typealias Labels = [String: String]

    mutating func add(_ sample: Sample, labels: Labels, type: MetricType) {
        let position = series(labels, type: type)
        pending[position].samples.append(sample)
    }

    mutating func add(_ histogram: NativeHistogram, labels: Labels, type: MetricType) {
        let position = series(labels, type: type)
        pending[position].histograms.append(histogram)
    }

    mutating func addMetadata(_ entry: MetricMetadata) {
        if metadataNames.insert(entry.familyName).inserted { metadata.append(entry) }
    }

    private mutating func series(_ labels: Labels, type: MetricType) -> Int {
        let sorted = labels.filter { !$0.value.isEmpty }.sorted {
            $0.key.utf8.lexicographicallyPrecedes($1.key.utf8)
        }
        var key: [String] = []
        key.reserveCapacity(sorted.count * 2)
        for (name, value) in sorted {
            key.append(name)
            key.append(value)
        }
        if let position = index[key] { return position }
        index[key] = pending.count
        pending.append(Pending(labels: sorted.map { (name: $0.key, value: $0.value) }, type: type))
        return pending.count - 1
    }

    /// The batch: series in the order their first point came, samples of each in time order.
    func batch() -> MetricBatch {
        var batch = MetricBatch()
        for var series in pending {
            // Receivers refuse out-of-order samples; a request may list a series' points in any order.
            if !series.samples.isSorted(by: { $0.timestamp <= $1.timestamp }) {
                series.samples.sort { $0.timestamp < $1.timestamp }
            }
            if !series.histograms.isSorted(by: { $0.timestamp <= $1.timestamp }) {
                series.histograms.sort { $0.timestamp < $1.timestamp }
            }
            let position = batch.appendSeries(labels: series.labels, samples: series.samples, type: series.type)
            if !series.histograms.isEmpty {
                batch.histograms.append(contentsOf: series.histograms)
                batch.series[position].histogramCount = UInt32(series.histograms.count)
            }
        }
        batch.metadata = metadata
        return batch
    }
}

extension Array {
    fileprivate func isSorted(by areInIncreasingOrder: (Element, Element) -> Bool) -> Bool {
        zip(self, dropFirst()).allSatisfy { areInIncreasingOrder($0, $1) }
    }
}
