import PetrelCore

/// A name and value: a stream label or a structured metadata pair as Loki's `LabelPairAdapter` carries them.
struct LokiLabelPair: Sendable, Hashable {
    var name: String
    var value: String
}

/// One log line of a stream.
struct LokiEntry: Sendable, Hashable {
    /// Nanoseconds since the Unix epoch.
    var timestamp: Int64
    var line: String
    var structuredMetadata: [LokiLabelPair]
}

/// The entries of one label set.
struct LokiStream: Sendable, Hashable {
    /// Sorted by name; what the JSON encoding sends.
    var labels: [LokiLabelPair]
    /// `{name="value", …}`, as Loki's protobuf carries the labels and names a stream in its errors.
    var labelText: String
    var entries: [LokiEntry]
}

/// One push request's streams and the acknowledgements its delivery gives back.
struct LokiPush: SinkRequest {
    var streams: [LokiStream]
    var acknowledgements: [Acknowledgement]

    var eventCount: Int { streams.reduce(0) { $0 + $1.entries.count } }

    func acknowledge() {
        for acknowledgement in acknowledgements { acknowledgement.acknowledge() }
    }

    /// Each stream's entries in time order, as Loki wants them (it accepts some disorder, but each push in order
    /// keeps a stream's chunks from overlapping). Equal timestamps keep their arrival order.
    mutating func sortEntries() {
        for index in streams.indices {
            let entries = streams[index].entries
            guard zip(entries, entries.dropFirst()).contains(where: { $0.timestamp > $1.timestamp }) else { continue }
            streams[index].entries = entries.enumerated().sorted {
                ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset)
            }.map(\.element)
        }
    }
}

/// Renders each record's stream labels and structured metadata and groups records into push requests of at most
/// `maxEvents` entries, about `maxBytes` and `maxStreams` streams, each sent at the latest `maxAge` after its first
/// record arrived.
///
/// A label whose template renders nothing (a missing key) or an empty value is left out, as Vector does (an empty
/// value is no label to Loki either); a record left with no label at all gets `agent="petrel"`, as Vector's gets
/// `agent="vector"`, since Loki refuses a stream without labels.
struct LokiBatcher {
    let labels: [LokiSinkConfig.Label]
    let structuredMetadata: [LokiSinkConfig.Label]
    let maxEvents: Int
    let maxBytes: Int
    let maxAge: Duration
    let maxStreams: Int
    /// Counted per configured label (by index) each time its template rendered nothing.
    let labelsNotRendered: [Counter]

    private var streams: [LokiStream] = []
    private var streamIndex: [String: Int] = [:]
    private var acknowledgements: [Acknowledgement] = []
    private var events = 0
    private var bytes = 0
    private var oldest: ContinuousClock.Instant?
    /// The rendered labels of the last record, reused while records come from the same source stream.
    private var lastLabels: (values: [String?], stream: (labels: [LokiLabelPair], text: String))?

    init(config: LokiSinkConfig, labelsNotRendered: [Counter]) {
        labels = config.labels
        structuredMetadata = config.structuredMetadata
        maxEvents = config.request.maxEvents
        maxBytes = config.request.maxBytes
        maxAge = config.request.maxAge
        maxStreams = config.maxStreams
        self.labelsNotRendered = labelsNotRendered
    }

    var deadline: ContinuousClock.Instant? { oldest.map { $0 + maxAge } }

