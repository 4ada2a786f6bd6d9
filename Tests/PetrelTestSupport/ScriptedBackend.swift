import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP backend on a loopback port that does what the test says with each request: answers 204, holds it
/// without ever answering, or resets the connection; and that can die with requests in flight, as a backend does
/// when its process or host goes away.
///
/// Blocking sockets, one thread per connection: Swift's cooperative pool is never held. Its threads keep it alive
/// until `stop()`, which every test that starts one calls.
public final class ScriptedBackend: Sendable {
    /// What the backend does with each request it has read whole.
    public enum Behaviour: Sendable {
        /// `204 No Content`, keeping the connection.
        case answer
        /// Nothing, ever: the connection stays open until the client or `stop()` closes it.
        case hold
        /// Resets the connection (RST) without answering.
        case reset
    }

    private struct State {
        var behaviour: Behaviour
        var listener: Int32 = -1
        var connections: Set<Int32> = []
        var received = 0
        var held = 0
        var stopped = false
    }

    public let port: Int
    private let state: Mutex<State>
    private let threads = DispatchGroup()

    /// Listens on `port` of 127.0.0.1 at once.
    public init(port: Int = freePort(), behaviour: Behaviour) throws {
        self.port = port
        self.state = Mutex(State(behaviour: behaviour))
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestSupportError("socket() failed: errno \(errno)") }
        var reuse: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw TestSupportError("cannot listen on 127.0.0.1:\(port): errno \(errno)")
        }
        state.withLock { $0.listener = listener }
        spawn { self.acceptLoop(listener) }
    }

    /// `http://127.0.0.1:port/api/v1/write`.
    public var writeURL: String { "http://127.0.0.1:\(port)/api/v1/write" }

    /// What it does with the next requests.
    public var behaviour: Behaviour {
        get { state.withLock { $0.behaviour } }
        set { state.withLock { $0.behaviour = newValue } }
    }

    /// Requests read whole so far.
    public var requestsReceived: Int { state.withLock { $0.received } }

    /// Requests it is holding unanswered on open connections.
    public var requestsHeld: Int { state.withLock { $0.held } }

    /// Waits until `condition` holds, checking every 20 ms, for at most `timeout`; returns whether it held.
    public func wait(
        for timeout: Duration = .seconds(30), until condition: @Sendable (ScriptedBackend) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }

    /// Dies: stops listening (new connections are refused) and closes every connection, answering nothing more.
    /// Returns once every thread of the backend has ended.
    public func stop() async {
        let sockets = state.withLock { state -> [Int32] in
            guard !state.stopped else { return [] }
            state.stopped = true
            return [state.listener] + Array(state.connections)
        }
        // shutdown() wakes the thread blocked on the socket, which then closes it: no descriptor is closed twice.
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
        await offload { self.threads.wait() }
    }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.enter()
        let thread = Thread { [threads] in
            body()
            threads.leave()
        }
        thread.start()
    }

    private func acceptLoop(_ listener: Int32) {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections.insert(connection)
                return true
            }
            guard admitted else {
                close(connection)
                return
            }
            spawn { self.serve(connection) }
        }
    }

    /// Reads requests one after another and does with each what the behaviour of the moment says.
    private func serve(_ connection: Int32) {
        var holding = false
        defer {
            state.withLock { state in
                state.connections.remove(connection)
                if holding { state.held -= 1 }
            }
            close(connection)
        }
        var buffer: [UInt8] = []
        while readRequest(connection, buffer: &buffer) != nil {
            let behaviour = state.withLock { state -> Behaviour in
                state.received += 1
                if state.behaviour == .hold { state.held += 1 }
                return state.behaviour
            }
            switch behaviour {
            case .answer:
                let response = Array("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".utf8)
                guard writeAll(connection, response) else { return }
            case .hold:
                holding = true
                // Read and discard until the client gives up or the backend dies.
                var scratch = [UInt8](repeating: 0, count: 65536)
                while scratch.withUnsafeMutableBytes({ recv(connection, $0.baseAddress, $0.count, 0) }) > 0 {}
                return
            case .reset:
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                return
            }
        }
    }

    /// Reads one request (head and `Content-Length` body) and returns its body; nil once the connection ends.
    private func readRequest(_ connection: Int32, buffer: inout [UInt8]) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headEnd: Int?
        var contentLength = 0
        while true {
            if headEnd == nil, let end = Self.endOfHead(buffer) {
                headEnd = end
                contentLength = Self.contentLength(String(decoding: buffer[..<end], as: UTF8.self))
            }
            if let end = headEnd, buffer.count >= end + contentLength {
                let body = Array(buffer[end..<end + contentLength])
                buffer.removeFirst(end + contentLength)
                return body
            }
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    private static func endOfHead(_ buffer: [UInt8]) -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    private static func contentLength(_ head: String) -> Int {
        for line in head.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                return Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return 0
    }

    private func writeAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }
}
