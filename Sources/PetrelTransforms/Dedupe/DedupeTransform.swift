import PetrelCodecs
import PetrelCore

/// Drops log records seen recently, as Vector's `dedupe`: two records are the same when the fields it `match`es are
/// equal (or all but those it `ignore`s); the last `cache.num_events` distinct records are remembered (least
/// recently seen forgotten first). Metrics and spans pass through.
public struct DedupeTransform: Transform {
    /// Which parts of a record make its identity.
    public enum Fields: Sendable, Equatable {
        /// These names: `message`, `timestamp`, `severity`, `metadata.<key>`, `resource.<attribute>`, or a field path.
        case match([String])
        /// Everything but these names (same forms; a field name is a top-level field).
        case ignore(Set<String>)
    }

    public let fields: Fields
    private var recent: RecentKeys

    /// Vector's default identity.
    public static let defaultMatch = ["timestamp", "host", "message"]

    public init(fields: Fields, cacheSize: Int) {
        self.fields = fields
        recent = RecentKeys(capacity: cacheSize)
    }

    public static let definition = ComponentDefinition(type: "dedupe", kind: .transform) { reader, _ in
        var fields = Fields.match(defaultMatch)
        if let section = reader.section("fields") {
            defer { section.finish() }
            switch (section.stringList("match"), section.stringList("ignore")) {
            case (let match?, nil):
                if match.isEmpty { section.error("match", "needs at least one field") }
                fields = .match(match)
            case (nil, let ignore?): fields = .ignore(Set(ignore))
            default:
                section.error(nil, "needs exactly one of match or ignore")
                return nil
            }
        }
        var cacheSize = 5000
        if let cache = reader.section("cache") {
            cacheSize = cache.int("num_events", default: cacheSize, range: 1...10_000_000)
            cache.finish()
        }
        return .transform(DedupeTransform(fields: fields, cacheSize: cacheSize), accepts: .all)
    }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        guard case .logs(var logs) = batch else { return batch }
        let before = logs.records.count
        var writer = JSONWriter()
        logs.records.removeAll { record in
            writer.reset()
            identity(of: record, into: &writer)
            return recent.seen(writer.bytes)
        }
        let dropped = before - logs.records.count
        if dropped > 0 { context.telemetry.discarded(dropped, reason: "duplicate") }
        return logs.records.isEmpty ? nil : .logs(logs)
    }

    /// The record's identity as JSON text: the matched values in order (null when absent), or every part but the
    /// ignored ones, by name.
    private func identity(of record: LogRecord, into writer: inout JSONWriter) {
        switch fields {
        case .match(let names):
            writer.beginArray()
            for name in names { Self.value(of: record, name).map { writer.value($0) } ?? writer.null() }
            writer.endArray()
        case .ignore(let ignored):
            writer.beginObject()
            for name in ["message", "timestamp", "severity"] where !ignored.contains(name) {
                writer.key(name)
                writer.value(Self.value(of: record, name) ?? .null)
            }
            writer.key("fields")
            writer.object(record.fields.filter { !ignored.contains($0.key) })
            writer.key("metadata")
            writer.object(
                Dictionary(
                    uniqueKeysWithValues: record.metadata.filter { !ignored.contains("metadata." + $0.key) }.map {
                        ($0.key, AnyValue.string($0.value))
                    }))
            writer.key("resource")
            writer.object(
                Dictionary(
                    record.resource.filter { !ignored.contains("resource." + $0.key) }.map { ($0.key, $0.value) },
                    uniquingKeysWith: { first, _ in first }))
            writer.endObject()
        }
    }

    private static func value(of record: LogRecord, _ name: String) -> AnyValue? {
        switch name {
        case "message": return .string(record.message)
        case "timestamp": return .int(record.timestamp)
        case "severity": return record.severity.isEmpty ? nil : .string(record.severity)
        default:
            if name.hasPrefix("metadata.") { return record.metadata[String(name.dropFirst(9))].map(AnyValue.string) }
            if name.hasPrefix("resource.") { return record.resource[String(name.dropFirst(9))] }
            return record.field(path: name)
        }
    }
}

/// The last `capacity` distinct keys, least recently seen forgotten first.
struct RecentKeys {
    let capacity: Int
    /// Each key's last sighting.
    private var lastSeen: [[UInt8]: UInt64] = [:]
    /// Sightings oldest first; an entry whose number is not its key's last sighting is stale.
    private var order: [(key: [UInt8], sighting: UInt64)] = []
    private var head = 0
    private var sightings: UInt64 = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Records a sighting; whether the key was already remembered.
    mutating func seen(_ key: [UInt8]) -> Bool {
        sightings += 1
        let known = lastSeen.updateValue(sightings, forKey: key) != nil
        order.append((key, sightings))
        while lastSeen.count > capacity, head < order.count {
            let oldest = order[head]
            head += 1
            if lastSeen[oldest.key] == oldest.sighting { lastSeen[oldest.key] = nil }
        }
        // Repeats leave stale sightings behind: keep the list within twice what it stands for.
        if order.count - head > 2 * capacity + 1024 {
            order = order[head...].filter { lastSeen[$0.key] == $0.sighting }
            head = 0
        }
        return known
    }
}
