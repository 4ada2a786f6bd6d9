import PetrelCore

/// Cumulative call counts and latency histograms per label set, since the transform started.
///
/// A value type: the transform owns one and feeds it every span; `render` writes the series the last batch
/// changed, with their running totals, as Prometheus counters and a classic histogram.
struct SpanMetricsAggregator: Sendable {
    /// What identifies a series: the intrinsic labels and the dimensions' values (`""` where absent).
    struct SeriesKey: Hashable, Sendable {
        var service: String
        var spanName: String
        var kind: SpanKind
        var status: SpanStatus.Code
        var dimensions: [String]
    }

    /// The running totals of one series.
    struct Totals: Sendable {
        var calls: UInt64 = 0
        /// Spans per bucket (not cumulative); the last slot holds those above the largest bound.
        var bucketCounts: [UInt64]
        /// In nanoseconds, an integer: a floating-point sum would drift over months of additions.
        var sumNanoseconds: UInt128 = 0
        /// Whether any sample of the series has been rendered yet.
        var rendered = false
        /// The batch that last changed it, so a series is listed once per batch.
        var touchedIn: UInt64 = 0
    }

    let bounds: [Double]
    let dimensions: [SpanMetricsTransformConfig.Dimension]
    let maxSeries: Int
    private(set) var keys: [SeriesKey] = []
    private(set) var totals: [Totals] = []
    private var indices: [SeriesKey: Int] = [:]
    private var touched: [Int] = []
    private var generation: UInt64 = 1
    private let layout: LabelLayout

    init(config: SpanMetricsTransformConfig) {
        bounds = config.buckets
        dimensions = config.dimensions
        maxSeries = max(config.maxSeries, 0)
        layout = LabelLayout(dimensionLabels: config.dimensions.map(\.label))
    }

    var seriesCount: Int { keys.count }

    // MARK: Counting

    /// The dimensions' values found on a resource, looked up once for all its spans; Tempo prefers them to the span's.
    func resourceDimensions(_ resource: Resource) -> [String?] {
        dimensions.map { dimension in resource.attributes[dimension.attribute].map { $0.text ?? "" } }
    }

    /// Counts a span; `false` when it needs a new series and `maxSeries` are already kept.
    mutating func observe(_ span: Span, service: String, resourceDimensions: [String?]) -> Bool {
        var values: [String] = []
        if !dimensions.isEmpty {
            values.reserveCapacity(dimensions.count)
            for (index, dimension) in dimensions.enumerated() {
                values.append(resourceDimensions[index] ?? span.attributes[dimension.attribute]?.text ?? "")
            }
        }
        let key = SeriesKey(
            service: service, spanName: span.name, kind: span.kind, status: span.status.code, dimensions: values)
        let index: Int
        if let existing = indices[key] {
            index = existing
        } else {
            guard keys.count < maxSeries else { return false }
            index = keys.count
            keys.append(key)
            totals.append(Totals(bucketCounts: Array(repeating: 0, count: bounds.count + 1)))
            indices[key] = index
        }
        // A span that ends before it starts is a clock problem of its sender; Tempo counts it as zero.
        let (start, end) = (span.startTimeUnixNano, span.endTimeUnixNano)
        let nanoseconds = end > start ? end - start : 0
        // Compared in seconds as Prometheus compares them, so a span of exactly a bound falls in that bound (`le`).
        let seconds = Double(nanoseconds) / 1e9
        var bucket = 0
        while bucket < bounds.count, seconds > bounds[bucket] { bucket += 1 }
        totals[index].calls += 1
        totals[index].bucketCounts[bucket] += 1
        totals[index].sumNanoseconds += UInt128(nanoseconds)
        if totals[index].touchedIn != generation {
            totals[index].touchedIn = generation
            touched.append(index)
        }
        return true
    }

    // MARK: Rendering

    /// The series changed since the last call, with their running totals at `timestamp` (ms); `nil` when none.
    ///
    /// A series rendered for the first time also gets a 0 one millisecond earlier (Tempo's registry writes a
    /// first 0 too), so that `increase()` and `rate()` count its first spans instead of taking them as the
    /// counter's starting point.
    mutating func render(timestamp: Int64) -> MetricBatch? {
        defer {
            touched.removeAll(keepingCapacity: true)
            generation += 1
        }
        guard !touched.isEmpty else { return nil }
        var batch = MetricBatch()
        let layout = self.layout
        let seriesPerKey = bounds.count + 4
        batch.series.reserveCapacity(touched.count * seriesPerKey)
        batch.labels.reserveCapacity(touched.count * seriesPerKey * layout.names.count)
        let strings = BatchStrings(&batch, layout: layout, bounds: bounds)
        var values = [(offset: UInt32, length: UInt32)?](repeating: nil, count: layout.names.count)
        for index in touched {
            let key = keys[index]
            let counts = totals[index]
            totals[index].rendered = true
            values[LabelLayout.service] = batch.appendToArena(key.service)
            // An empty label value means no label to Prometheus; leaving it out keeps the series one series.
            values[LabelLayout.spanName] = key.spanName.isEmpty ? nil : batch.appendToArena(key.spanName)
            values[LabelLayout.spanKind] = strings.kinds[Int(key.kind.rawValue)]
            values[LabelLayout.statusCode] = strings.statuses[Int(key.status.rawValue)]
            for (dimension, value) in key.dimensions.enumerated() {
                values[LabelLayout.firstDimension + dimension] = value.isEmpty ? nil : batch.appendToArena(value)
            }
            func append(_ name: Int, le: Int? = nil, _ value: Double, _ type: MetricType) {
                values[LabelLayout.name] = strings.metricNames[name]
                values[LabelLayout.le] = le.map { strings.bucketBounds[$0] }
                layout.appendSeries(
                    to: &batch, names: strings.labelNames, values: values, timestamp: timestamp, value: value,
                    withZero: !counts.rendered, type: type)
            }
            append(BatchStrings.calls, Double(counts.calls), .counter)
            var cumulative: UInt64 = 0
            for (bucket, count) in counts.bucketCounts.enumerated() {
                cumulative += count
                append(BatchStrings.bucket, le: bucket, Double(cumulative), .histogram)
            }
            append(BatchStrings.sum, Self.seconds(counts.sumNanoseconds), .histogram)
            append(BatchStrings.count, Double(counts.calls), .histogram)
        }
        batch.metadata = [
            MetricMetadata(
                type: .counter, familyName: SpanMetricsTransform.callsMetric,
                help: "Spans counted by service, span name, span kind and status code."),
            MetricMetadata(
                type: .histogram, familyName: SpanMetricsTransform.latencyMetric,
                help: "Span duration in seconds by service, span name, span kind and status code."),
        ]
        return batch
    }

