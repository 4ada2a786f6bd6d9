import PetrelCore

/// Writes a log record as one flat JSON object, the document a log store indexes (VictoriaLogs' jsonline, an
/// Elasticsearch `_bulk` source line).
///
/// The message, the time (RFC 3339 with nanoseconds) and the severity go under the store's own keys; then the record's
/// fields, its resource attributes and its metadata, each under its own name (`log.iostream`, `k8s.namespace.name`,
/// `file`). A name is written once: the reserved keys win, then fields, then resource attributes, then metadata, since
/// a store refuses or mangles a document with a key twice. Nested field objects stay nested (VictoriaLogs flattens
/// them with dots, Elasticsearch maps them as objects).
public struct LogDocumentEncoder: Sendable {
    /// The keys of the message, the time and the severity.
    public var messageKey: String
    public var timeKey: String
    public var severityKey: String
    /// Resource attributes under these prefixes have the dots of the rest of their name replaced by `_`
    /// (`k8s.pod.label.app.kubernetes.io/name` → `k8s.pod.label.app_kubernetes_io/name`), as Filebeat's `labels.dedot`:
    /// Elasticsearch expands dotted names into objects, so a label `app` beside `app.kubernetes.io/name` would be both a
    /// value and an object, and the document would be refused.
    public var dedottedPrefixes: [String]

    /// The pod's labels and annotations: the attributes whose names hold the user's own dots.
    public static let kubernetesLabelPrefixes = ["k8s.pod.label.", "k8s.pod.annotation.", "k8s.node.label."]

    public init(messageKey: String, timeKey: String, severityKey: String, dedottedPrefixes: [String] = []) {
        self.messageKey = messageKey
        self.timeKey = timeKey
        self.severityKey = severityKey
        self.dedottedPrefixes = dedottedPrefixes
    }

    /// Writes `record` as one object; `extra` pairs follow the reserved keys and win over the record's own.
    public func write(_ record: LogRecord, extra: [(key: String, value: String)] = [], into writer: inout JSONWriter) {
        var written: Set<String> = [messageKey, timeKey]
        writer.beginObject()
        writer.key(messageKey)
        writer.string(record.message)
        writer.key(timeKey)
        writer.string(RFC3339.format(nanoseconds: record.timestamp))
        if !record.severity.isEmpty, written.insert(severityKey).inserted {
            writer.key(severityKey)
            writer.string(record.severity)
        }
        for (key, value) in extra where written.insert(key).inserted {
            writer.key(key)
            writer.string(value)
        }
        for key in record.fields.keys.sorted() where written.insert(key).inserted {
            writer.key(key)
            writer.value(record.fields[key]!)
        }
        for attribute in record.resource {
            let key = dedotted(attribute.key)
            guard written.insert(key).inserted else { continue }
            writer.key(key)
            writer.value(attribute.value)
        }
        for key in record.metadata.keys.sorted() where written.insert(key).inserted {
            writer.key(key)
            writer.string(record.metadata[key]!)
        }
        writer.endObject()
    }

    /// A value as text, for an `_id`: strings as they are, other values as their JSON.
    public static func text(of value: AnyValue) -> String {
        if case .string(let text) = value { return text }
        var writer = JSONWriter()
        writer.value(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private func dedotted(_ key: String) -> String {
        for prefix in dedottedPrefixes where key.hasPrefix(prefix) {
            let rest = key.dropFirst(prefix.count)
            guard rest.contains(".") else { return key }
            return prefix + String(rest.map { $0 == "." ? "_" : $0 })
        }
        return key
    }
}
