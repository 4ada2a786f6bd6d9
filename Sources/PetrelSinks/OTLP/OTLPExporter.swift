import PetrelCore
import PetrelNet

/// How one export attempt ended, which is all the sink's retry loop needs to know.
enum OTLPExportOutcome: Sendable, Equatable {
    /// The receiver took the request; it may have refused some of its events (OTLP partial success).
    case delivered(wireBytes: Int, rejected: Int, message: String)
    /// Worth another attempt, after a backoff or the delay the receiver asked for.
    case retryable(reason: String, retryAfter: Duration?)
    /// Never worth retrying; `reason` is the discard reason (`http_400`, `grpc_invalid_argument`).
    case rejected(reason: String, message: String)
}

/// Sends OTLP export requests over one transport (gRPC or HTTP).
protocol OTLPExporter: Sendable {
    /// A batch made ready to send, once however many attempts it takes.
    associatedtype Request: Sendable

    /// Converts and encodes a batch.
    func prepare(_ batch: OTLPBatch) throws -> Request

    /// Makes one attempt; never throws, so every failure is classified.
    func export(_ request: Request) async -> OTLPExportOutcome

    /// Keeps the connections up until `shutdown()` and the requests in flight are done.
    func run() async throws

    /// No more requests will be made.
    func shutdown()

    /// Where a signal's requests go, for logs.
    func destination(of signal: Signal) -> String
}

extension OTLPSinkConfig {
    /// The configured headers and the bearer token, read for each request since tokens get rotated.
    func requestHeaders() -> [(name: String, value: String)] {
        var headers = self.headers
        if let file = bearerTokenFile, let token = CredentialFile.read(file) {
            headers.removeAll { $0.name.lowercased() == "authorization" }
            headers.append((name: "authorization", value: "Bearer \(token)"))
        }
        return headers
    }
}
