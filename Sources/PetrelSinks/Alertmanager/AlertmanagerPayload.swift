import PetrelCodecs
import PetrelCore

/// The body of `POST /api/v2/alerts` and the checks Alertmanager makes of each alert, made here first so that an
/// invalid alert is named in Petrel's log (Alertmanager 0.25's 400 answer lists what was wrong, not which alert).
enum AlertmanagerPayload {
    /// A JSON array of `{labels, annotations, startsAt, endsAt, generatorURL}`: a firing alert ends `resolveTimeout`
    /// after `now` unless sent again, a resolved one at its resolve time.
    static func encode(_ alerts: [Alert], now: Int64, resolveTimeout: Int64) -> [UInt8] {
        var writer = JSONWriter(capacity: alerts.count * 256)
        writer.beginArray()
        for alert in alerts {
            writer.beginObject()
            writer.key("labels")
            strings(alert.labels, into: &writer)
            writer.key("annotations")
            strings(alert.annotations, into: &writer)
            writer.key("startsAt")
            RFC3339.withFormatted(nanoseconds: alert.startsAt) { writer.string(utf8: $0) }
            writer.key("endsAt")
            let endsAt = alert.state == .resolved ? (alert.endsAt ?? now) : now &+ resolveTimeout
            RFC3339.withFormatted(nanoseconds: endsAt) { writer.string(utf8: $0) }
            if !alert.generatorURL.isEmpty {
                writer.key("generatorURL")
                writer.string(alert.generatorURL)
            }
            writer.endObject()
        }
        writer.endArray()
        return writer.bytes
    }

    private static func strings(_ map: [String: String], into writer: inout JSONWriter) {
        writer.beginObject()
        for (key, value) in map.sorted(by: { $0.key < $1.key }) {
            writer.key(key)
            writer.string(value)
        }
        writer.endObject()
    }

    /// Why Alertmanager would refuse `alert` (its `model.Alert.Validate`, after it drops empty label values), or nil.
    static func problem(with alert: Alert) -> String? {
        let labels = alert.labels.filter { !$0.value.isEmpty }
        if labels.isEmpty { return "at least one label pair required" }
        if let name = labels.keys.sorted().first(where: { !isValidLabelName($0) }) {
            return "invalid label set: invalid name \"\(name)\""
        }
        if let endsAt = alert.endsAt, alert.state == .resolved, endsAt < alert.startsAt {
            return "start time must be before end time"
        }
        return nil
    }

    /// Prometheus' label names before UTF-8 names: `[a-zA-Z_][a-zA-Z0-9_]*`.
    static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        func isLetter(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
        guard isLetter(first) else { return false }
        return name.utf8.allSatisfy { isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// How many alerts a 400 answer refused: Alertmanager stores the valid alerts of the request and answers with its
    /// validation errors joined by "; " (a JSON string), one per invalid alert.
    static func refusedCount(inBadRequest body: String, alerts: Int) -> Int {
        var text = Substring(body.trimmingCharacters(in: " \n\r\t"))
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
        guard !text.isEmpty else { return alerts }
        let errors = text.split(separator: "; ", omittingEmptySubsequences: true).count
        return min(max(errors, 1), alerts)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return slice
    }
}
