import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// POSTs log records to any HTTP endpoint as NDJSON or a JSON array, each record in the JSON shape of the `console`
/// and `file` sinks, plain, gzip or zstd.
///
/// The sink is its encoding and answer classification on the `RequestDriver`: batches by events, bytes and age,
/// `concurrency` senders, retries on connection failures, 408, 429 and 5xx (but 501) honouring `Retry-After`, and
/// drops a request any other status refuses, counted as `http_<status>` and logged. Input batches are acknowledged
/// once their records are delivered or dropped.
public struct HTTPSink: Sink {
    public let config: HTTPSinkConfig

    public init(config: HTTPSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "http", kind: .sink) { reader, _ in
        .sink(HTTPSink(config: HTTPSinkConfig(from: reader)), accepts: .logs)
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let tls = config.uri.usesTLS ? try ReloadingClientTLS(config.request.tls, logger: context.logger) : nil
        let client = HTTPEndpointClient(
            origin: config.uri, connections: config.request.concurrency, timeout: config.request.timeout, tls: tls,
            serverName: config.request.tls.serverName)
        let retries = context.telemetry.registry.counter(
            "petrel_http_sink_retries_total", help: "HTTP sink requests retried after a retryable failure.",
            labels: [("component_id", context.id), ("uri", config.uri.description)])
        let encoder = HTTPSinkEncoder(encoding: config.encoding, compression: config.request.compression)
        let headers = makeHeaders()
        let uri = config.uri
        let driver = RequestDriver<HTTPSinkRequest>(
            settings: config.request, context: context, destination: uri.description, retries: retries,
            attempt: { request in
                let response: HTTPClientResponse
                do {
                    response = try await client.post(to: uri, body: request.body, headers: headers())
                } catch {
                    return .retry(reason: "\(error)", after: nil)
                }
                return HTTPAnswer.outcome(
                    of: response, wireBytes: request.body.readableBytes, retryable: HTTPAnswer.genericRetryable)
            })
        let settings = config.request
        do {
            try await driver.run(
                batcher: HTTPSinkBatcher(
                    maxEvents: settings.maxEvents, maxBytes: settings.maxBytes, maxAge: settings.maxAge),
                pull: { await input.next(until: $0) },
                prepare: { HTTPSinkRequest(body: ByteBuffer(bytes: encoder.encode($0.batch)), pending: $0) })
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    /// The request headers, credentials read again for each request (tokens get rotated).
    private func makeHeaders() -> @Sendable () -> HTTPHeaders {
        let request = config.request
        var fixed = HTTPHeaders()
        fixed.add(name: "Content-Type", value: config.encoding == .json ? "application/json" : "application/x-ndjson")
        switch request.compression {
        case .gzip: fixed.add(name: "Content-Encoding", value: "gzip")
        case .zstd: fixed.add(name: "Content-Encoding", value: "zstd")
        case .snappy, .none: break
        }
        fixed.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        let base = fixed
        return {
            var headers = base
            request.addHeaders(to: &headers)
            return headers
        }
    }
}

/// A request body ready to send, with the batches it was made from.
struct HTTPSinkRequest: SinkRequest {
    var body: ByteBuffer
    var pending: PendingLogRequest

    var eventCount: Int { pending.eventCount }

    func acknowledge() { pending.acknowledge() }
}
