import NIOCore
import NIOHTTP1
import NIOPosix

/// A response, read whole.
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

/// Why a request got no response.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public let description: String

    static let timeout = HTTPClientError(description: "timed out")
    static let connectionClosed = HTTPClientError(description: "the connection closed before the response was complete")
}

/// One keep-alive HTTP/1.1 connection that carries one request at a time.
final class HTTPConnection: Sendable {
    private let channel: Channel

    private init(channel: Channel) {
        self.channel = channel
    }

    var isActive: Bool { channel.isActive }

    /// Connects, with TLS when `tls` is given (`serverName` for SNI and the certificate check), within `timeout`;
    /// throws `CancellationError` at once if the task is cancelled meanwhile.
    static func connect(
        to endpoint: HTTPEndpoint, tls: ReloadingTLSContext?, serverName: String, timeout: Duration
    ) async throws -> HTTPConnection {
        let connecting = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(timeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(tls.makeClientHandler(serverName: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler())
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
        // A connect cannot be aborted, so a cancelled wait lets go of it and closes the channel if it comes.
        let connected = connecting.eventLoop.makePromise(of: Channel.self)
        connecting.cascade(to: connected)
        let channel = try await withTaskCancellationHandler {
            try await connected.futureResult.get()
        } onCancel: {
            connected.fail(CancellationError())
            connecting.whenSuccess { channel in channel.close(promise: nil) }
        }
        return HTTPConnection(channel: channel)
    }

    /// Sends a request and waits for its whole response, closing the connection on timeout.
    ///
    /// Cancellation closes the connection and throws `CancellationError` at once: a backend that accepted the request
    /// and never answers must not hold a shutdown for the whole request timeout.
    func send(_ head: HTTPRequestHead, body: ByteBuffer, timeout: Duration) async throws -> HTTPClientResponse {
        let promise = channel.eventLoop.makePromise(of: HTTPClientResponse.self)
        let request = PendingRequest(head: head, body: body, promise: promise, timeout: timeout)
        return try await withTaskCancellationHandler {
            channel.writeAndFlush(request).whenFailure { error in promise.fail(error) }
            return try await promise.futureResult.get()
        } onCancel: { [channel] in
            // A promise completes once: whichever comes first, this or the handler's answer, wins.
            promise.fail(CancellationError())
            channel.close(promise: nil)
        }
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// A request on its way into the pipeline, with the promise its response completes.
struct PendingRequest: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    var promise: EventLoopPromise<HTTPClientResponse>
    var timeout: Duration
}

/// Writes one request and collects its response; fails the request if the connection dies or times out.
final class ResponseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: EventLoopPromise<HTTPClientResponse>?
    private var response: HTTPClientResponse?
    private var timeout: Scheduled<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard pending == nil else {
            request.promise.fail(HTTPClientError(description: "a request is already in flight on this connection"))
            return
        }
        pending = request.promise
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: TimeAmount(request.timeout)) {
            let (handler, context) = loopBound.value
            handler.fail(HTTPClientError.timeout)
            context.close(promise: nil)
        }
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if request.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            response = HTTPClientResponse(
                status: head.status, headers: head.headers, body: context.channel.allocator.buffer(capacity: 0))
            if !head.isKeepAlive { keepAlive = false }
        case .body(var chunk):
            response?.body.writeBuffer(&chunk)
        case .end:
            guard let response, let promise = pending else { return }
            self.response = nil
            pending = nil
            timeout?.cancel()
            timeout = nil
            if !keepAlive { context.close(promise: nil) }
            promise.succeed(response)
        }
    }

    private var keepAlive = true

    func channelInactive(context: ChannelHandlerContext) {
        fail(HTTPClientError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        timeout?.cancel()
        timeout = nil
        response = nil
        pending?.fail(error)
        pending = nil
    }
}

extension TimeAmount {
    /// The same span as a Swift `Duration`, to the nanosecond.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
