import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// One blocking TCP connection to a loopback port, for driving a server the way a careless or hostile client does:
/// half a request head, a body that stops, pipelined requests, idle sockets. Call it through `offload`.
public final class RawConnection: @unchecked Sendable {
    /// An HTTP response as read off the wire; header names lower-cased.
    public typealias Response = LoopbackResponse

    private let descriptor: Int32
    private var buffered: [UInt8] = []
    private var closed = false

    /// Connects to 127.0.0.1:`port`; nil when nothing accepts there.
    public init?(port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(descriptor)
            return nil
        }
        self.descriptor = descriptor
    }

    deinit { close() }

    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(descriptor)
    }

    /// Sends all of `bytes`; false once the server has closed the connection.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads more bytes into the buffer; false on end of stream, reset or timeout.
    private func fill(until deadline: DispatchTime) -> Bool {
        let now = DispatchTime.now()
        guard now < deadline else { return false }
        let left = deadline.uptimeNanoseconds - now.uptimeNanoseconds
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(max(1, left / 1_000_000))) == 1 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffered.append(contentsOf: chunk[0..<count])
        return true
    }

    private static func deadline(after timeout: Duration) -> DispatchTime {
        let (seconds, attoseconds) = timeout.components
        return DispatchTime.now() + .nanoseconds(Int(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }

    /// The next response (its body by `Content-Length`), or nil when none comes complete within `timeout`.
    public func readResponse(timeout: Duration = .seconds(5)) -> Response? {
        let deadline = Self.deadline(after: timeout)
        while true {
            if let response = takeResponse() { return response }
            guard fill(until: deadline) else { return nil }
        }
    }

    private func takeResponse() -> Response? {
        guard let head = parseResponseHead(buffered) else { return nil }
        let length = head.headers["content-length"].flatMap { Int($0) } ?? 0
        guard buffered.count >= head.bodyStart + length else { return nil }
        let body = Array(buffered[head.bodyStart..<head.bodyStart + length])
        buffered.removeFirst(head.bodyStart + length)
        return Response(status: head.status, headers: head.headers, body: body)
    }

    /// Whether the server closes the connection (end of stream or reset) within `timeout`; bytes it sends before
    /// closing are kept for `readResponse`.
    public func closedByServer(within timeout: Duration) -> Bool {
        let deadline = Self.deadline(after: timeout)
        while DispatchTime.now() < deadline {
            let now = DispatchTime.now()
            let left = deadline.uptimeNanoseconds - now.uptimeNanoseconds
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(max(1, left / 1_000_000))) == 1 else { return false }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return true }
            buffered.append(contentsOf: chunk[0..<count])
        }
        return false
    }
}

/// A request head as raw text, `Host` included.
public func rawRequestHead(_ method: String, _ path: String, _ headers: [String: String] = [:]) -> String {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
    return head + "\r\n"
}
