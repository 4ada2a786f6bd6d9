import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (sockets, waiting for processes) on a Dispatch thread, so that it never holds
/// one of the few threads of Swift's cooperative pool that every other test needs.
public func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: body()) }
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
    guard
        let split = (0..<max(0, response.count - 3)).first(where: {
            response[$0..<$0 + 4].elementsEqual([13, 10, 13, 10])
        })
    else { return nil }
    let lines = String(decoding: response[0..<split], as: UTF8.self).split(separator: "\r\n")
    guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
    var responseHeaders: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        responseHeaders[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
    }
    return LoopbackResponse(status: status, headers: responseHeaders, body: Array(response[(split + 4)...]))
}

/// `GET path` on a loopback port: status and body text.
public func httpGet(port: Int, path: String) async -> (status: Int, body: String)? {
    await httpRequest(port: port, path: path).map { ($0.status, $0.text) }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
public func freePort() -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length)
            return getsockname(descriptor, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
