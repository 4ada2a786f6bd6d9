import NIOCore

/// Adds handlers to each connection a listener accepts, before the bootstrap's own child initializer runs.
///
/// It belongs on a listening channel, after a `ConnectionLimiter`: gRPC's transport builds its child pipeline
/// itself, so this is how a handler (a first-bytes timeout, a TLS handler) gets in front of it.
public final class AcceptedChannelInitializer: ChannelInboundHandler {
    public typealias InboundIn = Channel
    public typealias InboundOut = Channel

    private let initialize: @Sendable (Channel) throws -> Void

    /// `initialize` runs on the child's event loop with the child's pipeline still empty.
    public init(_ initialize: @escaping @Sendable (Channel) throws -> Void) {
        self.initialize = initialize
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let initialize = self.initialize
        // The accept handler sets the child up on its loop after this (submitting to it when it is another loop),
        // so a task submitted now runs first.
        if child.eventLoop.inEventLoop {
            do { try initialize(child) } catch { child.close(promise: nil) }
        } else {
            child.eventLoop.execute {
                do { try initialize(child) } catch { child.close(promise: nil) }
            }
        }
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension AcceptedChannelInitializer: Sendable {}

/// Closes a connection that has not sent `bytes` bytes within `timeout`, then steps aside.
///
/// For listeners whose protocol handler has no timeout of its own before its first frame: a gRPC connection that
/// never completes its 24-byte HTTP/2 preface.
public final class FirstBytesTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// The HTTP/2 client connection preface, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
    public static let http2PrefaceLength = 24

    private let timeout: Duration
    private var remaining: Int
    private var timer: Scheduled<Void>?

    public init(bytes: Int, timeout: Duration) {
        self.remaining = bytes
        self.timeout = timeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        remaining -= unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
        if remaining <= 0 {
            timer?.cancel()
            timer = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil, remaining > 0 else { return }
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension FirstBytesTimeoutHandler: Sendable {}
