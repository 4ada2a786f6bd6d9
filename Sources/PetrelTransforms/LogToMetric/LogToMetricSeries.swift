import PetrelCore

/// The running values of every series `log_to_metric` keeps, and their rendering as a metric batch.
///
/// A value type the transform owns: `observe` folds a record in, `render` writes every live series with its
/// running value (a scrape's worth), and drops, with a stale marker, those idle for longer than `expireAfter`.
struct LogToMetricSeries: Sendable {
    /// What identifies a series: the metric and its labels' values (`nil` for a label left out).
    struct Key: Hashable, Sendable {
        var metric: Int
        var tags: [String?]
    }

    /// The running value of one series.
    struct State: Sendable {
        /// The counter's total, the gauge's last value, or the histogram's sum.
        var value: Double = 0
        /// Histogram only: observations per bucket (not cumulative), the last slot above the largest bound.
        var bucketCounts: [UInt64] = []
        var count: UInt64 = 0
        /// Wall-clock milliseconds when it was created, where its first 0 goes.
        var created: Int64
        var lastUpdate: ContinuousClock.Instant
        var rendered = false
    }

    /// Why a record did not count for a metric.
    enum Skip: String, Sendable {
        case fieldMissing = "field_missing"
        case notANumber = "not_a_number"
        case seriesLimit = "series_limit"
    }

    let config: LogToMetricConfig
    private(set) var series: [Key: State] = [:]

    init(config: LogToMetricConfig) {
        self.config = config
    }

    /// Folds one record into every metric; returns why it did not count for those it did not.
    mutating func observe(_ record: LogRecord, at instant: ContinuousClock.Instant, wallMilliseconds: Int64) -> [Skip] {
        var skips: [Skip] = []
        for (index, metric) in config.metrics.enumerated() {
            guard let value = Self.value(of: metric.field, in: record) else {
                skips.append(.fieldMissing)
                continue
            }
            var number = 1.0
            if metric.kind != .counter || metric.incrementByValue {
                // A counter only goes up: a negative increment would read as a reset downstream.
                guard let parsed = Self.number(value), metric.kind != .counter || parsed >= 0 else {
                    skips.append(.notANumber)
                    continue
                }
                number = parsed
            }
            let key = Key(metric: index, tags: metric.tags.map { $0.value.render(record) })
            if series[key] == nil {
                guard series.count < config.maxSeries else {
                    skips.append(.seriesLimit)
                    continue
                }
                var state = State(created: wallMilliseconds, lastUpdate: instant)
                if metric.kind == .histogram {
                    state.bucketCounts = Array(repeating: 0, count: metric.buckets.count + 1)
                }
                series[key] = state
            }
            Self.update(&series[key]!, metric, number, at: instant)
        }
        return skips
    }

    private static func update(
        _ state: inout State, _ metric: LogToMetricConfig.Metric, _ number: Double, at instant: ContinuousClock.Instant
    ) {
        state.lastUpdate = instant
        state.count += 1
        switch metric.kind {
        case .counter: state.value += number
        case .gauge: state.value = number
        case .histogram:
            // `le`: a value equal to a bound falls in that bound's bucket, as Prometheus counts it.
            var bucket = 0
            while bucket < metric.buckets.count, number > metric.buckets[bucket] { bucket += 1 }
            state.bucketCounts[bucket] += 1
            state.value += number
        }
    }

    /// The field's value: a dotted path into the fields, else the message or the severity by name.
    static func value(of field: String, in record: LogRecord) -> AnyValue? {
        if let value = record.field(path: field) {
            if case .null = value { return nil }
            return value
        }
        switch field {
        case "message": return .string(record.message)
        case "severity": return record.severity.isEmpty ? nil : .string(record.severity)
        default: return nil
        }
    }

    /// A number from an integer, a float, or text that reads as one (log fields are often strings).
    static func number(_ value: AnyValue) -> Double? {
        switch value {
        case .int(let value): return Double(value)
        case .double(let value): return value.isFinite ? value : nil
        case .string(let text):
            guard let number = Double(text), number.isFinite else { return nil }
            return number
        default: return nil
        }
    }

    /// Every live series at `timestamp` (ms); those not updated since `expiredBefore` get a stale marker and go.
    ///
    /// A counter or histogram series rendered for the first time also gets a 0 when it was created, so that
    /// `increase()` counts its first records instead of taking them as the starting point.
    mutating func render(timestamp: Int64, expiredBefore: ContinuousClock.Instant?) -> MetricBatch? {
        guard !series.isEmpty else { return nil }
        var batch = MetricBatch()
        var expired: [Key] = []
        for (key, state) in series {
            let metric = config.metrics[key.metric]
            let stale = expiredBefore.map { state.lastUpdate < $0 } ?? false
            if stale { expired.append(key) }
            var labels: [(name: String, value: String)] = []
            for (tag, value) in zip(metric.tags, key.tags) {
                // An empty label value is no label to Prometheus.
                if let value, !value.isEmpty { labels.append((tag.name, value)) }
            }
            func append(_ name: String, le: String? = nil, _ value: Double, _ type: MetricType) {
                var samples: [Sample] = []
                if stale {
                    samples.append(Sample(timestamp: timestamp, value: Self.staleNaN))
                } else {
                    if !state.rendered && type != .gauge {
                        samples.append(Sample(timestamp: min(state.created, timestamp - 1), value: 0))
                    }
                    samples.append(Sample(timestamp: timestamp, value: value))
                }
                var all = labels + [("__name__", name)]
                if let le { all.append(("le", le)) }
                batch.appendSeries(labels: all, samples: samples, type: type)
            }
            switch metric.kind {
            case .counter: append(metric.name, state.value, .counter)
            case .gauge: append(metric.name, state.value, .gauge)
            case .histogram:
                var cumulative: UInt64 = 0
                for (bucket, count) in state.bucketCounts.enumerated() {
                    cumulative += count
                    let bound = bucket < metric.buckets.count ? metric.buckets[bucket] : .infinity
                    append(metric.name + "_bucket", le: BucketLabel.format(bound), Double(cumulative), .histogram)
                }
                append(metric.name + "_sum", state.value, .histogram)
                append(metric.name + "_count", Double(state.count), .histogram)
            }
            series[key]?.rendered = true
        }
        for key in expired { series[key] = nil }
        var families = Set<String>()
        for metric in config.metrics where families.insert(metric.name).inserted {
            let type: MetricType =
                switch metric.kind {
                case .counter: .counter
                case .gauge: .gauge
                case .histogram: .histogram
                }
            batch.metadata.append(MetricMetadata(type: type, familyName: metric.name))
        }
        return batch
    }

    /// The value Prometheus reads as "this series ended", its staleness marker.
    static let staleNaN = Double(bitPattern: 0x7ff0_0000_0000_0002)
}