    /// Adds a batch of records; returns the requests that filled up. The first request holding part of the batch
    /// takes its acknowledgement, each further one a split of it.
    mutating func add(_ envelope: Envelope, now: ContinuousClock.Instant) -> [LokiPush] {
        guard case .logs(let batch) = envelope.batch, !batch.records.isEmpty else {
            envelope.acknowledgement.acknowledge()
            return []
        }
        var ready: [LokiPush] = []
        // No request made here is sent before this returns, so no piece can give its hold back before all are taken.
        var hold: Acknowledgement? = envelope.acknowledgement
        var holdsPiece = false
        for record in batch.records {
            let stream = streamLabels(of: record)
            let entry = LokiEntry(
                timestamp: record.timestamp, line: record.message, structuredMetadata: metadata(of: record))
            let size = Self.estimatedBytes(entry)
            let newStream = streamIndex[stream.text] == nil
            if events > 0, events >= maxEvents || bytes + size > maxBytes || (newStream && streams.count >= maxStreams)
            {
                ready.append(take())
                holdsPiece = false
            }
            if !holdsPiece {
                acknowledgements.append(hold ?? envelope.acknowledgement.split())
                hold = nil
                holdsPiece = true
            }
            if events == 0 { oldest = now }
            if let index = streamIndex[stream.text] {
                streams[index].entries.append(entry)
            } else {
                streamIndex[stream.text] = streams.count
                streams.append(LokiStream(labels: stream.labels, labelText: stream.text, entries: [entry]))
                bytes += stream.text.utf8.count
            }
            events += 1
            bytes += size
        }
        if events >= maxEvents || bytes >= maxBytes { ready.append(take()) }
        return ready
    }

    /// The pending request if its deadline has passed.
    mutating func flushExpired(now: ContinuousClock.Instant) -> [LokiPush] {
        guard let deadline, deadline <= now else { return [] }
        return [take()]
    }

    /// The pending request, at the end of the input.
    mutating func flushAll() -> [LokiPush] {
        events > 0 ? [take()] : []
    }

    private mutating func take() -> LokiPush {
        defer {
            streams = []
            streamIndex = [:]
            acknowledgements = []
            events = 0
            bytes = 0
            oldest = nil
        }
        return LokiPush(streams: streams, acknowledgements: acknowledgements)
    }

    private mutating func streamLabels(of record: LogRecord) -> (labels: [LokiLabelPair], text: String) {
        var values: [String?] = []
        values.reserveCapacity(labels.count)
        for (index, label) in labels.enumerated() {
            let value = label.value.render(record)
            if value == nil { labelsNotRendered[index].increment() }
            values.append(value)
        }
        if let lastLabels, lastLabels.values == values { return lastLabels.stream }
        var pairs: [LokiLabelPair] = []
        for (label, value) in zip(labels, values) {
            if let value, !value.isEmpty { pairs.append(LokiLabelPair(name: label.name, value: value)) }
        }
        if pairs.isEmpty { pairs = [LokiLabelPair(name: "agent", value: "petrel")] }
        pairs.sort { $0.name < $1.name }
        let stream = (labels: pairs, text: LokiLabelText.format(pairs))
        lastLabels = (values, stream)
        return stream
    }

    private func metadata(of record: LogRecord) -> [LokiLabelPair] {
        guard !structuredMetadata.isEmpty else { return [] }
        var pairs: [LokiLabelPair] = []
        for pair in structuredMetadata {
            if let value = pair.value.render(record), !value.isEmpty {
                pairs.append(LokiLabelPair(name: pair.name, value: value))
            }
        }
        return pairs
    }

    private static func estimatedBytes(_ entry: LokiEntry) -> Int {
        16 + entry.line.utf8.count
            + entry.structuredMetadata.reduce(0) { $0 + 4 + $1.name.utf8.count + $1.value.utf8.count }
    }
}

extension LokiBatcher: RequestBatching {
    mutating func add(_ envelope: Envelope) -> [LokiPush] { add(envelope, now: .now) }

    mutating func flushExpired() -> [LokiPush] { flushExpired(now: .now) }
}

/// Loki's text form of a label set, `{name="value", …}`: values quoted as Go quotes them (Loki's own `String()`),
/// so that the label parser reads back exactly the value sent.
enum LokiLabelText {
    static func format(_ pairs: [LokiLabelPair]) -> String {
        var text = "{"
        for (index, pair) in pairs.enumerated() {
            if index > 0 { text += ", " }
            text += pair.name
            text += "=\""
            appendEscaped(pair.value, to: &text)
            text += "\""
        }
        text += "}"
        return text
    }

    private static func appendEscaped(_ value: String, to text: inout String) {
        guard
            value.utf8.contains(where: {
                $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 || $0 == 0x7F
            })
        else {
            text += value
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                text += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            default: text.unicodeScalars.append(scalar)
            }
        }
    }
}
