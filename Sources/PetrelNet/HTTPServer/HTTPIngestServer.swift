import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PetrelCore

/// A request as an ingest handler sees it: the whole body, already read and size-checked.
public struct HTTPIngestRequest: Sendable {
    public var method: HTTPMethod
    /// The path without the query string.
    public var path: String
    /// What follows the `?` of the target, as sent (still percent-encoded); empty when there is none.
    public var query: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer
}

/// The answer to an ingest request.
public struct HTTPIngestResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    /// Bytes, not text: protobuf answers and `google.rpc.Status` bodies are not UTF-8.
    public var body: [UInt8]
    /// A body written as it is produced (chunked) instead of `body`, for as long as it runs (the API's tap).
    public var stream: (@Sendable (inout HTTPBodyStreamWriter) async throws -> Void)?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// An answer whose body `stream` writes, in chunks, until it returns.
    public static func streaming(
        _ status: HTTPResponseStatus, headers: HTTPHeaders = [:],
        _ stream: @escaping @Sendable (inout HTTPBodyStreamWriter) async throws -> Void
    ) -> HTTPIngestResponse {
        var response = HTTPIngestResponse(status: status, headers: headers)
        response.stream = stream
        return response
    }

    /// A plain-text error answer with a one-line reason.
    public static func error(_ status: HTTPResponseStatus, _ reason: String) -> HTTPIngestResponse {
        HTTPIngestResponse(
            status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array((reason + "\n").utf8))
    }
}

/// An HTTP/1.1 server on Hummingbird with keep-alive and pipelining: push sources (remote-write, OTLP/HTTP) and the
/// API run on it.
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
    private let logger: Logger
    private let ingest: HTTPIngestResponder

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
        self.logger = logger
        let maxBodySize = settings.maxBodySize
        let (seconds, attoseconds) = settings.retryAfter.components
        let retryAfter = String(max(1, seconds + (attoseconds > 0 ? 1 : 0)))
        self.ingest = HTTPIngestResponder(
            settings: settings, authenticator: authenticator, openPaths: openPaths, memory: memory,
            tooLarge: tooLarge
                ?? { _ in .error(.payloadTooLarge, "request body exceeds the limit of \(maxBodySize) bytes") },
            busy: busy
                ?? { _ in
                    var response = HTTPIngestResponse.error(
                        .tooManyRequests, "request bodies being read hold the memory limit; retry later")
                    response.headers.add(name: "Retry-After", value: retryAfter)
                    return response
                },
            handler: handler)
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
        let maxConnections = settings.limits.maxConnections
        let (bound, listening) = AsyncStream.makeStream(of: Int.self)
        // Hummingbird logs its own start at info; Petrel's sources log theirs.
        var serverLogger = logger
        serverLogger.logLevel = max(logger.logLevel, .warning)
        let server = Server(
            childChannelSetup: HTTPIngestChannel(settings: settings, tls: tls, responder: ingest.respond),
            configuration: ServerConfiguration(
                address: .hostname(settings.host, port: settings.port), backlog: 256, reuseAddress: true),
            onServerRunning: { channel in
                // Hummingbird's bootstrap takes no handler for its listening channel; this one goes in front of its
                // accept handler before the first connection is awaited.
                try? await channel.eventLoop.submit {
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionLimiter(maxConnections: maxConnections), position: .first)
                }.get()
                listening.yield(channel.localAddress?.port ?? 0)
                listening.finish()
            },
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: serverLogger)
        // Not a child task: cancelling `run` (a shutdown deadline) must not cancel the requests in flight, whose
        // answers (503 when the pipeline did not take a body in time) still have to be written.
        let serving = Task {
            defer { listening.finish() }
            try await server.run()
        }
        var ports = bound.makeAsyncIterator()
        guard let port = await ports.next() else {
            // Cancelled before the server listened, or it stopped (a bind that failed, thrown here).
            try await server.shutdownGracefully()
            try await serving.value
            return
        }
        onListening(port)
        await shutdown.wait()
        // Stops accepting, closes idle connections, lets requests in flight finish and waits for all to close.
        try await server.shutdownGracefully()
        try await serving.value
    }
}

/// A connection of an `HTTPIngestServer`: TLS first (its context re-read per connection), then Hummingbird's HTTP/1.1
/// channel with Petrel's deadlines between NIO's codec and Hummingbird's.
struct HTTPIngestChannel: HTTPChannelHandler {
    let settings: HTTPServerSettings
    let tls: ReloadingTLSContext?
    let responder: HTTPChannelHandler.Responder
    private let http: HTTP1Channel

    init(settings: HTTPServerSettings, tls: ReloadingTLSContext?, responder: @escaping HTTPChannelHandler.Responder) {
        self.settings = settings
        self.tls = tls
        self.responder = responder
        self.http = HTTP1Channel(responder: responder)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        let limits = settings.limits
        do {
            try channel.syncOptions?.setOption(.maxMessagesPerRead, value: 16)
            try channel.syncOptions?.setOption(.socketOption(.tcp_nodelay), value: 1)
            if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeServerHandler()) }
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return http.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTPConnectionDeadlineHandler(limits: limits), position: .after(decoder))
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}
