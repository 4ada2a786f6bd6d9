import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Receives log records over HTTP: NDJSON, JSON or text bodies, plain, gzip, deflate or zstd, each request one batch.
///
/// A request is answered 200 only once its batch is in every downstream queue; a full queue gets 429 and a batch not
/// taken in time 503, both with `Retry-After`, and the sender keeps the data. A body that cannot be read gets 400
/// naming the line of the first bad value, and nothing of it goes on; 413 past the size limits, before or after
/// decompression.
public struct HTTPServerSource: Source {
    public let config: HTTPServerSourceConfig

    public init(config: HTTPServerSourceConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "http_server", kind: .source) { reader, _ in
        .source(HTTPServerSource(config: HTTPServerSourceConfig(from: reader)), emits: .logs)
    }

    public func run(_ context: SourceContext) async throws {
        let receiver = HTTPLogReceiver(config: config, output: context.output, telemetry: context.telemetry)
        let server = HTTPIngestServer(
            settings: config.server,
            tls: try config.security.makeTLS(applicationProtocols: ["http/1.1"], logger: context.logger),
            authenticator: config.security.makeAuthenticator(logger: context.logger), memory: context.output.memory,
            logger: context.logger, tooLarge: { receiver.tooLarge($0) }, handler: { await receiver.handle($0) })
        try await server.run(shutdown: context.shutdown) { port in
            context.logger.info(
                "listening for logs over HTTP",
                metadata: [
                    "address": "\(HostPort(host: config.address.host, port: port))", "path": "\(config.path)",
                    "codec": "\(config.codec.rawValue)", "tls": "\(config.security.tls != nil)",
                ])
            context.markReady()
        }
    }
}

/// Turns one HTTP request into one log batch, or into the error answer that says why not.
struct HTTPLogReceiver: Sendable {
    let config: HTTPServerSourceConfig
    let output: Output
    let telemetry: ComponentTelemetry

    func handle(_ request: HTTPIngestRequest) async -> HTTPIngestResponse {
        let started = ContinuousClock.now
        defer { telemetry.requestDuration.observe(since: started) }
        guard request.path == config.path else {
            return .error(.notFound, "not found; logs go to \(config.path)")
        }
        guard request.method == .POST else {
            var response = HTTPIngestResponse.error(.methodNotAllowed, "log requests are POSTs")
            response.headers.add(name: "Allow", value: "POST")
            return response
        }
        let wireBytes = request.body.readableBytes
        telemetry.receivedBytes.increment(by: wireBytes)
        let body: [UInt8]
        switch decompress(request) {
        case .success(let bytes): body = bytes
        case .failure(let refusal): return reject(refusal.status, refusal.message)
        }
        let records: [LogRecord]
        do throws(LogBodyDecodingError) {
            records = try LogBodyDecoder(codec: config.codec, keys: config.keys).decode(
                body, receivedAt: WallClock.nowNanoseconds())
        } catch {
            return reject(.badRequest, "cannot read the body as \(config.codec.rawValue): \(error)")
        }
        guard !records.isEmpty else { return HTTPIngestResponse(status: .ok) }
        let batch = LogBatch(records: stamped(records, with: request.headers))
        guard let buffered = output.trySend(.logs(batch)) else {
            telemetry.error(.sending)
            telemetry.refused(records.count, reason: "pipeline_full")
            return retryLater(.tooManyRequests, "the pipeline is full; retry later")
        }
        telemetry.receivedEvents.increment(by: records.count)
        // 200 only once every sink's buffer holds the batch: what is answered for is not lost.
        guard await buffered.wait(timeout: AcknowledgementWait.defaultTimeout) else {
            telemetry.error(.sending)
            telemetry.refused(records.count, reason: "buffer_timeout")
            return retryLater(.serviceUnavailable, "the pipeline did not buffer the request in time; retry later")
        }
        return HTTPIngestResponse(status: .ok)
    }

    /// 413 for a body over `max_body_size`, which the server does not read.
    func tooLarge(_ headers: HTTPHeaders) -> HTTPIngestResponse {
        // The body is discarded unread; what the sender declared is what crossed the wire.
        telemetry.receivedBytes.increment(by: headers.first(name: "Content-Length").flatMap(Int.init) ?? 0)
        return reject(.payloadTooLarge, "request body exceeds the limit of \(config.maxBodySize) bytes")
    }

    /// The records with the source's metadata and the configured headers as fields (over same-named keys).
    private func stamped(_ records: [LogRecord], with headers: HTTPHeaders) -> [LogRecord] {
        var copied: [String: AnyValue] = [:]
        for name in config.headers {
            if let value = headers.first(name: name) { copied[name] = .string(value) }
        }
        return records.map { record in
            var record = record
            record.metadata["source_type"] = "http_server"
            if !copied.isEmpty { record.fields.merge(copied) { _, header in header } }
            return record
        }
    }

    private struct Refusal: Error {
        var status: HTTPResponseStatus
        var message: String
    }

    /// The body as `Content-Encoding` says to read it, within `max_decompressed_body_size`.
    private func decompress(_ request: HTTPIngestRequest) -> Result<[UInt8], Refusal> {
        let limit = config.maxDecompressedSize
        let encoding = request.headers.first(name: "Content-Encoding")?.lowercased() ?? ""
        let refusal: (Bool, String) -> Refusal = { tooLarge, message in
            Refusal(
                status: tooLarge ? .payloadTooLarge : .badRequest, message: "cannot decompress the body: \(message)")
        }
        switch encoding {
        case "", "identity":
            guard request.body.readableBytes <= limit else {
                return .failure(Refusal(status: .payloadTooLarge, message: "body exceeds the limit of \(limit) bytes"))
            }
            return .success(Array(request.body.readableBytesView))
        case "gzip", "x-gzip", "deflate":
            do throws(ZlibError) {
                let format: Zlib.Format = encoding == "deflate" ? .zlib : .gzip
                return .success(
                    try request.body.withUnsafeReadableBytes { (raw) throws(ZlibError) in
                        try Zlib.decompress(raw, format: format, maxDecompressedLength: limit)
                    })
            } catch {
                return .failure(refusal(error == .tooLarge, "\(error)"))
            }
        case "zstd":
            do throws(ZstdError) {
                return .success(
                    try request.body.withUnsafeReadableBytes { (raw) throws(ZstdError) in
                        try Zstd.decompress(raw, maxDecompressedLength: limit)
                    })
            } catch {
                return .failure(refusal(error == .tooLarge, "\(error)"))
            }
        default:
            return .failure(
                Refusal(
                    status: .unsupportedMediaType,
                    message: "unsupported Content-Encoding \"\(encoding)\"; expected gzip, deflate, zstd or none"))
        }
    }

    private func reject(_ status: HTTPResponseStatus, _ reason: String) -> HTTPIngestResponse {
        telemetry.error(.receiving)
        return .error(status, reason)
    }

    private func retryLater(_ status: HTTPResponseStatus, _ reason: String) -> HTTPIngestResponse {
        let (seconds, attoseconds) = config.retryAfter.components
        var response = HTTPIngestResponse.error(status, reason)
        response.headers.add(name: "Retry-After", value: String(max(1, seconds + (attoseconds > 0 ? 1 : 0))))
        return response
    }
}
