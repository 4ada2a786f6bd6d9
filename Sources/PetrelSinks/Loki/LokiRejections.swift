/// The entries a Loki `400` answer says it refused, by reason, read from the body's text.
///
/// Loki stores the valid entries of a push and answers 400 naming the rest (so a 400 must never be retried: the
/// stored entries would arrive twice). The distributor writes one line per refused entry or stream:
/// `entry for stream '{…}' has timestamp too old: …`, `… has timestamp too new: …`,
/// `Max entry size '…' bytes exceeded for stream '{…}' …`, `Error parsing labels '{…}' with error: …`,
/// `stream '{…}' has duplicate label name: …` (and too many labels, a name or value too long); the ingester
/// one line per refused entry (`entry with timestamp … ignored, reason: 'entry out of order' …`, possibly cut short
/// at its `max_returned_stream_errors`) closed by `total ignored: N out of M`, which is the count that holds.
struct LokiRejections: Equatable {
    /// Refused entries by reason (`too_old`, `too_far_in_future`, `line_too_long`, `out_of_order`,
    /// `too_far_behind`, `invalid_labels`, `other`).
    var byReason: [String: Int] = [:]

    var total: Int { byReason.values.reduce(0, +) }

    init(byReason: [String: Int]) {
        self.byReason = byReason
    }

    /// Reads `body`; `entriesOfStream` gives a stream's entry count by its label text, for the errors that refuse a
    /// whole stream.
    init(body: String, entriesOfStream: (String) -> Int?) {
        var ingesterLines: [String] = []
        for line in body.split(whereSeparator: \.isNewline) {
            if let total = Self.totalIgnored(line) {
                // The listed lines may be fewer than the total: the rest count under the last listed reason.
                let reasons = ingesterLines.isEmpty ? ["other"] : ingesterLines
                for reason in reasons { byReason[reason, default: 0] += 1 }
                if total > reasons.count { byReason[reasons.last!, default: 0] += total - reasons.count }
                ingesterLines = []
            } else if line.hasPrefix("entry with timestamp") {
                ingesterLines.append(Self.ingesterReason(line))
            } else if line.contains("has timestamp too old") {
                byReason["too_old", default: 0] += 1
            } else if line.contains("has timestamp too new") {
                byReason["too_far_in_future", default: 0] += 1
            } else if line.hasPrefix("Max entry size") {
                byReason["line_too_long", default: 0] += 1
            } else if line.hasPrefix("Error parsing labels '") {
                let labels = line.dropFirst("Error parsing labels '".count).prefix { $0 != "'" }
                byReason["invalid_labels", default: 0] += entriesOfStream(String(labels)) ?? 1
            } else if line.contains("label name") || line.contains("label value") {
                // Too many labels, a duplicate name, a name or value too long: the whole stream is refused.
                byReason["invalid_labels", default: 0] += Self.quotedLabels(line).flatMap(entriesOfStream) ?? 1
            } else if line.contains("for stream") {
                byReason["other", default: 0] += 1
            }
        }
        for reason in ingesterLines { byReason[reason, default: 0] += 1 }
    }

    /// The first `'{…}'` of a line: the stream Loki names.
    private static func quotedLabels(_ line: Substring) -> String? {
        guard let start = line.firstRange(of: "'{"), let end = line[start.upperBound...].firstRange(of: "}'") else {
            return nil
        }
        return String(line[line.index(after: start.lowerBound)..<line.index(before: end.upperBound)])
    }

    private static func totalIgnored(_ line: Substring) -> Int? {
        guard let range = line.firstRange(of: "total ignored: ") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    private static func ingesterReason(_ line: Substring) -> String {
        if line.contains("entry out of order") { return "out_of_order" }
        if line.contains("entry too far behind") { return "too_far_behind" }
        if line.contains("too old") { return "too_old" }
        if line.contains("too new") { return "too_far_in_future" }
        return "other"
    }
}
