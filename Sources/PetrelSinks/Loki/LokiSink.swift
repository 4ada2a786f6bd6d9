import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Pushes log records to Grafana Loki (`POST /loki/api/v1/push`): snappy-compressed protobuf by default, or JSON.
///
/// Each record becomes an entry of the stream its rendered labels name; a request holds at most `max_streams`
/// streams, each stream's entries in time order. On the request driver: 429 and 5xx are retried (honouring
/// `Retry-After`); a 400 is never retried, since Loki has stored the valid entries of the push and refused the rest,
/// which are counted by the reason Loki gave. Tested against Loki's published push protocol (a receiver written in
/// the tests), not a live Loki.
public struct LokiSink: Sink {
    public let config: LokiSinkConfig

    public init(config: LokiSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "loki", kind: .sink) { reader, _ in
        .sink(LokiSink(config: LokiSinkConfig(from: reader)), accepts: [.logs])
    }

    /// A push ready to send: its body, and the push it was made from (for its acknowledgements and its streams'
    /// entry counts, which a 400 naming a stream needs).
    struct PreparedPush: SinkRequest {
        var body: ByteBuffer
        var push: LokiPush

        var eventCount: Int { push.eventCount }

        func acknowledge() { push.acknowledge() }
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let tls = config.endpoint.usesTLS ? try ReloadingClientTLS(config.request.tls, logger: context.logger) : nil
        let client = HTTPEndpointClient(
            origin: config.endpoint, connections: config.request.concurrency, timeout: config.request.timeout, tls: tls,
            serverName: config.request.tls.serverName)
        let registry = context.telemetry.registry
        let retries = registry.counter(
            "petrel_loki_retries_total", help: "Push requests retried after a retryable failure.",
            labels: [("component_id", context.id), ("endpoint", config.endpoint.description)])
        let notRendered = config.labels.map { label in
            registry.counter(
                "petrel_loki_labels_not_rendered_total",
                help: "Records whose label template rendered nothing (a missing key), so the label was left out.",
                labels: [("component_id", context.id), ("label", label.name)])
        }
        let pusher = LokiPusher(config: config, client: client, context: context)
        let driver = RequestDriver<PreparedPush>(
            settings: config.request, context: context, destination: config.pushEndpoint.description, retries: retries,
            attempt: { await pusher.push($0) })
        let config = self.config
        do {
            try await driver.run(
                batcher: LokiBatcher(config: config, labelsNotRendered: notRendered),
                pull: { await input.next(until: $0) },
                prepare: { push in
                    var push = push
                    push.sortEntries()
                    return PreparedPush(body: ByteBuffer(bytes: LokiPusher.encode(push, config: config)), push: push)
                })
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }
}

/// One attempt at a push and the reading of Loki's answer.
struct LokiPusher: Sendable {
    let config: LokiSinkConfig
    let client: HTTPEndpointClient
    let context: SinkContext

    /// The body of a push: snappy protobuf, or JSON gzipped when configured.
    static func encode(_ push: LokiPush, config: LokiSinkConfig) -> [UInt8] {
        switch config.encoding {
        case .protobuf: return Snappy.compress(LokiPushEncoder.protobuf(push.streams))
        case .json:
            let json = LokiPushEncoder.json(push.streams)
            return config.request.compression == .gzip ? Zlib.compress(json, format: .gzip) : json
        }
    }

    func push(_ request: LokiSink.PreparedPush) async -> SendOutcome {
        let response: HTTPClientResponse
        do {
            response = try await client.post(to: config.pushEndpoint, body: request.body, headers: headers())
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
        guard response.status.code == 400 else {
            return HTTPAnswer.outcome(
                of: response, wireBytes: request.body.readableBytes, retryable: HTTPAnswer.remoteWriteRetryable)
        }
        let body = response.body.getString(at: response.body.readerIndex, length: response.body.readableBytes) ?? ""
        let streams = request.push.streams
        let rejections = LokiRejections(body: body) { labels in
            streams.first { $0.labelText == labels }?.entries.count
        }
        let events = request.eventCount
        guard rejections.total > 0, rejections.total < events else {
            // Nothing recognisable, or every entry refused: the whole push is dropped and counted as such.
            count(rejections.total > 0 ? rejections : LokiRejections(byReason: ["other": events]))
            return .drop(reason: "http_400", message: body)
        }
        count(rejections)
        return .delivered(
            wireBytes: request.body.readableBytes, rejectedEvents: rejections.total, message: body)
    }

    private func count(_ rejections: LokiRejections) {
        for (reason, entries) in rejections.byReason {
            context.telemetry.registry.counter(
                "petrel_loki_rejected_entries_total",
                help: "Entries Loki refused with 400 (never retried: it stored the rest of the push), by reason.",
                labels: [("component_id", context.id), ("reason", reason)]
            ).increment(by: entries)
        }
    }

    private func headers() -> HTTPHeaders {
        var headers = HTTPHeaders()
        switch config.encoding {
        case .protobuf:
            headers.add(name: "Content-Type", value: "application/x-protobuf")
        case .json:
            headers.add(name: "Content-Type", value: "application/json")
            if config.request.compression == .gzip { headers.add(name: "Content-Encoding", value: "gzip") }
        }
        if let tenantID = config.tenantID { headers.add(name: "X-Scope-OrgID", value: tenantID) }
        headers.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        config.request.addHeaders(to: &headers)
        return headers
    }
}
