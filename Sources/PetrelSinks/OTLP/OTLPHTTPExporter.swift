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
    private let traces: HTTPConnectionPool
    private let logs: HTTPConnectionPool

    init(config: OTLPSinkConfig, tls: ReloadingTLSContext?) {
        self.config = config
        traces = HTTPConnectionPool(
            endpoint: config.httpEndpoint(for: .traces), maxIdle: config.concurrency, tls: tls,
            serverName: config.tls.serverName)
        logs = HTTPConnectionPool(
            endpoint: config.httpEndpoint(for: .logs), maxIdle: config.concurrency, tls: tls,
            serverName: config.tls.serverName)
    }

    func prepare(_ batch: OTLPBatch) throws -> Request {
        let encoded: [UInt8]
        switch batch {
        case .traces(let spans):
            // The hand-written encoder: the same bytes as swift-protobuf's, several times faster.
            var encoder = OTLPTraceEncoder()
            encoded = encoder.encode(spans)
        case .logs(let records): encoded = try OTLPLogConversion.request(from: records).serializedBytes()
        }
        let body = config.compression == .gzip ? Zlib.compress(encoded, format: .gzip) : encoded
        return Request(signal: batch.signal, body: ByteBuffer(bytes: body))
    }

    func export(_ request: Request) async -> OTLPExportOutcome {
        let response: HTTPClientResponse
        do {
            response = try await pool(request.signal).post(
                body: request.body, headers: makeHeaders(), timeout: config.timeout)
        } catch {
            return .retryable(reason: "\(error)", retryAfter: nil)
        }
        let code = response.status.code
        switch code {
        case 200..<300:
            let (rejected, message) = Self.partialSuccess(of: response, signal: request.signal)
            return .delivered(wireBytes: request.body.readableBytes, rejected: rejected, message: message)
        case 429, 502, 503, 504:
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { RetryAfter.parse($0) }
            return .retryable(reason: "HTTP \(code): \(Self.errorMessage(of: response))", retryAfter: retryAfter)
        default:
            return .rejected(reason: "http_\(code)", message: Self.errorMessage(of: response))
        }
    }

    func run() async throws {}

    func shutdown() {
        traces.close()
        logs.close()
    }

    func destination(of signal: Signal) -> String {
        pool(signal).endpoint.description
    }

    private func pool(_ signal: Signal) -> HTTPConnectionPool {
        signal == .logs ? logs : traces
    }

    private func makeHeaders() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-protobuf")
        if config.compression == .gzip { headers.add(name: "Content-Encoding", value: "gzip") }
        headers.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        for header in config.requestHeaders() { headers.replaceOrAdd(name: header.name, value: header.value) }
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

/// The `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
enum RetryAfter {
    /// The delay it asks for; nil when it cannot be read. A date in the past asks for no delay.
    static func parse(_ value: String, nowSeconds: Double = Double(WallClock.nowNanoseconds()) / 1e9) -> Duration? {
        let text = value.trimmingWhitespace
        if let seconds = Int(text) { return seconds >= 0 ? .seconds(seconds) : nil }
        guard let date = imfFixdate(text) else { return nil }
        return .seconds(max(0, Double(date) - nowSeconds).rounded(.up))
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Seconds since the epoch of `Sun, 06 Nov 1994 08:49:37 GMT`, the only date form senders may use.
    private static func imfFixdate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            let day = Int64(parts[1]), let monthIndex = months.firstIndex(of: String(parts[2])),
            let year = Int64(parts[3])
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int64($0) }
        guard clock.count == 3, (1...31).contains(day), clock[0] < 24, clock[1] < 60, clock[2] < 61 else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm), with March as the first month of the year.
        let month = Int64(monthIndex) + 1
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + clock[0] * 3_600 + clock[1] * 60 + clock[2]
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
