import PetrelCodecs
import PetrelCore

/// Turns one target's scrapes into the batches Prometheus would append: the samples with the target's labels,
/// `metric_relabel_configs` applied, limits checked, staleness markers for series that went away, and the five
/// synthetic series (`up`, `scrape_duration_seconds`, ...).
///
/// It remembers the series of the last scrape it sent (the sent batch itself, whose storage it shares), so that a
/// series missing from the next scrape, or every series of a scrape that failed, gets Prometheus' stale NaN.
struct ScrapeAssembler {
    /// A scrape's outcome as the loop reports it.
    struct Report: Sendable, Equatable {
        var up: Bool
        var samplesScraped: Int
        var samplesPostRelabeling: Int
        var seriesAdded: Int
        var error: String?
    }

    static let staleNaN = Double(bitPattern: ExpositionParser.staleNaNBits)
    static let syntheticNames = [
        "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ]

    let targetLabels: [ScrapeTarget.Label]
    let honorLabels: Bool
    let sampleLimit: Int
    let labelLimit: Int
    private var metricRules: RelabelRules?
    /// The last batch sent and how many of its first series were scraped (the rest are markers and synthetics).
    private var previous: (batch: MetricBatch, scraped: Int)?
    private var previousHashes: Set<UInt64> = []
    /// The hash of each of the last batch's scraped series, in order, so that finding the stale ones does not hash
    /// them a second time.
    private var previousSeriesHashes: [UInt64] = []

    init(target: ScrapeTarget, job: ScrapeJobConfig, metricRules: RelabelRules?) {
        targetLabels = target.labels
        honorLabels = job.honorLabels
        sampleLimit = job.sampleLimit
        labelLimit = job.labelLimit
        self.metricRules = metricRules
    }

    /// The batch for a scrape that returned `scraped` (parsed, untouched), taken at `timestamp`.
    mutating func assemble(scraped: MetricBatch, timestamp: Int64, duration: Double) -> (MetricBatch, Report) {
        var batch = scraped
        let samplesScraped = batch.seriesCount
        attachTargetLabels(&batch)
        metricRules?.process(&batch)
        let post = batch.seriesCount
        if sampleLimit > 0 && post > sampleLimit {
            return failed(
                "sample limit exceeded: \(post) samples, the limit is \(sampleLimit)",
                timestamp: timestamp, duration: duration, samplesScraped: samplesScraped)
        }
        if labelLimit > 0, let index = batch.series.indices.first(where: { batch.series[$0].labelCount > labelLimit }) {
            let name = batch.labelValue(series: index, name: "__name__") ?? ""
            return failed(
                "label_limit exceeded (metric: \(name), number of labels: \(batch.series[index].labelCount), "
                    + "limit: \(labelLimit))",
                timestamp: timestamp, duration: duration, samplesScraped: samplesScraped)
        }
        var hashes: Set<UInt64> = []
        hashes.reserveCapacity(post)
        var seriesHashes: [UInt64] = []
        seriesHashes.reserveCapacity(post)
        var added = 0
        for index in 0..<post {
            let hash = batch.labelsHash(series: index)
            seriesHashes.append(hash)
            if hashes.insert(hash).inserted && !previousHashes.contains(hash) { added += 1 }
        }
        appendStaleMarkers(to: &batch, keeping: hashes, timestamp: timestamp)
        let report = Report(up: true, samplesScraped: samplesScraped, samplesPostRelabeling: post, seriesAdded: added)
        appendSynthetic(to: &batch, report: report, timestamp: timestamp, duration: duration)
        previous = (batch, post)
        previousHashes = hashes
        previousSeriesHashes = seriesHashes
        return (batch, report)
    }

    /// The batch for a scrape that failed: `up` 0, and every series of the last scrape marked stale.
    mutating func failed(_ error: String, timestamp: Int64, duration: Double, samplesScraped: Int = 0)
        -> (MetricBatch, Report)
    {
        var batch = MetricBatch()
        appendStaleMarkers(to: &batch, keeping: [], timestamp: timestamp)
        let report = Report(
            up: false, samplesScraped: samplesScraped, samplesPostRelabeling: 0, seriesAdded: 0, error: error)
        appendSynthetic(to: &batch, report: report, timestamp: timestamp, duration: duration)
        previous = nil
        previousHashes = []
        previousSeriesHashes = []
        return (batch, report)
    }

    /// Stale markers for every series of the last scrape and for the synthetic series: the target went away.
    mutating func ended(timestamp: Int64) -> MetricBatch {
        var batch = MetricBatch()
        appendStaleMarkers(to: &batch, keeping: [], timestamp: timestamp)
        for name in Self.syntheticNames {
            batch.appendSeries(
                labels: syntheticLabels(name), samples: [Sample(timestamp: timestamp, value: Self.staleNaN)])
        }
        previous = nil
        previousHashes = []
        previousSeriesHashes = []
        return batch
    }

    // MARK: Steps

    /// Prometheus' `mutateSampleLabels`: with `honor_labels` the scraped labels win; without, a scraped label that
    /// a target label would overwrite is kept as `exported_<name>`.
    private func attachTargetLabels(_ batch: inout MetricBatch) {
        guard !targetLabels.isEmpty, batch.seriesCount > 0 else { return }
        if !honorLabels {
            for series in batch.series.indices {
                for label in targetLabels {
                    guard let index = batch.labelIndex(series: series, name: label.name) else { continue }
                    let value = batch.value(batch.labels[index])
                    batch.deleteLabel(series: series, name: label.name)
                    var exported = "exported_" + label.name
                    while batch.labelIndex(series: series, name: exported) != nil { exported = "exported_" + exported }
                    batch.setLabel(series: series, name: exported, value: value)
                }
            }
        }
        let refs = targetLabels.map { batch.makeLabel(name: $0.name, value: $0.value) }
        batch.addLabelsToEverySeries(refs, overwrite: !honorLabels)
    }

    private func appendStaleMarkers(to batch: inout MetricBatch, keeping hashes: Set<UInt64>, timestamp: Int64) {
        guard let previous else { return }
        for index in 0..<previous.scraped {
            guard !hashes.contains(previousSeriesHashes[index]) else { continue }
            let labelStart = UInt32(batch.labels.count)
            previous.batch.arena.withUnsafeBytes { arena in
                for label in previous.batch.labels(of: index) {
                    let name = batch.appendToArena(
                        UnsafeRawBufferPointer(
                            rebasing: arena[Int(label.nameOffset)..<Int(label.nameOffset + label.nameLength)]))
                    let value = batch.appendToArena(
                        UnsafeRawBufferPointer(
                            rebasing: arena[Int(label.valueOffset)..<Int(label.valueOffset + label.valueLength)]))
                    batch.labels.append(
                        LabelRef(
                            nameOffset: name.offset, nameLength: name.length, valueOffset: value.offset,
                            valueLength: value.length))
                }
            }
            batch.samples.append(Sample(timestamp: timestamp, value: Self.staleNaN))
            batch.series.append(
                Series(
                    labelStart: labelStart, labelCount: UInt32(batch.labels.count) - labelStart,
                    sampleStart: UInt32(batch.samples.count - 1), sampleCount: 1,
                    type: previous.batch.series[index].type))
        }
    }

    private func appendSynthetic(to batch: inout MetricBatch, report: Report, timestamp: Int64, duration: Double) {
        let values: [Double] = [
            report.up ? 1 : 0, duration, Double(report.samplesScraped), Double(report.samplesPostRelabeling),
            Double(report.seriesAdded),
        ]
        for (name, value) in zip(Self.syntheticNames, values) {
            batch.appendSeries(
                labels: syntheticLabels(name), samples: [Sample(timestamp: timestamp, value: value)], type: .gauge)
        }
    }

    private func syntheticLabels(_ name: String) -> [(name: String, value: String)] {
        [("__name__", name)] + targetLabels.map { ($0.name, $0.value) }
    }
}
