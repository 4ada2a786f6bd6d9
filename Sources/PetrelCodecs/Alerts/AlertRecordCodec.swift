import PetrelCore

/// Alerts as a JSON array that keeps everything the model holds, with times as integer nanoseconds: the disk buffer's
/// alert records and the state files of the `alert` transform and the `alertmanager` sink.
///
/// Each element may carry integer `extra` keys of its writer's own (a transform's event count), given back on
/// decoding.
public enum AlertRecordCodec {
    /// An alert and the writer's own integer keys beside it.
    public typealias Entry = (alert: Alert, extra: [String: Int64])

    /// The keys of the alert itself; an extra key must be none of them.
    static let alertKeys: Set<String> = [
        "labels", "annotations", "starts_at_ns", "ends_at_ns", "generator_url", "state",
    ]

    public static func encode(_ alerts: [Alert]) -> [UInt8] {
        encode(alerts.map { (alert: $0, extra: [:]) })
    }

    public static func encode(_ entries: [Entry]) -> [UInt8] {
        var writer = JSONWriter(capacity: entries.count * 256)
        writer.beginArray()
        for entry in entries {
            precondition(alertKeys.isDisjoint(with: entry.extra.keys), "an extra key names a key of the alert")
            writer.beginObject()
            write(entry.alert, into: &writer)
            JSONWriter.forEachSorted(entry.extra) { key, value in
                writer.key(key)
                writer.int(value)
            }
            writer.endObject()
        }
        writer.endArray()
        return writer.bytes
    }

    private static func write(_ alert: Alert, into writer: inout JSONWriter) {
        writer.key("labels")
        strings(alert.labels, into: &writer)
        writer.key("annotations")
        strings(alert.annotations, into: &writer)
        writer.key("starts_at_ns")
        writer.int(alert.startsAt)
        if let endsAt = alert.endsAt {
            writer.key("ends_at_ns")
            writer.int(endsAt)
        }
        writer.key("generator_url")
        writer.string(alert.generatorURL)
        writer.key("state")
        writer.string(alert.state.rawValue)
    }

    static func strings(_ map: [String: String], into writer: inout JSONWriter) {
        writer.beginObject()
        JSONWriter.forEachSorted(map) { key, value in
            writer.key(key)
            writer.string(value)
        }
        writer.endObject()
    }

    public static func decodeAlerts(_ bytes: [UInt8]) throws(AlertRecordDecodingError) -> [Alert] {
        try decode(bytes).map(\.alert)
    }

    /// The entries of `bytes`, or where and why they are not what `encode` writes.
    public static func decode(_ bytes: [UInt8]) throws(AlertRecordDecodingError) -> [Entry] {
        let parsed: Result<AnyValue, JSONValueParser.Failure> = bytes.withUnsafeBytes { buffer in
            var parser = JSONValueParser(buffer)
            do throws(JSONValueParser.Failure) {
                let value = try parser.parseValue()
                guard parser.atEnd else {
                    throw JSONValueParser.Failure(offset: parser.index, reason: "unexpected data after the value")
                }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        let value: AnyValue
        switch parsed {
        case .success(let parsedValue): value = parsedValue
        case .failure(let failure):
            throw AlertRecordDecodingError("not JSON at byte \(failure.offset): \(failure.reason)")
        }
        guard case .array(let elements) = value else { throw AlertRecordDecodingError("expected an array of alerts") }
        var entries: [Entry] = []
        entries.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard let entry = entry(element) else {
                throw AlertRecordDecodingError("alert \(index) is not an object of labels, annotations and times")
            }
            entries.append(entry)
        }
        return entries
    }

    private static func entry(_ value: AnyValue) -> Entry? {
        guard case .object(let object) = value, let labels = strings(object["labels"]),
            let annotations = strings(object["annotations"]), case .int(let startsAt)? = object["starts_at_ns"],
            case .string(let generatorURL)? = object["generator_url"], case .string(let stateText)? = object["state"],
            let state = Alert.State(rawValue: stateText)
        else { return nil }
        var endsAt: Int64?
        switch object["ends_at_ns"] {
        case nil: break
        case .int(let value)?: endsAt = value
        default: return nil
        }
        var extra: [String: Int64] = [:]
        for (key, value) in object where !alertKeys.contains(key) {
            guard case .int(let number) = value else { return nil }
            extra[key] = number
        }
        let alert = Alert(
            labels: labels, annotations: annotations, startsAt: startsAt, endsAt: endsAt, generatorURL: generatorURL,
            state: state)
        return (alert, extra)
    }

    private static func strings(_ value: AnyValue?) -> [String: String]? {
        guard case .object(let object)? = value else { return nil }
        var map: [String: String] = [:]
        for (key, value) in object {
            guard case .string(let text) = value else { return nil }
            map[key] = text
        }
        return map
    }
}

/// Why bytes are not alerts as `AlertRecordCodec` writes them.
public struct AlertRecordDecodingError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
