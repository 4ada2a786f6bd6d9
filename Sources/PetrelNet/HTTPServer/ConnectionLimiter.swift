import NIOCore
import Synchronization

/// Refuses connections past a count as they are accepted, so idle sockets cannot use up file descriptors.
///
/// It belongs on a listening channel (a `serverChannelInitializer`, or gRPC's `onBindTCPListener`): there it sees
/// each accepted child `Channel` before the bootstrap's accept handler, and closes one over the limit instead of
/// passing it on.
public final class ConnectionLimiter: ChannelInboundHandler {
    public typealias InboundIn = Channel
    public typealias InboundOut = Channel

    private let open: OpenConnections

    public init(maxConnections: Int) {
        self.open = OpenConnections(limit: maxConnections)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        guard open.enter() else {
            child.close(promise: nil)
            return
        }
        let open = self.open
        child.closeFuture.whenComplete { _ in open.leave() }
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension ConnectionLimiter: Sendable {}

/// The count of a listener's open connections; children close on their own event loops.
private final class OpenConnections: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    func enter() -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func leave() {
        count.subtract(1, ordering: .relaxed)
    }
}
