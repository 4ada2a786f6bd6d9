import NIOCore
import NIOHTTP1
import NIOPosix
import PetrelCore

/// An OTLP/HTTP answer. Its body is bytes: protobuf responses and `google.rpc.Status` bodies hold varints that are
/// not UTF-8, which the `String` body of `HTTPIngestResponse` cannot carry.
struct OTLPHTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: [UInt8]

    /// A plain-text answer with a one-line reason.
    static func text(_ status: HTTPResponseStatus, _ reason: String) -> OTLPHTTPResponse {
        OTLPHTTPResponse(
            status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array((reason + "\n").utf8))
    }
}

/// `HTTPIngestServer` for answers with byte bodies: the same bounded bodies (413 past `maxBodySize`, checked against
/// `Content-Length` first), keep-alive and drain on shutdown, sharing its `ConnectionTracker`.
///
/// It exists only because `HTTPIngestResponse.body` is a `String`; once that carries bytes, this file goes and the
/// source runs an `HTTPIngestServer`.
final class OTLPHTTPServer: Sendable {
    typealias Handler = @Sendable (HTTPIngestRequest) async -> OTLPHTTPResponse
    /// Answers a request whose body is over the limit, given its headers.
    typealias TooLarge = @Sendable (HTTPHeaders) -> OTLPHTTPResponse

    let host: String
    let port: Int
    let maxBodySize: Int
    private let handler: Handler
    private let tooLarge: TooLarge
    private let connections = ConnectionTracker()

    init(
        host: String, port: Int, maxBodySize: Int, tooLarge: @escaping TooLarge, handler: @escaping Handler
    ) {
        self.host = host
        self.port = port
        self.maxBodySize = maxBodySize
        self.tooLarge = tooLarge
        self.handler = handler
    }

    /// Serves until `shutdown` fires (or the task is cancelled), then drains; `onListening` gets the bound port.
    func run(shutdown: ShutdownSignal, onListening: @Sendable (Int) -> Void) async throws {
        let handler = self.handler
        let tooLarge = self.tooLarge
        let maxBodySize = self.maxBodySize
        let connections = self.connections
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        OTLPHTTPChannelHandler(
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

/// Reads one request's body (bounded), runs the handler, writes the answer; one request at a time.
final class OTLPHTTPChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
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
    private let handler: OTLPHTTPServer.Handler
    private let tooLarge: OTLPHTTPServer.TooLarge
    private var state = State.idle

    init(
        maxBodySize: Int, connections: ConnectionTracker, tooLarge: @escaping OTLPHTTPServer.TooLarge,
        handler: @escaping OTLPHTTPServer.Handler
    ) {
        self.maxBodySize = maxBodySize
        self.connections = connections
        self.tooLarge = tooLarge
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
            let length = head.headers.first(name: "Content-Length").flatMap(Int.init)
            if let length, length > maxBodySize {
                state = .discarding(head)
            } else {
                var body = context.channel.allocator.buffer(capacity: 0)
                if let length { body.reserveCapacity(length) }
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
            let response = tooLarge(head.headers)
            write(response, for: head, keepAlive: false, context: context)
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
        let promise = context.eventLoop.makePromise(of: OTLPHTTPResponse.self)
        promise.completeWithTask { await handler(request) }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess { response in
            let (handler, context) = loopBound.value
            handler.write(response, for: head, keepAlive: head.isKeepAlive, context: context)
        }
    }

    private func write(
        _ response: OTLPHTTPResponse, for head: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext
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
