import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (sockets, waiting for processes) on a thread of its own, so that it never holds
/// one of the few threads of Swift's cooperative pool that every other test needs, nor waits behind other
/// blocking work for one of Dispatch's (as many as the cores, which tests blocking for seconds exhaust).
public func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}

/// A response read by `httpRequest`.
public struct LoopbackResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A minimal blocking HTTP/1.0 exchange over a loopback socket, so tests need no HTTP client library.
///
/// Header names in the response are lower-cased. Returns nil when nothing answers on the port.
public func httpRequest(
    port: Int, method: String = "GET", path: String, headers: [String: String] = [:], body: [UInt8] = []
) async -> LoopbackResponse? {
    await offload { blockingHTTPRequest(port: port, method: method, path: path, headers: headers, body: body) }
}

private func blockingHTTPRequest(
    port: Int, method: String, path: String, headers: [String: String], body: [UInt8]
) -> LoopbackResponse? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { return nil }
    var head = "\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if method != "GET" { head += "Content-Length: \(body.count)\r\n" }
    let request = Array((head + "\r\n").utf8) + body
    var sent = 0
    while sent < request.count {
        let count = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if count <= 0 { return nil }
        sent += count
    }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response.append(contentsOf: chunk[0..<count])
    }
    guard let head = parseResponseHead(response) else { return nil }
    return LoopbackResponse(status: head.status, headers: head.headers, body: Array(response[head.bodyStart...]))
}

/// The status line and headers at the start of `bytes` (header names lower-cased) and where the body starts; nil
/// until the head is complete.
func parseResponseHead(_ bytes: [UInt8]) -> (status: Int, headers: [String: String], bodyStart: Int)? {
    guard
        let split = (0..<max(0, bytes.count - 3)).first(where: {
            bytes[$0..<$0 + 4].elementsEqual([13, 10, 13, 10])
        })
    else { return nil }
    let lines = String(decoding: bytes[0..<split], as: UTF8.self).split(separator: "\r\n")
    guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
    }
    return (status, headers, split + 4)
}

/// `GET path` on a loopback port: status and body text.
public func httpGet(port: Int, path: String) async -> (status: Int, body: String)? {
    await httpRequest(port: port, path: path).map { ($0.status, $0.text) }
}

/// A TCP port that was free a moment ago on 127.0.0.1, for a server a test starts.
///
/// Ports come from below the kernel's ephemeral range (32768 and up), where outgoing connections take their local
/// ports: a port from `bind(0)` could be taken by any test's client connection before the server binds it. Within
/// the process each port is handed out once, from a random start, and only if it can be bound now.
public func freePort() -> Int {
    while true {
        let port = nextPortCandidate()
        if canBind(port) { return port }
    }
}

private let portCandidates = Mutex<Int>(Int.random(in: 0..<12_000))

/// Ports 20000 to 31999, in turn.
private func nextPortCandidate() -> Int {
    portCandidates.withLock { next in
        defer { next = (next + 1) % 12_000 }
        return 20_000 + next
    }
}

private func canBind(_ port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var reuse: Int32 = 1
    setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}
