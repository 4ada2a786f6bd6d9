import PetrelCore

/// Settings of the `span_metrics` transform.
public struct SpanMetricsTransformConfig: Sendable, Equatable {
    /// Grafana Tempo's default latency buckets, in seconds: 2 ms doubling to 16.384 s.
    public static let defaultBuckets: [Double] = [
        0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384,
    ]

    /// Labels every series has; a dimension may not take one of these names.
    public static let intrinsicLabels = ["service", "span_name", "span_kind", "status_code"]

    /// Upper bounds of the latency buckets in seconds, strictly increasing; `+Inf` is implied.
    public var buckets: [Double]
    /// Extra labels taken from resource or span attributes.
    public var dimensions: [Dimension]
    /// Distinct label sets kept at most; spans that would add more are not counted.
    public var maxSeries: Int

    /// An attribute that becomes a label.
    public struct Dimension: Sendable, Equatable {
        /// The attribute looked up on the resource, then on the span (Tempo's order).
        public var attribute: String
        /// The label name: the attribute name with every character outside `[a-zA-Z0-9_]` turned into `_`.
        public var label: String

        public init(attribute: String) {
            self.attribute = attribute
            self.label = SpanMetricsTransformConfig.labelName(attribute)
        }
    }

    public init(
        buckets: [Double] = SpanMetricsTransformConfig.defaultBuckets, dimensions: [String] = [],
        maxSeries: Int = 10_000
    ) {
        self.buckets = buckets
        self.dimensions = dimensions.map(Dimension.init)
        self.maxSeries = maxSeries
    }

    /// Reads the settings, reporting problems to `reader`; `nil` when any of them is invalid.
    public init?(from reader: ConfigReader) {
        self.init()
        let errorCount = reader.diagnostics.errors.count
        maxSeries = reader.int("max_series", default: maxSeries, range: 1...Int.max)
        if let items = Self.listItems(reader, "buckets", whenEmpty: "needs at least one bucket") {
            buckets = Self.buckets(items, reader)
        }
        if let items = Self.listItems(reader, "dimensions") {
            dimensions = Self.dimensions(items, reader)
        }
        guard reader.diagnostics.errors.count == errorCount else { return nil }
    }

    /// The Prometheus label name for an attribute name, as Tempo sanitises it (Prometheus' `SanitizeLabelName`),
    /// with `_` put before a leading digit so the result is always a valid name.
    public static func labelName(_ attribute: String) -> String {
        var name = String.UnicodeScalarView()
        for scalar in attribute.unicodeScalars {
            name.append(PrometheusLabelName.isContinuation(scalar) ? scalar : "_")
        }
        // Only a digit can follow but not start a name.
        if let first = name.first, !PrometheusLabelName.isStart(first) { name.insert("_", at: name.startIndex) }
        return String(name)
    }

    // MARK: Reading

    private struct ListItem {
        var path: String
        var line: Int
        var text: String
    }

    /// The scalar items of a list, each with its own path for errors (`buckets[3]`).
    private static func listItems(_ reader: ConfigReader, _ key: String, whenEmpty: String? = nil) -> [ListItem]? {
        guard let node = reader.node(key) else { return nil }
        guard case .sequence(let items) = node.value else {
            reader.error(key, "expected a list, found \(node.kindName)")
            return nil
        }
        if items.isEmpty, let whenEmpty { reader.error(key, whenEmpty) }
        var result: [ListItem] = []
        for (index, item) in items.enumerated() {
            let path = "\(reader.path(key))[\(index)]"
            guard case .scalar(let text) = item.value else {
                reader.diagnostics.error(path, line: item.line, "expected a single value, found \(item.kindName)")
                continue
            }
            result.append(ListItem(path: path, line: item.line, text: text))
        }
        return result
    }

    private static func buckets(_ items: [ListItem], _ reader: ConfigReader) -> [Double] {
        var bounds: [Double] = []
        for item in items {
            // Plain numbers are seconds as Tempo writes them; `250ms` is read as a duration.
            guard let bound = Double(item.text) ?? DurationParser.parse(item.text).map(Self.seconds), bound.isFinite
            else {
                let message =
                    "expected a number of seconds such as 0.25 (+Inf is always added), found "
                    + item.text.quotedForMessage
                reader.diagnostics.error(item.path, line: item.line, message)
                continue
            }
            if bound < 0 {
                reader.diagnostics.error(item.path, line: item.line, "must not be negative, found \(item.text)")
            } else if let previous = bounds.last, bound <= previous {
                reader.diagnostics.error(
                    item.path, line: item.line,
                    "buckets must be strictly increasing: \(item.text) follows \(BucketLabel.format(previous))")
            }
            bounds.append(bound)
        }
        return bounds
    }

    private static func dimensions(_ items: [ListItem], _ reader: ConfigReader) -> [Dimension] {
        var dimensions: [Dimension] = []
        var labels: [String: String] = [:]
        for item in items {
            guard !item.text.isEmpty else {
                reader.diagnostics.error(item.path, line: item.line, "an attribute name cannot be empty")
                continue
            }
            let dimension = Dimension(attribute: item.text)
            let label = dimension.label
            if intrinsicLabels.contains(label) || label == "le" || label.hasPrefix("__") {
                reader.diagnostics.error(
                    item.path, line: item.line,
                    "\"\(item.text)\" would become the label \"\(label)\", which span_metrics sets itself or Prometheus"
                        + " reserves")
                continue
            }
            if let other = labels[label] {
                let message =
                    other == item.text
                    ? "\"\(item.text)\" is listed twice"
                    : "\"\(item.text)\" and \"\(other)\" would both become the label \"\(label)\""
                reader.diagnostics.error(item.path, line: item.line, message)
                continue
            }
            labels[label] = item.text
            dimensions.append(dimension)
        }
        return dimensions
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
