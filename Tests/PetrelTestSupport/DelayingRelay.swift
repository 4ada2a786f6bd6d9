import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay inside a network namespace that holds every chunk for `delay` before passing it on and now and then
/// resets a connection: the stand-in for `tc netem` latency and loss on kernels without `sch_netem`.
///
/// It listens on 127.0.0.1:`listenPort` in `namespace` and connects, from the same namespace, to `target`, so the
/// relayed traffic crosses the namespace's link as the direct traffic would. Each connection is reset (both sides
/// see a broken connection) with probability `resetsPerConnectionMinute` per minute it has been open, checked at
/// every chunk: where netem drops packets, TCP retransmits and the sender only sees delay, so lost packets show up to
/// an application as stalls and, on a bad link, as connections that break; the resets stand for the latter.
public final class DelayingRelay: Sendable {
    public let namespace: String
    public let listenPort: Int
    public let target: (host: String, port: Int)
    public let delay: Duration
    public let resetsPerConnectionMinute: Double
    private let listener = Mutex<Int32>(-1)
    private let connections = Mutex<[RelayedConnection]>([])
    private let resetCount = Atomic<Int>(0)
    private let answerLossCount = Atomic<Int>(0)

    public init(
        namespace: String, listenPort: Int, target: (host: String, port: Int), delay: Duration,
        resetsPerConnectionMinute: Double
    ) {
        self.namespace = namespace
        self.listenPort = listenPort
        self.target = target
        self.delay = delay
        self.resetsPerConnectionMinute = resetsPerConnectionMinute
    }

    /// Connections accepted so far.
    public var connectionCount: Int { connections.withLock { $0.count } }

    /// Connections the relay reset so far.
    public var resets: Int { resetCount.load(ordering: .relaxed) }

    /// Connections whose reset threw away bytes the target had sent back (an answer the client never got): the
    /// request reached the target, and the client, seeing no answer, may rightly send it again.
    public var answersLost: Int { answerLossCount.load(ordering: .relaxed) }

    /// Binds and starts accepting on a thread of its own in the namespace.
    public func start() async throws {
        let bound: Bool = await inNetworkNamespace(namespace) { [self] in
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(listenPort).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard result == 0, listen(descriptor, 64) == 0 else {
                close(descriptor)
                return false
            }
            listener.withLock { $0 = descriptor }
            return true
        }
        guard bound else { throw TestSupportError("the relay could not listen on port \(listenPort)") }
        let thread = Thread { [self] in
            enterNetworkNamespace(namespace)
            acceptLoop()
        }
        thread.start()
    }

    private func acceptLoop() {
        let descriptor = listener.withLock { $0 }
        while true {
            let client = accept(descriptor, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            // Outgoing sockets are made on this thread, so they live in the namespace too.
            guard let upstream = connectTCP(host: target.host, port: target.port) else {
                close(client)
                continue
            }
            let connection = RelayedConnection(client: client, upstream: upstream)
            connections.withLock { $0.append(connection) }
            pump(connection, from: client, to: upstream, answers: false)
            pump(connection, from: upstream, to: client, answers: true)
        }
    }

    /// Reads from one side on a thread of its own and writes each chunk to the other side `delay` later, in order.
    /// `answers` is the direction from the target back to the client.
    private func pump(_ connection: RelayedConnection, from source: Int32, to destination: Int32, answers: Bool) {
        let writer = DispatchQueue(label: "petrel.relay.writer")
        let delay = self.delay
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            var checked = ContinuousClock.now
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                let bytes = Array(chunk[0..<count])
                writer.asyncAfter(deadline: .now() + delay.timeInterval) { [self] in
                    guard !sendAll(destination, bytes) else { return }
                    connection.reset()
                    if answers, connection.loseAnswer() { answerLossCount.add(1, ordering: .relaxed) }
                }
                let now = ContinuousClock.now
                let minutes = (now - checked).timeInterval / 60
                checked = now
                if Double.random(in: 0..<1) < resetsPerConnectionMinute * minutes {
                    resetCount.add(1, ordering: .relaxed)
                    connection.reset()
                }
            }
            writer.asyncAfter(deadline: .now() + delay.timeInterval) {
                shutdown(destination, Int32(SHUT_WR))
                connection.directionEnded()
            }
        }
        thread.start()
    }

    /// Stops accepting and resets every connection.
    public func stop() {
        let descriptor = listener.withLock { descriptor in
            defer { descriptor = -1 }
            return descriptor
        }
        if descriptor >= 0 {
            shutdown(descriptor, Int32(SHUT_RDWR))
            close(descriptor)
        }
        for connection in connections.withLock({ $0 }) { connection.reset() }
    }
}

/// Both sockets of one relayed connection, closed once both directions ended.
private final class RelayedConnection: Sendable {
    let client: Int32
    let upstream: Int32
    /// Directions ended, whether the sockets are closed (then `reset` must not touch their numbers, reused), and
    /// whether answer bytes were thrown away.
    private let state = Mutex<(ended: Int, closed: Bool, lostAnswer: Bool)>((0, false, false))

    init(client: Int32, upstream: Int32) {
        self.client = client
        self.upstream = upstream
    }

    /// Breaks the connection both ways: closing with a zero linger sends a reset once the pumps let go.
    func reset() {
        state.withLock { state in
            guard !state.closed else { return }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            for descriptor in [client, upstream] {
                setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                shutdown(descriptor, Int32(SHUT_RDWR))
            }
        }
    }

    /// Notes that answer bytes were thrown away; true the first time.
    func loseAnswer() -> Bool {
        state.withLock { state in
            defer { state.lostAnswer = true }
            return !state.lostAnswer
        }
    }

    func directionEnded() {
        state.withLock { state in
            state.ended += 1
            guard state.ended == 2 else { return }
            state.closed = true
            close(client)
            close(upstream)
        }
    }
}

extension Duration {
    /// The duration in seconds, as Dispatch and Foundation take it.
    var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
