import NIOCore
import NIOHTTP1
import Synchronization

/// Keep-alive connections to one endpoint, reused across requests.
public final class HTTPConnectionPool: Sendable {
    public let endpoint: HTTPEndpoint
    private let idle = Mutex<[HTTPConnection]>([])
    private let maxIdle: Int
    let tls: ReloadingTLSContext?
    let serverName: String

    /// `tls` is required for an `https://` endpoint and ignored for `http://`; `serverName` replaces the endpoint's
    /// host in SNI and the certificate check.
    public init(endpoint: HTTPEndpoint, maxIdle: Int, tls: ReloadingTLSContext? = nil, serverName: String? = nil) {
        precondition(!endpoint.usesTLS || tls != nil, "an https endpoint needs a TLS context")
        self.endpoint = endpoint
        self.maxIdle = maxIdle
        self.tls = endpoint.usesTLS ? tls : nil
        self.serverName = serverName ?? endpoint.host
    }

    /// POSTs `body` to the endpoint's target and returns the response, whatever its status.
    ///
    /// A request that fails on a reused connection before any answer (the server closed it while
    /// idle) is tried once more on a new connection.
    public func post(body: ByteBuffer, headers: HTTPHeaders, timeout: Duration) async throws -> HTTPClientResponse {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.target, headers: headers)
        head.headers.replaceOrAdd(name: "Host", value: endpoint.hostHeader)
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        if let reused = checkout() {
            do {
                return try await send(head, body: body, timeout: timeout, on: reused)
            } catch let error as HTTPClientError where error.description == HTTPClientError.connectionClosed.description
            {
                // Fall through to a fresh connection.
            }
        }
        try Task.checkCancellation()
        let connection = try await HTTPConnection.connect(
            to: endpoint, tls: tls, serverName: serverName, timeout: timeout)
        return try await send(head, body: body, timeout: timeout, on: connection)
    }

    /// Closes every idle connection.
    public func close() {
        for connection in idle.withLock({ idle in
            defer { idle = [] }
            return idle
        }) {
            connection.close()
        }
    }

    private func send(
        _ head: HTTPRequestHead, body: ByteBuffer, timeout: Duration, on connection: HTTPConnection
    ) async throws -> HTTPClientResponse {
        do {
            let response = try await connection.send(head, body: body, timeout: timeout)
            checkin(connection)
            return response
        } catch {
            connection.close()
            throw error
        }
    }

    private func checkout() -> HTTPConnection? {
        idle.withLock { idle in
            while let connection = idle.popLast() {
                if connection.isActive { return connection }
            }
            return nil
        }
    }

    private func checkin(_ connection: HTTPConnection) {
        guard connection.isActive else { return }
        let kept = idle.withLock { idle in
            guard idle.count < maxIdle else { return false }
            idle.append(connection)
            return true
        }
        if !kept { connection.close() }
    }
}
