import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Receives Prometheus remote-write 1.0 and 2.0 pushes and emits each request as one metric batch.
///
/// A request is answered 204 only once its batch is in every downstream queue; when a queue is
/// full the sender gets 429 with `Retry-After` and keeps the data. Malformed requests get 400 with
/// the reason, so senders drop them instead of retrying forever.
public struct RemoteWriteSource: Source {
    public let config: RemoteWriteSourceConfig

    public init(config: RemoteWriteSourceConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "prometheus_remote_write", kind: .source) { reader, _ in
        .source(RemoteWriteSource(config: RemoteWriteSourceConfig(from: reader)), emits: .metrics)
    }

    public func run(_ context: SourceContext) async throws {
        let receiver = RemoteWriteReceiver(
            config: config, output: context.output, telemetry: context.telemetry)
        let server = HTTPIngestServer(
            settings: config.server,
            tls: try config.security.makeTLS(applicationProtocols: ["http/1.1"], logger: context.logger),
            authenticator: config.security.makeAuthenticator(logger: context.logger), memory: context.output.memory,
            logger: context.logger
        ) { request in
            await receiver.handle(request)
        }
        try await server.run(shutdown: context.shutdown) { port in
            context.logger.info(
                "listening for remote-write",
                metadata: [
                    "address": "\(config.address.host):\(port)", "tls": "\(config.security.tls != nil)",
                ])
            context.markReady()
        }
    }
}

/// Turns one HTTP request into one batch, or into the error answer the protocol asks for.
struct RemoteWriteReceiver: Sendable {
    let config: RemoteWriteSourceConfig
    let output: Output
    let telemetry: ComponentTelemetry

    /// Remote-write protocol versions, told apart by `Content-Type`.
    enum ProtocolVersion {
        case v1
        case v2
    }

    func handle(_ request: HTTPIngestRequest) async -> HTTPIngestResponse {
        let started = ContinuousClock.now
        defer { telemetry.requestDuration.observe(since: started) }
        guard request.path == config.path else {
            return .error(.notFound, "not found; remote-write goes to \(config.path)")
        }
        guard request.method == .POST else {
            return .error(.methodNotAllowed, "remote-write requests are POSTs")
        }
        let version: ProtocolVersion
        switch Self.protocolVersion(request.headers.first(name: "Content-Type")) {
        case .success(let parsed): version = parsed
        case .failure(let problem): return reject(.unsupportedMediaType, problem.message)
        }
        let encoding = request.headers.first(name: "Content-Encoding")?.lowercased() ?? "snappy"
        guard encoding == "snappy" || encoding == "zstd" else {
            return reject(
                .unsupportedMediaType,
                "unsupported Content-Encoding \"\(encoding)\"; remote-write uses snappy (or zstd)")
        }
        telemetry.receivedBytes.increment(by: request.body.readableBytes)

        // zstd: what vmagent sends VictoriaMetrics, and one Petrel another when asked to (`compression: zstd`).
        let decompressed: [UInt8]
        let limit = config.maxDecompressedSize
        do {
            decompressed = try request.body.withUnsafeReadableBytes { body in
                encoding == "zstd"
                    ? try Zstd.decompress(body, maxDecompressedLength: limit)
                    : try Snappy.decompress(body, maxDecompressedLength: limit, roomToGrow: version == .v1)
            }
        } catch {
            let tooLarge = error as? SnappyError == .tooLarge || error as? ZstdError == .tooLarge
            return reject(tooLarge ? .payloadTooLarge : .badRequest, "cannot decompress the body: \(error)")
        }

        // The request and the batch are let go of as they are handed on (`consume`): a v1 batch's labels arena is the
        // request itself, and a reference left here would make the first transform that adds a label copy all of it.
        let decoder = RemoteWriteDecoder(limits: config.limits)
        let batch: MetricBatch
        do {
            if version == .v1 {
                batch = try decoder.decodeV1(consume decompressed)
            } else {
                batch = try decoder.decodeV2(consume decompressed)
            }
        } catch {
            return reject(.badRequest, "\(error)")
        }
        var headers: HTTPHeaders = [:]
        if version == .v2 {
            headers.add(
                name: "X-Prometheus-Remote-Write-Samples-Written", value: String(batch.samples.count))
            headers.add(
                name: "X-Prometheus-Remote-Write-Histograms-Written", value: String(batch.histograms.count))
            headers.add(
                name: "X-Prometheus-Remote-Write-Exemplars-Written", value: String(batch.exemplars.count))
        }
        let seriesCount = batch.seriesCount
        guard seriesCount > 0 else {
            return HTTPIngestResponse(status: .noContent, headers: headers)
        }
        guard let buffered = output.trySend(.metrics(consume batch)) else {
            telemetry.error(.sending)
            telemetry.refused(seriesCount, reason: "pipeline_full")
            var busy = HTTPIngestResponse.error(.tooManyRequests, "the pipeline is full; retry later")
            busy.headers.add(
                name: "Retry-After", value: String(max(1, config.retryAfter.components.seconds)))
            return busy
        }
        // In the pipeline now, whatever the answer: a 503 below may bring it again (at-least-once).
        telemetry.receivedEvents.increment(by: seriesCount)
        // 204 only once every sink's buffer holds the batch: what is answered for is not lost.
        guard await buffered.wait(timeout: AcknowledgementWait.defaultTimeout) else {
            telemetry.error(.sending)
            telemetry.refused(seriesCount, reason: "buffer_timeout")
            var busy = HTTPIngestResponse.error(
                .serviceUnavailable, "the pipeline did not buffer the request in time; retry later")
            busy.headers.add(name: "Retry-After", value: String(max(1, config.retryAfter.components.seconds)))
            return busy
        }
        return HTTPIngestResponse(status: .noContent, headers: headers)
    }

    private func reject(_ status: HTTPResponseStatus, _ reason: String) -> HTTPIngestResponse {
        telemetry.error(.receiving)
        return .error(status, reason)
    }

    /// Reads `Content-Type` as the remote-write specifications define it; absent means 1.0.
    static func protocolVersion(_ contentType: String?) -> Result<
        ProtocolVersion, UnsupportedContentType
    > {
        guard let contentType else { return .success(.v1) }
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: " ") }
        guard parts.first?.lowercased() == "application/x-protobuf" else {
            return .failure(
                UnsupportedContentType(
                    message: "unsupported Content-Type \"\(contentType)\"; expected application/x-protobuf"))
        }
        let proto = parts.dropFirst().first { $0.lowercased().hasPrefix("proto=") }.map {
            String($0.dropFirst(6))
        }
        switch proto {
        case nil, "prometheus.WriteRequest": return .success(.v1)
        case "io.prometheus.write.v2.Request": return .success(.v2)
        case let other?:
            return .failure(
                UnsupportedContentType(
                    message:
                        "unsupported remote-write message \"\(other)\"; expected prometheus.WriteRequest or io.prometheus.write.v2.Request"
                ))
        }
    }

    struct UnsupportedContentType: Error {
        let message: String
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
