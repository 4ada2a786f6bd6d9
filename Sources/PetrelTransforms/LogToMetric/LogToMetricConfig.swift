import PetrelCore

/// Settings of the `log_to_metric` transform.
public struct LogToMetricConfig: Sendable {
    /// Prometheus client libraries' default histogram buckets, in the unit of the field.
    public static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// What a metric makes of the records that have its field.
    public enum MetricKind: String, Sendable, CaseIterable {
        /// Counts records (or adds the field's value, `increment_by_value`), cumulative.
        case counter
        /// The field's last value.
        case gauge
        /// The field's values counted into buckets, cumulative, with their sum and count.
        case histogram
    }

    /// One metric made from the records.
    public struct Metric: Sendable {
        public var kind: MetricKind
        /// The field read: a dotted path into the record's fields, or `message` / `severity`.
        public var field: String
        /// The series' name, `namespace_name` when a namespace is set.
        public var name: String
        /// Label name to template; a template a record cannot render leaves its label out.
        public var tags: [(name: String, value: LogTemplate)]
        public var incrementByValue: Bool
        /// Histogram bucket upper bounds, strictly increasing; `+Inf` is implied.
        public var buckets: [Double]

        public init(
            kind: MetricKind, field: String, name: String, tags: [(name: String, value: LogTemplate)] = [],
            incrementByValue: Bool = false, buckets: [Double] = LogToMetricConfig.defaultBuckets
        ) {
            self.kind = kind
            self.field = field
            self.name = name
            self.tags = tags
            self.incrementByValue = incrementByValue
            self.buckets = buckets
        }
    }

    public var metrics: [Metric]
    /// Label sets kept at most, over all metrics; records that would add more are not counted.
    public var maxSeries: Int
    /// A series no record updated for this long is dropped (and marked stale downstream).
    public var expireAfter: Duration
    /// How often the series are sent on.
    public var flushInterval: Duration

    public init(
        metrics: [Metric], maxSeries: Int = 10_000, expireAfter: Duration = .seconds(300),
        flushInterval: Duration = .seconds(10)
    ) {
        self.metrics = metrics
        self.maxSeries = maxSeries
        self.expireAfter = expireAfter
        self.flushInterval = flushInterval
    }

    /// Reads the settings, reporting problems to `reader`; `nil` when any of them is invalid.
    public init?(from reader: ConfigReader) {
        self.init(metrics: [])
        let errorCount = reader.diagnostics.errors.count
        maxSeries = reader.int("max_series", default: maxSeries, range: 1...10_000_000)
        expireAfter = reader.duration("expire_after", default: expireAfter)
        if expireAfter <= .zero { reader.error("expire_after", "must be positive") }
        flushInterval = reader.duration("flush_interval", default: flushInterval)
        if flushInterval <= .zero { reader.error("flush_interval", "must be positive") }
        guard reader.contains("metrics") else {
            reader.error("metrics", "is required: a list of metrics ({ type, field, name, tags... })")
            return nil
        }
        let sections = reader.sectionList("metrics") ?? []
        if sections.isEmpty, reader.diagnostics.errors.count == errorCount {
            reader.error("metrics", "needs at least one metric")
        }
        var kinds: [String: MetricKind] = [:]
        for section in sections {
            defer { section.finish() }
            guard let metric = Self.metric(section) else { continue }
            // One name, one type: Prometheus cannot tell a counter from a gauge of the same name.
            if let other = kinds[metric.name], other != metric.kind {
                section.error("name", "\"\(metric.name)\" is already a \(other.rawValue) of this transform")
            }
            kinds[metric.name] = metric.kind
            metrics.append(metric)
        }
        guard reader.diagnostics.errors.count == errorCount else { return nil }
    }

    private static func metric(_ section: ConfigReader) -> Metric? {
        let errorCount = section.diagnostics.errors.count
        guard section.contains("type") else {
            section.error("type", "is required: counter, gauge or histogram")
            return nil
        }
        let kind = section.choice("type", default: MetricKind.counter)
        guard let field = section.requiredString("field") else { return nil }
        if field.isEmpty { section.error("field", "cannot be empty") }
        let namespace = section.string("namespace")
        var name = section.string("name") ?? field
        if let namespace, !namespace.isEmpty { name = namespace + "_" + name }
        if !Self.isMetricName(name) {
            let key = section.contains("name") ? "name" : "field"
            section.error(
                key,
                "\"\(name)\" is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*); set name (and namespace)"
                    + " to one")
        }
        let incrementByValue = section.bool("increment_by_value", default: false)
        if incrementByValue, kind != .counter {
            section.error("increment_by_value", "applies to counters only")
        }
        var buckets = defaultBuckets
        if section.contains("buckets") {
            if kind != .histogram { section.error("buckets", "applies to histograms only") }
            buckets = Self.buckets(section)
        }
        var tags: [(name: String, value: LogTemplate)] = []
        if let section = section.section("tags") {
            defer { section.finish() }
            for label in section.keys {
                if !PrometheusLabelName.isValid(label) || label.hasPrefix("__") || (kind == .histogram && label == "le")
                {
                    section.error(label, "\"\(label)\" is not a label name this metric can have")
                    continue
                }
                guard let template = section.logTemplate(label) else { continue }
                tags.append((label, template))
            }
        }
        guard section.diagnostics.errors.count == errorCount else { return nil }
        return Metric(
            kind: kind, field: field, name: name, tags: tags, incrementByValue: incrementByValue, buckets: buckets)
    }

    private static func buckets(_ section: ConfigReader) -> [Double] {
        guard let node = section.node("buckets") else { return defaultBuckets }
        guard case .sequence(let items) = node.value, !items.isEmpty else {
            section.error("buckets", "expected a list of at least one number")
            return defaultBuckets
        }
        var bounds: [Double] = []
        for (index, item) in items.enumerated() {
            let path = "\(section.path("buckets"))[\(index)]"
            guard case .scalar(let text) = item.value, let bound = Double(text), bound.isFinite else {
                section.diagnostics.error(path, line: item.line, "expected a finite number (+Inf is always added)")
                continue
            }
            if let previous = bounds.last, bound <= previous {
                section.diagnostics.error(path, line: item.line, "buckets must be strictly increasing")
            }
            bounds.append(bound)
        }
        return bounds
    }

    /// Prometheus' metric name syntax, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: ":") || PrometheusLabelName.isStart(first) else {
            return false
        }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: ":") || PrometheusLabelName.isContinuation($0) }
    }
}
