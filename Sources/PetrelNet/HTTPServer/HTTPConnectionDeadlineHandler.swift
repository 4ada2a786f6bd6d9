import NIOCore
import NIOHTTP1

/// Closes an HTTP/1.1 connection whose client takes too long, and one whose answer says it closes.
///
/// Hummingbird has one idle timeout for every phase of a connection; Petrel's listeners give the first request head,
/// a stalled body and the wait between requests each their own (`HTTPListenerLimits`), and an HTTP/1.0 client
/// without keep-alive gets its answer in its own version with `Connection: close`, which Hummingbird's HTTP-types
/// codec cannot tell (it drops the version). It sits between NIO's HTTP/1.1 codec and Hummingbird's, so it sees each
/// request part as it is decoded and each answer as it is encoded. An answer with `Connection: close` (a refusal before
/// the body is read, a client without keep-alive, a malformed request) half-closes the connection once written, so
/// that the client reads the answer instead of a reset, drops what the client still sends, and closes it outright
/// after `linger`.
final class HTTPConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// How long a closing connection drains what its client still sends before it is closed outright.
    static let linger: Duration = .seconds(2)

    private struct Unanswered {
        var version: HTTPVersion
        var keepAlive: Bool
    }

    private let limits: HTTPListenerLimits
    /// Requests whose head arrived and whose answer is not written yet, oldest first (pipelined ones queue here).
    private var unanswered = CircularBuffer<Unanswered>()
    /// The newest request's body is still arriving.
    private var readingBody = false
    /// An answer was written: the wait for the next head is `idle_timeout`, no longer `request_header_timeout`.
    private var answeredOne = false
    /// The answer being written closes the connection.
    private var closesAfterAnswer = false
    /// The connection is closing: what arrives is dropped until the client stops or the linger ends.
    private var closing = false
    /// The server is shutting down: deadlines no longer move later, so a body trickling in cannot hold it up.
    private var draining = false
    private var deadline = NIODeadline.distantFuture
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?

    init(limits: HTTPListenerLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { rearm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        rearm(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.task.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.task.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { draining = true }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            unanswered.append(Unanswered(version: head.version, keepAlive: head.isKeepAlive))
            readingBody = true
        case .body:
            break
        case .end:
            readingBody = false
        }
        rearm(context)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            // Hummingbird writes every answer as HTTP/1.1; an HTTP/1.0 client gets its own version back.
            let request = unanswered.first ?? Unanswered(version: .http1_1, keepAlive: true)
            head.version = request.version
            if !request.keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
            closesAfterAnswer = !head.isKeepAlive
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            if !unanswered.isEmpty { unanswered.removeFirst() }
            answeredOne = true
            guard closesAfterAnswer else {
                context.write(data, promise: promise)
                rearm(context)
                return
            }
            closing = true
            let written = context.channel.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            context.write(data, promise: written)
            let channel = context.channel
            // Half-close: closing outright with the client's body still arriving would reset the connection and could
            // lose the answer. A second half-close (Hummingbird's own after a request that said close) fails harmlessly.
            written.futureResult.whenSuccess { channel.close(mode: .output, promise: nil) }
            expire(in: Self.linger, context, force: true)
        }
    }

    /// Sets the deadline the connection's state calls for.
    private func rearm(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        if readingBody {
            // Only the oldest unanswered request is being read for; a pipelined body behind it waits for the server.
            expire(in: unanswered.count == 1 ? limits.requestBodyTimeout : nil, context)
        } else if unanswered.isEmpty {
            expire(in: answeredOne ? limits.idleTimeout : limits.requestHeaderTimeout, context)
        } else {
            // The handler has the request and bounds its own wait.
            expire(in: nil, context)
        }
    }

    /// Closes the connection `duration` from now unless another call moves the deadline first; `nil` for never.
    ///
    /// One timer serves every phase: moving the deadline later costs nothing, as the timer re-arms itself when it
    /// fires early; only an earlier deadline reschedules it.
    private func expire(in duration: Duration?, _ context: ChannelHandlerContext, force: Bool = false) {
        guard let duration else {
            deadline = .distantFuture
            return
        }
        let next = NIODeadline.now() + TimeAmount(duration)
        if !force && draining && deadline != .distantFuture && next > deadline { return }
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

@available(*, unavailable)
extension HTTPConnectionDeadlineHandler: Sendable {}
