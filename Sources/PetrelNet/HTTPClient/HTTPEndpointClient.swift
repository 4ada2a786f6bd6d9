import AsyncHTTPClient
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// A response, its body read up to `HTTPEndpointClient.maxBodyBytes` (Petrel's, not AsyncHTTPClient's streamed one).
public struct HTTPClientResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    /// The first line of the body, for logs.
    public var firstBodyLine: String {
        let text = body.getString(at: body.readerIndex, length: min(body.readableBytes, 512)) ?? ""
        return String(text.prefix { $0 != "\n" && $0 != "\r" })
    }
}

/// The head of a response whose body is read as it arrives; the body can be iterated once.
public struct HTTPStreamingResponse {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: AsyncHTTPClient.HTTPClientResponse.Body
}

/// POSTs to (and streams GETs from) the endpoints of one host over AsyncHTTPClient: keep-alive HTTP/1.1 connections, at most `connections`
/// of them, TLS that follows its files, a timeout and cancellation per request. Call `shutdown()` once done.
public final class HTTPEndpointClient: Sendable {
    /// The most of a response body kept: an answer's status decides the outcome and its first line is logged, so a
    /// huge error page is cut here rather than held (its connection is closed).
    public static let maxBodyBytes = 64 * 1024

    private let client: HTTPClient
    private let tls: ReloadingClientTLS?
    private let serverName: String?
    private let timeout: TimeAmount

    /// For the endpoints on `origin`'s scheme, host and port. `tls` is required for an `https://` origin and ignored
    /// for `http://`; `serverName` replaces the host in SNI and the certificate check (the connection still goes to
    /// the host). `timeout` bounds connecting, the wait for the answer's head and each wait for its body's bytes.
    public init(
        origin: HTTPEndpoint, connections: Int, timeout: Duration, tls: ReloadingClientTLS? = nil,
        serverName: String? = nil
    ) {
        precondition(!origin.usesTLS || tls != nil, "an https endpoint needs a TLS configuration")
        self.tls = origin.usesTLS ? tls : nil
        self.timeout = TimeAmount(timeout)
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: self.timeout, read: self.timeout),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections),
            decompression: .disabled)
        configuration.httpVersion = .http1Only
        // A connection that cannot be made fails its request at once, with the reason (refused, a certificate the CA
        // does not vouch for), as before: the sink engine retries with its own backoff and logs why. AsyncHTTPClient's
        // default would retry connecting until `timeout` and then report only that the deadline passed.
        configuration.connectionPool.retryConnectionEstablishment = false
        // Every connection closes with a reset (SO_LINGER 0), which throws away whatever the kernel still holds to
        // send. A request given up on (timed out, cancelled) is retried, often on another connection; closed the usual
        // way, its bytes stuck in the send queue (a partitioned link, a receiver not reading) still went out once the
        // path came back, and the receiver took the request twice. A client closes only connections it is done with
        // or has given up on, so nothing it still wants sent is lost. AsyncHTTPClient offers no socket options but
        // this hook, called for each new HTTP/1.1 connection (plain or TLS) before any request uses it.
        configuration.http1_1ConnectionDebugInitializer = { channel in
            guard let socket = channel as? any SocketOptionProvider else {
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            return socket.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        }
        // AsyncHTTPClient takes SNI and the name checked from the URL's host; its DNS override then sends the
        // connection to the endpoint's real host.
        if origin.usesTLS, let serverName, serverName != origin.host {
            configuration.dnsOverride = [serverName: origin.host]
            self.serverName = serverName
        } else {
            self.serverName = nil
        }
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// POSTs `body` to `endpoint` (on the origin given at init) and returns the response, whatever its status, its
    /// body cut at `maxBodyBytes` (a `_bulk` answer, read item by item, can be larger than the usual limit).
    ///
    /// A request that fails because the server closed the connection before any answer (a keep-alive connection it
    /// closed while idle) is tried once more, on a new connection: the closed one has left the pool.
    public func post(
        to endpoint: HTTPEndpoint, body: ByteBuffer, headers: HTTPHeaders,
        maxBodyBytes: Int = HTTPEndpointClient.maxBodyBytes
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url(of: endpoint))
        request.method = .POST
        request.headers = headers
        request.headers.replaceOrAdd(name: "Host", value: endpoint.hostHeader)
        request.body = .bytes(body)
        request.tlsConfiguration = tls?.current
        let response: AsyncHTTPClient.HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .remoteConnectionClosed {
            try Task.checkCancellation()
            response = try await client.execute(request, timeout: timeout)
        }
        var collected = ByteBuffer()
        for try await var chunk in response.body {
            let room = maxBodyBytes - collected.readableBytes
            if chunk.readableBytes >= room {
                if let slice = chunk.readSlice(length: room) { collected.writeImmutableBuffer(slice) }
                break
            }
            collected.writeBuffer(&chunk)
        }
        return HTTPClientResponse(status: response.status, headers: response.headers, body: collected)
    }

    /// GETs `endpoint` and hands the response to `handle` as soon as its head arrives, its body read as it comes (a
    /// Kubernetes watch: chunked, open for minutes); the request ends when `handle` returns.
    ///
    /// `timeout` bounds the wait for the head and then each wait for body bytes, not the whole response: a watch
    /// lasts as long as the server keeps sending. A connection closed before the body's end throws. Cancelling the
    /// task closes the connection.
    public func stream<Result>(
        get endpoint: HTTPEndpoint, headers: HTTPHeaders, _ handle: (HTTPStreamingResponse) async throws -> Result
    ) async throws -> Result {
        var request = HTTPClientRequest(url: url(of: endpoint))
        request.method = .GET
        request.headers = headers
        request.headers.replaceOrAdd(name: "Host", value: endpoint.hostHeader)
        request.tlsConfiguration = tls?.current
        // The deadline covers the answer's head only; the client's read timeout then bounds each wait for bytes.
        let response = try await client.execute(request, timeout: timeout)
        return try await handle(
            HTTPStreamingResponse(status: response.status, headers: response.headers, body: response.body))
    }

    /// Closes every connection; requests still running fail.
    public func shutdown() async {
        try? await client.shutdown()
    }

    private func url(of endpoint: HTTPEndpoint) -> String {
        guard let serverName else { return endpoint.description }
        var named = endpoint
        named.host = serverName
        return named.description
    }
}
