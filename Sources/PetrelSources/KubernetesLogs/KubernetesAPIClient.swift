import Logging
import NIOCore
import NIOHTTP1
import PetrelCore
import PetrelNet

/// GETs against the Kubernetes API with the service account's token: whole answers (LIST, a node) and watches.
///
/// Each request opens its own connection: a LIST or a node comes every few minutes at most, and a watch holds its
/// connection for as long as it lasts.
final class KubernetesAPIClient: Sendable {
    private let pool: HTTPConnectionPool
    private let token: ReloadingCredentialFile
    private let requestTimeout: Duration

    init(config: KubernetesAPIConfig, logger: Logger) throws(TLSFileError) {
        let tls =
            config.endpoint.usesTLS
            ? try ReloadingTLSContext(config.tlsSettings, applicationProtocols: ["http/1.1"], logger: logger) : nil
        pool = HTTPConnectionPool(endpoint: config.endpoint, maxIdle: 0, tls: tls)
        token = ReloadingCredentialFile(path: config.tokenFile, checkInterval: config.tokenCheckInterval)
        requestTimeout = config.requestTimeout
    }

    /// The whole body of a 200 answer to GET `target`, at most `maxBytes`; `what` names the request in errors.
    func get(_ target: String, what: String, maxBytes: Int) async throws -> [UInt8] {
        try await naming(what) {
            try await pool.stream(
                get: target, headers: headers(), connectTimeout: requestTimeout, idleTimeout: requestTimeout
            ) { response in
                var body: [UInt8] = []
                for try await chunk in response.body {
                    guard body.count + chunk.readableBytes <= maxBytes else {
                        throw KubernetesAPIError.malformed("the \(what) answer is larger than \(maxBytes) bytes")
                    }
                    body.append(contentsOf: chunk.readableBytesView)
                }
                guard response.status == .ok else { throw refused(response.status, what: what, body: body) }
                return body
            }
        }
    }

    /// GETs a watch and hands each event line to `onLine` as it arrives; returns when the server ends the watch
    /// (its `timeoutSeconds`), throws when the connection drops, reads nothing for `idleTimeout`, or is refused.
    func watch(
        _ target: String, idleTimeout: Duration, maxLineBytes: Int,
        onLine: (ArraySlice<UInt8>) throws -> Void
    ) async throws {
        try await naming("pod watch") {
            try await pool.stream(
                get: target, headers: headers(), connectTimeout: requestTimeout, idleTimeout: idleTimeout
            ) { response in
                guard response.status == .ok else {
                    var body: [UInt8] = []
                    for try await chunk in response.body where body.count < 65536 {
                        body.append(contentsOf: chunk.readableBytesView)
                    }
                    throw refused(response.status, what: "watch", body: body)
                }
                var lines = WatchLineSplitter(maxLineBytes: maxLineBytes)
                for try await chunk in response.body {
                    lines.append(chunk)
                    while let line = try lines.nextLine() { try onLine(line) }
                }
                if lines.unfinishedBytes > 0 {
                    throw KubernetesAPIError.malformed(
                        "the watch ended within an event (\(lines.unfinishedBytes) bytes)")
                }
            }
        }
    }

    /// Gives a connection's failure (refused, reset, TLS, a body cut off) the name of the request it broke.
    private func naming<Result>(_ what: String, _ request: () async throws -> Result) async throws -> Result {
        do {
            return try await request()
        } catch let error as KubernetesAPIError {
            throw error
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw KubernetesAPIError.transport("the \(what) to \(pool.endpoint)", error)
        }
    }

    private func headers() -> HTTPHeaders {
        var headers = HTTPHeaders([("Accept", "application/json"), ("User-Agent", "petrel/\(PetrelVersion.string)")])
        if let token = token.current { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return headers
    }

    private func refused(_ status: HTTPResponseStatus, what: String, body: [UInt8]) -> KubernetesAPIError {
        // A token that was rotated within the file watch's interval is read again for the next request.
        if status == .unauthorized { _ = token.reload() }
        return .status(Int(status.code), what, message: KubernetesStatus.decode(body)?.message)
    }
}