    /// Nanoseconds as seconds, as exactly as a Double holds them.
    static func seconds(_ nanoseconds: UInt128) -> Double {
        // Below 2^53 the integer converts exactly and one division rounds once, so 3 ms reads as 0.003.
        if nanoseconds < 1 << 53 { return Double(nanoseconds) / 1e9 }
        let billion: UInt128 = 1_000_000_000
        return Double(nanoseconds / billion) + Double(nanoseconds % billion) / 1e9
    }
}

/// Where each label goes: the label names in byte order, as a series' labels must be sorted.
struct LabelLayout: Sendable {
    static let name = 0
    static let le = 1
    static let service = 2
    static let spanName = 3
    static let spanKind = 4
    static let statusCode = 5
    static let firstDimension = 6

    /// Label names by slot: the fixed ones above, then the dimensions.
    let names: [String]
    /// Slots in the order their names sort.
    let order: [Int]

    init(dimensionLabels: [String]) {
        names = ["__name__", "le", "service", "span_name", "span_kind", "status_code"] + dimensionLabels
        let names = self.names
        order = names.indices.sorted { Array(names[$0].utf8).lexicographicallyPrecedes(Array(names[$1].utf8)) }
    }

    /// Appends one series with the labels whose value is set, in name order, and its sample(s).
    func appendSeries(
        to batch: inout MetricBatch, names: [(offset: UInt32, length: UInt32)],
        values: [(offset: UInt32, length: UInt32)?], timestamp: Int64, value: Double, withZero: Bool,
        type: MetricType
    ) {
        let labelStart = UInt32(batch.labels.count)
        for slot in order {
            guard let value = values[slot] else { continue }
            batch.labels.append(
                LabelRef(
                    nameOffset: names[slot].offset, nameLength: names[slot].length, valueOffset: value.offset,
                    valueLength: value.length))
        }
        let sampleStart = UInt32(batch.samples.count)
        if withZero { batch.samples.append(Sample(timestamp: timestamp - 1, value: 0)) }
        batch.samples.append(Sample(timestamp: timestamp, value: value))
        batch.series.append(
            Series(
                labelStart: labelStart, labelCount: UInt32(batch.labels.count) - labelStart,
                sampleStart: sampleStart, sampleCount: UInt32(batch.samples.count) - sampleStart,
                histogramStart: UInt32(batch.histograms.count), exemplarStart: UInt32(batch.exemplars.count),
                type: type))
    }
}

/// Strings every rendered batch needs, written to its arena once and shared by all of its series.
struct BatchStrings {
    static let calls = 0
    static let bucket = 1
    static let sum = 2
    static let count = 3

    var labelNames: [(offset: UInt32, length: UInt32)]
    var metricNames: [(offset: UInt32, length: UInt32)]
    var bucketBounds: [(offset: UInt32, length: UInt32)]
    var kinds: [(offset: UInt32, length: UInt32)]
    var statuses: [(offset: UInt32, length: UInt32)]

    init(_ batch: inout MetricBatch, layout: LabelLayout, bounds: [Double]) {
        labelNames = layout.names.map { batch.appendToArena($0) }
        metricNames = [
            SpanMetricsTransform.callsMetric, SpanMetricsTransform.latencyMetric + "_bucket",
            SpanMetricsTransform.latencyMetric + "_sum", SpanMetricsTransform.latencyMetric + "_count",
        ].map { batch.appendToArena($0) }
        bucketBounds = (bounds + [.infinity]).map { batch.appendToArena(BucketLabel.format($0)) }
        kinds = SpanKind.allCases.sorted { $0.rawValue < $1.rawValue }.map {
            batch.appendToArena(SpanMetricsTransform.label(for: $0))
        }
        statuses = [SpanStatus.Code.unset, .ok, .error].map { batch.appendToArena(SpanMetricsTransform.label(for: $0)) }
    }
}
