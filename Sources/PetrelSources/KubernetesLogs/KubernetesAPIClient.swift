import Logging
import NIOCore
import NIOHTTP1
import PetrelCore
import PetrelNet

/// GETs against the Kubernetes API with the service account's token: whole answers (LIST, a node) and watches.
///
/// Whole answers go through one client bounded by `request_timeout`; watches through another whose read timeout
/// is longer than any watch the server is asked to hold. Call `shutdown()` once done.
final class KubernetesAPIClient: Sendable {
    private let endpoint: HTTPEndpoint
    private let requests: HTTPEndpointClient
    private let watches: HTTPEndpointClient
    private let token: ReloadingCredentialFile

    /// `watchIdleTimeout`: silence on a watch for this long means its connection is gone; `watchConnections`: how
    /// many watches run at once.
    init(config: KubernetesAPIConfig, tls: ReloadingClientTLS?, watchIdleTimeout: Duration, watchConnections: Int = 1) {
        endpoint = config.endpoint
        requests = HTTPEndpointClient(origin: config.endpoint, connections: 2, timeout: config.requestTimeout, tls: tls)
        watches = HTTPEndpointClient(
            origin: config.endpoint, connections: watchConnections, timeout: watchIdleTimeout, tls: tls)
        token = ReloadingCredentialFile(path: config.tokenFile, checkInterval: config.tokenCheckInterval)
    }

    func shutdown() async {
        await requests.shutdown()
        await watches.shutdown()
    }

    private func endpoint(_ target: String) -> HTTPEndpoint {
        var endpoint = self.endpoint
        endpoint.target = target
        return endpoint
    }

    /// The whole body of a 200 answer to GET `target`, at most `maxBytes`; `what` names the request in errors.
    func get(_ target: String, what: String, maxBytes: Int) async throws -> [UInt8] {
        try await naming(what) {
            try await requests.stream(get: endpoint(target), headers: headers()) { response in
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
    /// (its `timeoutSeconds`), throws when the connection drops, reads nothing for the watch idle timeout, or is
    /// refused.
    func watch(
        _ target: String, what: String = "pod watch", maxLineBytes: Int, onLine: (ArraySlice<UInt8>) throws -> Void
    ) async throws {
        try await naming(what) {
            try await watches.stream(get: endpoint(target), headers: headers()) { response in
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
            throw KubernetesAPIError.transport("the \(what) to \(endpoint)", error)
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
