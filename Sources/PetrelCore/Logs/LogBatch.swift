/// A log record: when, what, structured fields, and where it came from.
public struct LogRecord: Sendable, Hashable {
    /// Nanoseconds since the Unix epoch.
    public var timestamp: Int64
    public var message: String
    /// Severity as text (`INFO`, `error`...); empty when unknown.
    public var severity: String
    /// The record's own structured data (a JSON object).
    public var fields: [String: AnyValue]
    /// Where the record was collected: source id, file, pod, container...
    public var metadata: [String: String]
    /// OpenTelemetry resource attributes (`k8s.cluster.name`, `cloud.provider`...).
    public var resource: [Attribute]

    public init(
        timestamp: Int64, message: String, severity: String = "", fields: [String: AnyValue] = [:],
        metadata: [String: String] = [:], resource: [Attribute] = []
    ) {
        self.timestamp = timestamp
        self.message = message
        self.severity = severity
        self.fields = fields
        self.metadata = metadata
        self.resource = resource
    }

    /// A field by dotted path (`http.status`), looking into nested objects.
    public func field(path: String) -> AnyValue? {
        if let direct = fields[path] { return direct }
        var current: AnyValue = .object(fields)
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .object(let object) = current, let next = object[String(part)] else { return nil }
            current = next
        }
        return current
    }

    var estimatedBytes: Int {
        16 + message.utf8.count + severity.utf8.count
            + fields.reduce(0) { $0 + $1.key.utf8.count + $1.value.estimatedBytes }
            + metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } + resource.estimatedBytes
    }
}

/// A batch of log records.
public struct LogBatch: Sendable, Hashable {
    public var records: [LogRecord]

    public init(records: [LogRecord] = []) {
        self.records = records
    }

    public var estimatedBytes: Int { records.reduce(0) { $0 + $1.estimatedBytes } }
}
