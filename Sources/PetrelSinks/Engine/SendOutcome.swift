import NIOHTTP1
import PetrelNet

/// How one attempt at sending a request ended, which is all the request driver needs to know.
enum SendOutcome: Sendable, Equatable {
    /// The receiver took the request; it may have refused some of its events (OTLP partial success).
    case delivered(wireBytes: Int, rejectedEvents: Int, message: String)
    /// Worth another attempt, after a backoff or the delay the receiver asked for.
    case retry(reason: String, after: Duration?)
    /// Never worth retrying; `reason` is the discard reason (`http_400`, `grpc_invalid_argument`).
    case drop(reason: String, message: String)
}

/// Sorts the answers of HTTP receivers: 2xx delivered, the sink's retryable statuses retried (honouring
/// `Retry-After`), anything else dropped as `http_<code>`.
enum HTTPAnswer {
    /// What a remote-write receiver means by retryable: rate limited or failing.
    static func remoteWriteRetryable(_ code: UInt) -> Bool { code == 429 || (500..<600).contains(code) }

    /// What a generic HTTP receiver means by retryable, as Vector's `http` sink reads it: timed out, rate limited or
    /// failing, except 501 (the receiver will never do it).
    static func genericRetryable(_ code: UInt) -> Bool {
        code == 408 || code == 429 || ((500..<600).contains(code) && code != 501)
    }

    /// What the OTLP/HTTP specification calls retryable.
    static func otlpRetryable(_ code: UInt) -> Bool { code == 429 || code == 502 || code == 503 || code == 504 }

    static func outcome(
        of response: HTTPClientResponse, wireBytes: Int, retryable: (UInt) -> Bool,
        accepted: (HTTPClientResponse) -> (rejected: Int, message: String) = { _ in (0, "") },
        errorMessage: (HTTPClientResponse) -> String = { $0.firstBodyLine }
    ) -> SendOutcome {
        let code = response.status.code
        if (200..<300).contains(code) {
            let (rejected, message) = accepted(response)
            return .delivered(wireBytes: wireBytes, rejectedEvents: rejected, message: message)
        }
        if retryable(code) {
            let after = response.headers.first(name: "Retry-After").flatMap { RetryAfter.parse($0) }
            return .retry(reason: "HTTP \(code): \(errorMessage(response))", after: after)
        }
        return .drop(reason: "http_\(code)", message: errorMessage(response))
    }
}
