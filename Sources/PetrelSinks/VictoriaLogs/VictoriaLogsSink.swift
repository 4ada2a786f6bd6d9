import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Ships log records to VictoriaLogs' JSON stream API (`/insert/jsonline`): one flat JSON object per line with `_msg`,
/// `_time` and the record's fields, resource attributes and metadata; the stream fields in `_stream_fields`; the
/// tenant in `AccountID` / `ProjectID`.
///
/// The receiver answers for the whole request (it skips and counts invalid lines itself), so the request driver's
/// plain classification applies: 2xx delivered, 429 and 5xx retried, anything else dropped as `http_<status>`.
public struct VictoriaLogsSink: Sink {
    public let config: VictoriaLogsSinkConfig

    public init(config: VictoriaLogsSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "victorialogs", kind: .sink) { reader, _ in
        .sink(VictoriaLogsSink(config: VictoriaLogsSinkConfig(from: reader)), accepts: [.logs])
    }

    /// A request body ready to send, with the records' acknowledgements.
    struct PreparedLines: SinkRequest {
        var body: ByteBuffer
        var pending: LogRequest

        var eventCount: Int { pending.eventCount }

        func acknowledge() { pending.acknowledge() }
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let tls = config.endpoint.usesTLS ? try ReloadingClientTLS(config.request.tls, logger: context.logger) : nil
        let client = HTTPEndpointClient(
            origin: config.endpoint, connections: config.request.concurrency, timeout: config.request.timeout,
            tls: tls, serverName: config.request.tls.serverName)
        let endpoint = config.insertEndpoint
        let headers = makeHeaders()
        let retries = context.telemetry.registry.counter(
            "petrel_victorialogs_retries_total", help: "Requests retried after a retryable failure.",
            labels: [("component_id", context.id), ("endpoint", config.endpoint.description)])
        let driver = RequestDriver<PreparedLines>(
            settings: config.request, context: context, destination: config.endpoint.description, retries: retries,
            attempt: { request in
                let response: HTTPClientResponse
                do {
                    response = try await client.post(to: endpoint, body: request.body, headers: headers)
                } catch {
                    return .retry(reason: "\(error)", after: nil)
                }
                return HTTPAnswer.outcome(
                    of: response, wireBytes: request.body.readableBytes, retryable: HTTPAnswer.remoteWriteRetryable)
            })
        let settings = config.request
        let gzip = config.request.compression == .gzip
        do {
            try await driver.run(
                batcher: LogRequestBatcher(
                    maxEvents: settings.maxEvents, maxBytes: settings.maxBytes, maxAge: settings.maxAge),
                pull: { await input.next(until: $0) },
                prepare: { pending in
                    let lines = VictoriaLogsEncoder.encode(pending.records)
                    let body = gzip ? Zlib.compress(lines, format: .gzip) : lines
                    return PreparedLines(body: ByteBuffer(bytes: body), pending: pending)
                })
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    private func makeHeaders() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/stream+json")
        if config.request.compression == .gzip { headers.add(name: "Content-Encoding", value: "gzip") }
        if let accountID = config.accountID { headers.add(name: "AccountID", value: String(accountID)) }
        if let projectID = config.projectID { headers.add(name: "ProjectID", value: String(projectID)) }
        headers.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        config.request.addHeaders(to: &headers)
        return headers
    }
}

/// Log records as VictoriaLogs' jsonline: a flat object per line, the message in `_msg`, the time in `_time`, the
/// severity in `level`.
enum VictoriaLogsEncoder {
    static let document = LogDocumentEncoder(messageKey: "_msg", timeKey: "_time", severityKey: "level")

    static func encode(_ records: [LogRecord]) -> [UInt8] {
        var writer = JSONWriter(capacity: records.count * 256)
        for record in records {
            document.write(record, into: &writer)
            writer.newline()
        }
        return writer.bytes
    }
}
