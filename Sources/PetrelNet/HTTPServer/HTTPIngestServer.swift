import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PetrelCore
import Synchronization

/// A request as an ingest handler sees it: the whole body, already read and size-checked.
public struct HTTPIngestRequest: Sendable {
    public var method: HTTPMethod
    /// The path without the query string.
    public var path: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer
}

/// The answer to an ingest request.
public struct HTTPIngestResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    /// Bytes, not text: protobuf answers and `google.rpc.Status` bodies are not UTF-8.
    public var body: [UInt8]

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text error answer with a one-line reason.
    public static func error(_ status: HTTPResponseStatus, _ reason: String) -> HTTPIngestResponse {
        HTTPIngestResponse(
            status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array((reason + "\n").utf8))
    }
}

/// An HTTP/1.1 server with keep-alive and pipelining: push sources (remote-write, OTLP/HTTP) and the API run on it.
///
/// Bodies are read whole, up to `maxBodySize` (413 past it, at once when `Content-Length` says so), counted against
/// the pipeline's memory limit while they are read (429 when it is held), then handed to an async handler. The
/// limits of `HTTPListenerLimits` bound connections and time. On shutdown it stops accepting connections, lets
/// requests in flight finish and closes the rest.
public final class HTTPIngestServer: Sendable {
    public typealias Handler = @Sendable (HTTPIngestRequest) async -> HTTPIngestResponse
    /// Answers a request refused before its body is read, given its headers (OTLP wants a `Status` body there).
    public typealias Refusal = @Sendable (HTTPHeaders) -> HTTPIngestResponse
    /// The answer to a body over the size limit (413).
    public typealias TooLarge = Refusal

    public let settings: HTTPServerSettings
    private let tls: ReloadingTLSContext?
    private let authenticator: SourceAuthenticator?
    private let openPaths: Set<String>
    private let memory: MemoryLimit?
    private let handler: Handler
    private let tooLarge: TooLarge
    private let busy: Refusal
    private let logger: Logger
    private let connections = ConnectionTracker()

    public var host: String { settings.host }
    public var port: Int { settings.port }
    public var maxBodySize: Int { settings.maxBodySize }

    /// With `tls` every connection speaks TLS (mutual TLS as its settings say); with `authenticator` a request without
    /// valid credentials is answered 401 before its body is read. `memory` is the pipeline's limit, which bodies being
    /// read count against; `nil` for none. `busy` answers a body refused for memory (429); by default in plain text
    /// with `Retry-After`. Requests for `openPaths` need no credentials.
    public init(
        settings: HTTPServerSettings, tls: ReloadingTLSContext? = nil, authenticator: SourceAuthenticator? = nil,
        openPaths: Set<String> = [], memory: MemoryLimit? = nil, logger: Logger, tooLarge: TooLarge? = nil,
        busy: Refusal? = nil,
        handler: @escaping Handler
    ) {
        self.settings = settings
        self.tls = tls
        self.authenticator = authenticator
        self.openPaths = openPaths
        self.memory = memory
        self.logger = logger
        let maxBodySize = settings.maxBodySize
        self.tooLarge =
            tooLarge ?? { _ in .error(.payloadTooLarge, "request body exceeds the limit of \(maxBodySize) bytes") }
        let (seconds, attoseconds) = settings.retryAfter.components
        let retryAfter = String(max(1, seconds + (attoseconds > 0 ? 1 : 0)))
        self.busy =
            busy ?? { _ in
                var response = HTTPIngestResponse.error(
                    .tooManyRequests, "request bodies being read hold the memory limit; retry later")
                response.headers.add(name: "Retry-After", value: retryAfter)
                return response
            }
        self.handler = handler
    }

    /// A server with the default limits and no memory limit (test receivers, tools).
    public convenience init(
        host: String, port: Int, maxBodySize: Int, logger: Logger, tooLarge: TooLarge? = nil,
        handler: @escaping Handler
    ) {
        self.init(
            settings: HTTPServerSettings(host: host, port: port, maxBodySize: maxBodySize), logger: logger,
            tooLarge: tooLarge, handler: handler)
    }

    /// Serves until `shutdown` fires, then drains; `onListening` gets the bound port.
    public func run(shutdown: ShutdownSignal, onListening: @Sendable (Int) -> Void) async throws {
        let connections = self.connections
        let maxConnections = settings.limits.maxConnections
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionLimiter(maxConnections: maxConnections))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.opened(channel) else {
                        channel.close(promise: nil)
                        return
                    }
                    try configureConnection(channel)
                }
            }
            .bind(host: settings.host, port: settings.port)
            .get()
        onListening(channel.localAddress?.port ?? settings.port)
        await shutdown.wait()
        try? await channel.close()
        await connections.quiesce()
    }

    /// The one place a connection's pipeline is built: TLS first, HTTP/1.1 codec, pipelining, the answer to malformed
    /// requests, the credentials check, then the request handler.
    private func configureConnection(_ channel: Channel) throws {
        let pipeline = channel.pipeline.syncOperations
        if let tls { try pipeline.addHandler(tls.makeServerHandler()) }
        try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
        if let authenticator {
            try pipeline.addHandler(HTTPAuthHandler(authenticator: authenticator, openPaths: openPaths))
        }
        try pipeline.addHandler(
            HTTPIngestHandler(
                settings: settings, memory: memory, tooLarge: tooLarge, busy: busy, handler: handler, logger: logger
            ))
    }
}

/// Knows every open connection, to close them on shutdown once their requests are answered.
final class ConnectionTracker: Sendable {
    private struct State {
        var quiescing = false
        var open: [ObjectIdentifier: Channel] = [:]
        var drained: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// A connection was accepted; returns false when the server is shutting down and it should close.
    func opened(_ channel: Channel) -> Bool {
        let accepted = state.withLock { state in
            if state.quiescing { return false }
            state.open[ObjectIdentifier(channel)] = channel
            return true
        }
        if accepted {
            channel.closeFuture.whenComplete { [self] _ in closed(channel) }
        }
        return accepted
    }

    private func closed(_ channel: Channel) {
        let drained = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.open.removeValue(forKey: ObjectIdentifier(channel))
            guard state.quiescing, state.open.isEmpty else { return nil }
            defer { state.drained = nil }
            return state.drained
        }
        drained?.resume()
    }

    /// Asks every connection to close once its request in flight is answered, and waits until all are closed.
    ///
    /// An idle connection closes at once; one mid-request closes after its answer (`Connection: close`), or when a
    /// timeout ends it (a body still arriving gets no more than `request_body_timeout` from its last chunk); one
    /// whose client went away is already gone, whatever state its request was in.
    func quiesce() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLock { state -> [Channel] in
                state.quiescing = true
                if !state.open.isEmpty { state.drained = continuation }
                return Array(state.open.values)
            }
            if open.isEmpty { continuation.resume() }
            for channel in open {
                channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
                channel.pipeline.fireUserInboundEventTriggered(ServerDrainingEvent())
            }
        }
    }
}
