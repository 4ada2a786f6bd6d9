import GRPCProtobuf
import NIOCore
import NIOHTTP1
import OTLPProtos
import PetrelCodecs
import PetrelCore
import PetrelNet
import SwiftProtobuf

/// OTLP/HTTP: binary protobuf POSTed to `/v1/traces` and `/v1/logs`, gzipped when configured.
final class OTLPHTTPExporter: OTLPExporter {
    /// An encoded (and maybe compressed) request body and where it goes.
    struct Request: Sendable {
        var signal: Signal
        var body: ByteBuffer
    }

    private let config: OTLPSinkConfig
    /// Both signals' paths are on the configured endpoint's host, so they share its connections.
    private let client: HTTPEndpointClient

    init(config: OTLPSinkConfig, tls: ReloadingClientTLS?) {
        self.config = config
        client = HTTPEndpointClient(
            origin: config.endpoint, connections: config.request.concurrency, timeout: config.request.timeout,
            tls: tls, serverName: config.request.tls.serverName)
    }

    func prepare(_ batch: OTLPBatch) throws -> Request {
        // The hand-written encoders: the same bytes as swift-protobuf's, several times faster.
        let encoded: [UInt8]
        switch batch {
        case .traces(let spans):
            var encoder = OTLPTraceEncoder()
            encoded = encoder.encode(spans)
        case .logs(let records):
            var encoder = OTLPLogEncoder()
            encoded = encoder.encode(records)
        }
        let body = config.request.compression == .gzip ? Zlib.compress(encoded, format: .gzip) : encoded
        return Request(signal: batch.signal, body: ByteBuffer(bytes: body))
    }

    func export(_ request: Request) async -> SendOutcome {
        let response: HTTPClientResponse
        do {
            response = try await client.post(
                to: config.httpEndpoint(for: request.signal), body: request.body, headers: makeHeaders())
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
        return HTTPAnswer.outcome(
            of: response, wireBytes: request.body.readableBytes, retryable: HTTPAnswer.otlpRetryable,
            accepted: { Self.partialSuccess(of: $0, signal: request.signal) }, errorMessage: Self.errorMessage)
    }

    func run() async throws {}

    func shutdown() async {
        await client.shutdown()
    }

    private func makeHeaders() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-protobuf")
        if config.request.compression == .gzip { headers.add(name: "Content-Encoding", value: "gzip") }
        headers.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        config.request.addHeaders(to: &headers)
        return headers
    }

    /// Events the receiver refused and why, from a 2xx answer; an answer that is not a protobuf
    /// export response (an empty body, JSON) refused nothing.
    private static func partialSuccess(of response: HTTPClientResponse, signal: Signal) -> (Int, String) {
        guard response.body.readableBytes > 0, isProtobuf(response) else { return (0, "") }
        let bytes = Array(response.body.readableBytesView)
        switch signal {
        case .logs:
            guard
                let decoded = try? Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse(
                    serializedBytes: bytes)
            else { return (0, "") }
            return (Int(decoded.partialSuccess.rejectedLogRecords), decoded.partialSuccess.errorMessage)
        default:
            guard
                let decoded = try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse(
                    serializedBytes: bytes)
            else { return (0, "") }
            return (Int(decoded.partialSuccess.rejectedSpans), decoded.partialSuccess.errorMessage)
        }
    }

    /// The message of the `google.rpc.Status` an OTLP receiver answers errors with, or the body's first line.
    private static func errorMessage(of response: HTTPClientResponse) -> String {
        if isProtobuf(response), response.body.readableBytes > 0,
            let status = try? GoogleRPCStatus(serializedBytes: Array(response.body.readableBytesView))
        {
            return status.message
        }
        return response.firstBodyLine
    }

    private static func isProtobuf(_ response: HTTPClientResponse) -> Bool {
        response.headers.first(name: "Content-Type")?.lowercased().hasPrefix("application/x-protobuf") ?? false
    }
}
