import NIOCore
import PetrelCodecs
import PetrelCore
import PetrelNet

/// `GET /tap`: what a running pipeline's outputs send, as JSON lines, for `petrel tap`.
///
/// Parameters: `outputs_of` and `inputs_of` (component id patterns, repeated or comma-separated; every output when
/// neither is given), `rate` (events per second at most, default 100) and `limit` (events, then the answer ends).
/// Each event is one line in the console sink's shape with `component_id` and `output` first. Lines with a `tap`
/// key are notices: which outputs matched, what was sampled out or dropped, and why the stream ended.
struct TapRoute: Sendable {
    static let defaultRate = 100
    static let maxRate = 100_000
    /// Seconds without a status line at most.
    static let keepAliveTicks = 5

    let taps: TapHub
    let shutdown: ShutdownSignal

    func respond(to request: HTTPIngestRequest) -> HTTPIngestResponse {
        let query = APIQuery(request.query)
        let outputsOf = query.values("outputs_of").map(IDPattern.init)
        let inputsOf = query.values("inputs_of").map(IDPattern.init)
        var rate = Self.defaultRate
        if let text = query.value("rate") {
            guard let value = Int(text), (1...Self.maxRate).contains(value) else {
                return .error(.badRequest, "rate must be a whole number of events per second from 1 to \(Self.maxRate)")
            }
            rate = value
        }
        var limit: Int?
        if let text = query.value("limit") {
            guard let value = Int(text), value > 0 else { return .error(.badRequest, "limit must be over 0") }
            limit = value
        }
        let taps = self.taps
        let shutdown = self.shutdown
        return .streaming(.ok, headers: ["Content-Type": "application/x-ndjson"]) { [rate, limit] writer in
            let subscription = TapSubscription(
                outputsOf: outputsOf, inputsOf: inputsOf, rate: rate, render: Self.render)
            let matched = taps.subscribe(subscription)
            defer { taps.unsubscribe(subscription) }
            try await writer.write(TapNotice.matched(matched))
            let connection = writer.connection
            let end = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Ticks tell the client what was dropped; they end the stream on shutdown or once the client went.
                    while connection.isOpen, !Task.isCancelled {
                        if await shutdown.sleep(for: .seconds(1)) { break }
                        subscription.tick()
                    }
                    subscription.finish()
                    // A client that stopped reading would hold the server's shutdown; it gets a second, then is cut off.
                    if shutdown.isTriggered, (try? await Task.sleep(for: .seconds(1))) != nil { connection.close() }
                }
                defer { group.cancelAll() }
                return try await Self.forward(subscription, limit: limit, to: &writer)
            }
            try await writer.write(TapNotice.status(subscription.counts))
            try await writer.write(TapNotice.end(end))
        }
    }

    /// Writes what the tap hands over until the limit, the end of the stream, or the client goes (thrown).
    private static func forward(
        _ subscription: TapSubscription, limit: Int?, to writer: inout HTTPBodyStreamWriter
    ) async throws -> String {
        var shown = 0
        var reported = TapSubscription.Counts()
        var quietTicks = 0
        for await item in subscription.items {
            switch item {
            case .lines(var lines, let events):
                subscription.took()
                if let limit, shown + events >= limit {
                    lines = Self.firstLines(lines, limit - shown)
                    try await writer.write(lines)
                    return "limit"
                }
                shown += events
                try await writer.write(lines)
            case .tick:
                let counts = subscription.counts
                quietTicks += 1
                // A status at least every few seconds tells a client waiting on a quiet pipeline that the tap is alive.
                guard
                    counts.sampledOut != reported.sampledOut || counts.dropped != reported.dropped
                        || quietTicks >= Self.keepAliveTicks
                else { continue }
                quietTicks = 0
                reported = counts
                try await writer.write(TapNotice.status(counts))
            }
        }
        return "shutdown"
    }

    private static func firstLines(_ lines: [UInt8], _ count: Int) -> [UInt8] {
        var seen = 0
        for index in lines.indices where lines[index] == UInt8(ascii: "\n") {
            seen += 1
            if seen == count { return Array(lines[...index]) }
        }
        return lines
    }

    /// The first `events` events of a batch, one console-sink line each, with the output they came from first.
    @Sendable static func render(_ batch: EventBatch, _ point: TapPoint, _ events: Int) -> [UInt8] {
        var encoder = EventJSONEncoder()
        let encoded = encoder.encode(batch, limit: events)
        var prefix = JSONWriter(capacity: 64)
        prefix.beginObject()
        prefix.key("component_id")
        prefix.string(point.componentID)
        prefix.key("output")
        prefix.string(point.outputName)
        // `{"component_id":…,"output":…` then `,` and the event's own fields after its `{`.
        let head = prefix.bytes + [UInt8(ascii: ",")]
        var lines: [UInt8] = []
        lines.reserveCapacity(encoded.count + events * head.count)
        var start = encoded.startIndex
        while start < encoded.endIndex {
            let end = encoded[start...].firstIndex(of: UInt8(ascii: "\n")) ?? encoded.endIndex
            lines += head
            lines += encoded[(start + 1)..<end]
            lines.append(UInt8(ascii: "\n"))
            start = end + 1
        }
        return lines
    }
}

/// The notice lines of `/tap`, told apart from events by their `tap` key.
enum TapNotice {
    static func matched(_ outputs: [String]) -> [UInt8] {
        line { writer in
            writer.key("tap")
            writer.string("matched")
            writer.key("outputs")
            writer.beginArray()
            for output in outputs { writer.string(output) }
            writer.endArray()
        }
    }

    static func status(_ counts: TapSubscription.Counts) -> [UInt8] {
        line { writer in
            writer.key("tap")
            writer.string("status")
            writer.key("passed")
            writer.int(Int64(counts.passed))
            writer.key("sampled_out")
            writer.int(Int64(counts.sampledOut))
            writer.key("dropped")
            writer.int(Int64(counts.dropped))
        }
    }

    static func end(_ reason: String) -> [UInt8] {
        line { writer in
            writer.key("tap")
            writer.string("end")
            writer.key("reason")
            writer.string(reason)
        }
    }

    private static func line(_ body: (inout JSONWriter) -> Void) -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.beginObject()
        body(&writer)
        writer.endObject()
        writer.newline()
        return writer.bytes
    }
}
