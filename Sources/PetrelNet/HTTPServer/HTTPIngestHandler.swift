import Logging
import NIOCore
import NIOHTTP1
import PetrelCore

/// One connection's requests, one at a time: reads a body (bounded in size, time and memory), runs the handler and
/// writes its answer, or refuses the request early and closes.
///
/// `HTTPServerPipelineHandler` sits in front of it and holds pipelined requests back until the answer before them is
/// written, so answers go out in order.
final class HTTPIngestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        /// Waiting for a request head: the first one (`request_header_timeout`) or the next (`idle_timeout`).
        case awaitingHead
        /// Reading a body; each chunk restarts `request_body_timeout`.
        case readingBody
        /// The handler has the request; no timeout (the handler bounds its own wait).
        case handling
        /// Answered before the body was read (413, 429): what the client still sends is dropped until it stops or
        /// the linger ends, so that it reads the answer instead of a reset.
        case refused
    }

    /// How long a refused connection drains what its client still sends before it is closed outright.
    static let linger: Duration = .seconds(2)

    private let settings: HTTPServerSettings
    private let memory: MemoryLimit?
    private let tooLarge: HTTPIngestServer.TooLarge
    private let busy: HTTPIngestServer.Refusal
    private let handler: HTTPIngestServer.Handler
    private let logger: Logger

    private var phase = Phase.awaitingHead
    private var head: HTTPRequestHead?
    /// The body read so far; a stored property of its own, so that appending never copies it. (Kept in the state
    /// enum, every chunk copied the whole buffer; past 16MiB its 32MiB power-of-two capacity is mmapped afresh by
    /// glibc on each copy, and a 16.8MiB body cost 13 times the CPU of a 15.3MiB one.)
    private var body = ByteBuffer()
    /// Bytes of `body` counted against `memory`.
    private var reserved = 0
    /// The server is shutting down: deadlines no longer move later, so a body trickling in cannot hold it up.
    private var draining = false
    private var deadline = NIODeadline.distantFuture
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?

    init(
        settings: HTTPServerSettings, memory: MemoryLimit?, tooLarge: @escaping HTTPIngestServer.TooLarge,
        busy: @escaping HTTPIngestServer.Refusal, handler: @escaping HTTPIngestServer.Handler, logger: Logger
    ) {
        self.settings = settings
        self.memory = memory
        self.tooLarge = tooLarge
        self.busy = busy
        self.handler = handler
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { expire(in: settings.limits.requestHeaderTimeout, context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        expire(in: settings.limits.requestHeaderTimeout, context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseBody()
        timer?.task.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releaseBody()
        timer?.task.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ServerDrainingEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        draining = true
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A malformed request was answered 400 by `HTTPServerProtocolErrorHandler`; the connection cannot go on.
        if !(error is HTTPParserError) {
            logger.debug("closing an HTTP connection", metadata: ["error": "\(error)"])
        }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), phase) {
        case (.head(let head), .awaitingHead):
            received(head, context)
        case (.body(let chunk), .readingBody):
            received(chunk, context)
        case (.end, .readingBody):
            phase = .handling
            expire(in: nil, context)
            let body = self.body
            self.body = ByteBuffer()
            releaseBody()
            handle(head: head!, body: body, context: context)
        case (_, .refused):
            break
        default:
            // The HTTP decoder guarantees head, body*, end; anything else is a broken connection.
            context.close(promise: nil)
        }
    }

    private func received(_ head: HTTPRequestHead, _ context: ChannelHandlerContext) {
        self.head = head
        // A declared length over the limit is refused before a byte of the body is read; no memory is set aside
        // for a declared length either: a body counts as its bytes arrive.
        if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > settings.maxBodySize {
            refuse(tooLarge(head.headers), context)
            return
        }
        phase = .readingBody
        body = context.channel.allocator.buffer(capacity: 0)
        expire(in: settings.limits.requestBodyTimeout, context)
    }

    private func received(_ chunk: ByteBuffer, _ context: ChannelHandlerContext) {
        let size = chunk.readableBytes
        guard body.readableBytes + size <= settings.maxBodySize else {
            // A chunked body is cut off at the limit as it arrives.
            refuse(tooLarge(head!.headers), context)
            return
        }
        if let memory {
            guard memory.reserve(size, holding: reserved) else {
                refuse(busy(head!.headers), context)
                return
            }
            reserved += size
        }
        var chunk = chunk
        body.writeBuffer(&chunk)
        expire(in: settings.limits.requestBodyTimeout, context)
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
            guard context.channel.isActive else { return }
            handler.answer(response, to: head, context: context)
        }
    }

    /// Writes a handler's answer and gets ready for the next request.
    private func answer(_ response: HTTPIngestResponse, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let keepAlive = head.isKeepAlive
        // Ready before the answer's end is written: the pipelining handler passes the next request on right then.
        phase = .awaitingHead
        self.head = nil
        expire(in: settings.limits.idleTimeout, context)
        let written = write(response, to: head, keepAlive: keepAlive, context: context)
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Answers before the body is read, then stops reading requests on this connection.
    private func refuse(_ response: HTTPIngestResponse, _ context: ChannelHandlerContext) {
        phase = .refused
        body = ByteBuffer()
        releaseBody()
        expire(in: Self.linger, context)
        let channel = context.channel
        write(response, to: head!, keepAlive: false, context: context).whenComplete { _ in
            // Half-close: the client reads the answer and its end; closing outright with its body still arriving
            // would reset the connection and could lose the answer.
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
    }

    @discardableResult
    private func write(
        _ response: HTTPIngestResponse, to head: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext
    ) -> EventLoopFuture<Void> {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let responseHead = HTTPResponseHead(version: head.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if !response.body.isEmpty && head.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))),
                promise: nil)
        }
        return context.writeAndFlush(wrapOutboundOut(.end(nil)))
    }

    private func releaseBody() {
        guard reserved > 0 else { return }
        memory?.add(-reserved)
        reserved = 0
    }

    /// Closes the connection `duration` from now unless another call moves the deadline first; `nil` for never.
    ///
    /// One timer serves every phase: moving the deadline later costs nothing, as the timer re-arms itself when it
    /// fires early; only an earlier deadline reschedules it.
    private func expire(in duration: Duration?, _ context: ChannelHandlerContext) {
        guard let duration else {
            deadline = .distantFuture
            return
        }
        let next = NIODeadline.now() + TimeAmount(duration)
        if draining && deadline != .distantFuture && next > deadline { return }
        deadline = next
        if let timer, timer.at <= deadline { return }
        timer?.task.cancel()
        schedule(at: deadline, context)
    }

    private func schedule(at when: NIODeadline, _ context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: when) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            if handler.deadline <= .now() {
                context.close(promise: nil)
            } else if handler.deadline != .distantFuture {
                handler.schedule(at: handler.deadline, context)
            }
        }
        timer = (task, when)
    }
}

/// Tells a connection's handler that the server is shutting down (after `ChannelShouldQuiesceEvent`, which
/// `HTTPServerPipelineHandler` acts on and does not pass along).
struct ServerDrainingEvent {}
