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

/// An HTTP/1.1 server with keep-alive for sources that receive pushed data (remote-write, OTLP/HTTP).
///
/// Bodies are read whole, up to `maxBodySize` (413 past it, checked against `Content-Length` before
/// any byte is read), then handed to an async handler. On shutdown it stops accepting connections,
/// lets requests in flight finish and closes idle keep-alive connections.
public final class HTTPIngestServer: Sendable {
    public typealias Handler = @Sendable (HTTPIngestRequest) async -> HTTPIngestResponse
    /// Answers a request whose body is over the limit, given its headers (OTLP wants a `Status` body there).
    public typealias TooLarge = @Sendable (HTTPHeaders) -> HTTPIngestResponse

    public let host: String
    public let port: Int
    public let maxBodySize: Int
    private let handler: Handler
    private let tooLarge: TooLarge
    private let logger: Logger
    private let tls: ReloadingTLSContext?
    private let authenticator: SourceAuthenticator?
    private let connections = ConnectionTracker()

    /// With `tls` every connection speaks TLS (mutual TLS as its settings say); with `authenticator` a request
    /// without valid credentials is answered 401 before its body is read.
    public init(
        host: String, port: Int, maxBodySize: Int, logger: Logger, tls: ReloadingTLSContext? = nil,
        authenticator: SourceAuthenticator? = nil, tooLarge: TooLarge? = nil, handler: @escaping Handler
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.authenticator = authenticator
        self.maxBodySize = maxBodySize
        self.logger = logger
        self.tooLarge =
            tooLarge ?? { _ in .error(.payloadTooLarge, "request body exceeds the limit of \(maxBodySize) bytes") }
        self.handler = handler
    }

    /// Serves until `shutdown` fires, then drains; `onListening` gets the bound port.
    public func run(shutdown: ShutdownSignal, onListening: @Sendable (Int) -> Void) async throws {
        let handler = self.handler
        let tooLarge = self.tooLarge
        let maxBodySize = self.maxBodySize
        let connections = self.connections
        let tls = self.tls
        let authenticator = self.authenticator
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeServerHandler()) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    if let authenticator {
                        try channel.pipeline.syncOperations.addHandler(HTTPAuthHandler(authenticator: authenticator))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        IngestHandler(
                            maxBodySize: maxBodySize, connections: connections, tooLarge: tooLarge, handler: handler))
                }
            }
            .bind(host: host, port: port)
            .get()
        onListening(channel.localAddress?.port ?? port)
        await shutdown.wait()
        try? await channel.close()
        await connections.quiesce()
    }
}

/// Knows every open connection and how many requests are in flight, to drain on shutdown.
final class ConnectionTracker: Sendable {
    private struct State {
        var quiescing = false
        var idle: [ObjectIdentifier: Channel] = [:]
        var busy = 0
        var drained: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// A connection opened or finished a request; returns whether it should close now.
    func idle(_ channel: Channel) -> Bool {
        state.withLock { state in
            if state.quiescing { return true }
            state.idle[ObjectIdentifier(channel)] = channel
            return false
        }
    }

    func closed(_ channel: Channel) {
        state.withLock { _ = $0.idle.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func requestStarted(_ channel: Channel) {
        state.withLock { state in
            state.idle.removeValue(forKey: ObjectIdentifier(channel))
            state.busy += 1
        }
    }

    func requestFinished() {
        let drained = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.busy -= 1
            guard state.quiescing, state.busy == 0 else { return nil }
            defer { state.drained = nil }
            return state.drained
        }
        drained?.resume()
    }

    /// Closes idle connections and waits for requests in flight to be answered.
    func quiesce() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (idle, done) = state.withLock { state -> ([Channel], Bool) in
                state.quiescing = true
                let idle = Array(state.idle.values)
                state.idle = [:]
                if state.busy == 0 { return (idle, true) }
                state.drained = continuation
                return (idle, false)
            }
            for channel in idle { channel.close(promise: nil) }
            if done { continuation.resume() }
        }
    }
}

/// Reads one request's body (bounded), runs the handler, writes the answer; one request at a time.
final class IngestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case reading(HTTPRequestHead, ByteBuffer)
        /// The body is too large: its remaining parts are ignored and the connection closes after the answer.
        case discarding(HTTPRequestHead)
        case handling
    }

    private let maxBodySize: Int
    private let connections: ConnectionTracker
    private let handler: HTTPIngestServer.Handler
    private let tooLarge: HTTPIngestServer.TooLarge
    private var state = State.idle

    init(
        maxBodySize: Int, connections: ConnectionTracker, tooLarge: @escaping HTTPIngestServer.TooLarge,
        handler: @escaping HTTPIngestServer.Handler
    ) {
        self.maxBodySize = maxBodySize
        self.tooLarge = tooLarge
        self.connections = connections
        self.handler = handler
    }

    func channelActive(context: ChannelHandlerContext) {
        if connections.idle(context.channel) { context.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connections.closed(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            connections.requestStarted(context.channel)
            if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > maxBodySize {
                state = .discarding(head)
            } else {
                var body = context.channel.allocator.buffer(capacity: 0)
                if let length = head.headers.first(name: "Content-Length").flatMap(Int.init) {
                    body.reserveCapacity(length)
                }
                state = .reading(head, body)
            }
        case (.body(var chunk), .reading(let head, var body)):
            if body.readableBytes + chunk.readableBytes > maxBodySize {
                state = .discarding(head)
            } else {
                state = .handling  // Drops the reference held by `state` so the append does not copy.
                body.writeBuffer(&chunk)
                state = .reading(head, body)
            }
        case (.body, .discarding):
            break
        case (.end, .reading(let head, let body)):
            state = .handling
            handle(head: head, body: body, context: context)
        case (.end, .discarding(let head)):
            state = .handling
            write(tooLarge(head.headers), for: head, keepAlive: false, context: context)
        default:
            // The HTTP decoder guarantees head, body*, end; anything else is a broken connection.
            context.close(promise: nil)
        }
    }

    private func handle(head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let path =
            head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
            ?? head.uri
        let request = HTTPIngestRequest(method: head.method, path: path, headers: head.headers, body: body)
        let handler = self.handler
        let promise = context.eventLoop.makePromise(of: HTTPIngestResponse.self)
        promise.completeWithTask { await handler(request) }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess { response in
            let (handler, context) = loopBound.value
            handler.write(response, for: head, keepAlive: head.isKeepAlive, context: context)
        }
    }

    private func write(
        _ response: HTTPIngestResponse, for head: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext
    ) {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let responseHead = HTTPResponseHead(version: head.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if !response.body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))),
                promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        state = .idle
        let connections = self.connections
        let channel = context.channel
        written.whenComplete { _ in
            connections.requestFinished()
            if !keepAlive || connections.idle(channel) { channel.close(promise: nil) }
        }
    }
}
