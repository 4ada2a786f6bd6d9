import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Several "hosts" on one machine: a monitoring network namespace joined to each cluster namespace by a veth pair,
/// made with `ip netns` and `ip link` under unique names and removed again by `remove()` (call it from a `defer`).
///
/// Cluster `i` is `10.231.i.2/24` on its end of the link and reaches the monitoring namespace at `10.231.i.1`.
/// Nothing else is routed, so traffic stays inside the namespaces the test made.
public final class SimulatedClouds: @unchecked Sendable {
    /// The namespaces and links, fixed at `init`; `remove()` only deletes them, so sharing across threads is safe.
    public let monitoring: String
    public let clusters: [String]
    /// The monitoring-side interface of each cluster's link (in `monitoring`), and the cluster-side one.
    public let monitoringLinks: [String]
    public let clusterLinks: [String]

    /// Why the tests cannot run here (not root, no `ip`), or nil.
    public static var unavailableReason: String? {
        guard getuid() == 0 else { return "simulated clouds need root for ip netns (running as uid \(getuid()))" }
        guard (try? findExecutable("ip")) != nil else { return "simulated clouds need iproute2's ip" }
        return nil
    }

    /// Creates the namespaces and links; on any failure removes what it made and throws.
    public init(clusterCount: Int) throws {
        let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        monitoring = "petrel-\(suffix)-mon"
        clusters = (0..<clusterCount).map { "petrel-\(suffix)-c\($0)" }
        // Interface names are at most 15 bytes.
        monitoringLinks = (0..<clusterCount).map { "pm\(suffix.prefix(8))c\($0)" }
        clusterLinks = (0..<clusterCount).map { "pc\(suffix.prefix(8))c\($0)" }
        do {
            for namespace in [monitoring] + clusters {
                try Self.ip(["netns", "add", namespace])
                try Self.ip(["-n", namespace, "link", "set", "lo", "up"])
            }
            for index in 0..<clusterCount {
                try Self.ip([
                    "link", "add", monitoringLinks[index], "netns", monitoring, "type", "veth", "peer", "name",
                    clusterLinks[index], "netns", clusters[index],
                ])
                try Self.ip(["-n", monitoring, "addr", "add", "10.231.\(index).1/24", "dev", monitoringLinks[index]])
                try Self.ip(["-n", clusters[index], "addr", "add", "10.231.\(index).2/24", "dev", clusterLinks[index]])
                try Self.ip(["-n", monitoring, "link", "set", monitoringLinks[index], "up"])
                try Self.ip(["-n", clusters[index], "link", "set", clusterLinks[index], "up"])
            }
        } catch {
            remove()
            throw error
        }
    }

    /// The monitoring namespace's address on cluster `index`'s link.
    public func monitoringAddress(forCluster index: Int) -> String { "10.231.\(index).1" }

    /// Cuts cluster `index` off (its end of the link goes down: connections see no answer, new ones fail).
    public func partition(cluster index: Int) throws {
        try Self.ip(["-n", clusters[index], "link", "set", clusterLinks[index], "down"])
    }

    /// Joins cluster `index` again after `partition`.
    public func heal(cluster index: Int) throws {
        try Self.ip(["-n", clusters[index], "link", "set", clusterLinks[index], "up"])
    }

    /// Bytes that crossed cluster `index`'s link, counted on the cluster's end: sent towards monitoring, received.
    public func linkBytes(cluster index: Int) throws -> (sent: Int, received: Int) {
        let output = try Self.ip(["-n", clusters[index], "-j", "-s", "link", "show", "dev", clusterLinks[index]])
        guard let links = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]],
            let stats = links.first?["stats64"] as? [String: Any],
            let tx = (stats["tx"] as? [String: Any])?["bytes"] as? NSNumber,
            let rx = (stats["rx"] as? [String: Any])?["bytes"] as? NSNumber
        else { throw TestSupportError("unexpected ip -j -s link output: \(output)") }
        return (tx.intValue, rx.intValue)
    }

    /// Deletes every namespace this instance made (their veth ends go with them). Safe to call twice.
    public func remove() {
        for namespace in [monitoring] + clusters {
            _ = try? Self.ip(["netns", "delete", namespace])
        }
    }

    /// Whether any namespace of this instance is still listed by `ip netns list`.
    public func leftBehind() throws -> [String] {
        let listed = try Self.ip(["netns", "list"])
        return ([monitoring] + clusters).filter { listed.contains($0) }
    }

    /// Runs `ip` with `arguments`; its standard output, or an error with its standard error.
    @discardableResult
    public static func ip(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = try findExecutable("ip")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError(
                "ip \(arguments.joined(separator: " ")) failed: \(String(decoding: errorData, as: UTF8.self))")
        }
        return String(decoding: outputData, as: UTF8.self)
    }
}

/// Runs `body` on a fresh thread that first enters network namespace `namespace` (a thread's network namespace is
/// its own, so only the sockets this thread creates live there; the thread ends with `body`).
public func inNetworkNamespace<T: Sendable>(_ namespace: String, _ body: @escaping @Sendable () -> T) async -> T {
    await offload {
        enterNetworkNamespace(namespace)
        return body()
    }
}

/// Moves the calling thread into `namespace`; only for threads that end afterwards (see `inNetworkNamespace`).
func enterNetworkNamespace(_ namespace: String) {
    let descriptor = open("/var/run/netns/\(namespace)", O_RDONLY)
    precondition(descriptor >= 0, "network namespace \(namespace) does not exist")
    defer { close(descriptor) }
    precondition(setNetworkNamespace(descriptor, cloneNewNet) == 0, "setns into \(namespace) failed: errno \(errno)")
}

/// `CLONE_NEWNET` from <sched.h>, which Swift's Glibc module does not export (it needs `_GNU_SOURCE`).
private let cloneNewNet: Int32 = 0x4000_0000

/// glibc's `setns`, looked up at run time because Swift's Glibc module does not declare it.
private let setNetworkNamespace: @convention(c) (Int32, Int32) -> Int32 = {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else { fatalError("glibc has no setns") }
    return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
}()

/// A blocking HTTP/1.0 exchange with `host:port` from the calling thread's network namespace; nil when nothing
/// answers. Header names in the response are lower-cased.
public func blockingHTTPExchange(
    host: String, port: Int, method: String = "GET", path: String, headers: [String: String] = [:],
    body: [UInt8] = [], timeout: Duration = .seconds(30)
) -> LoopbackResponse? {
    guard let descriptor = connectTCP(host: host, port: port) else { return nil }
    defer { close(descriptor) }
    var time = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    var head = "\(method) \(path) HTTP/1.0\r\nHost: \(host):\(port)\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if method != "GET" { head += "Content-Length: \(body.count)\r\n" }
    guard sendAll(descriptor, Array((head + "\r\n").utf8) + body) else { return nil }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count < 0 { return nil }
        if count == 0 { break }
        received += chunk[0..<count]
    }
    guard let (status, responseHeaders, bodyStart) = parseResponseHead(received) else { return nil }
    return LoopbackResponse(status: status, headers: responseHeaders, body: Array(received[bodyStart...]))
}

/// A connected TCP socket to `host:port` (IPv4), or nil.
func connectTCP(host: String, port: Int) -> Int32? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr(host)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        close(descriptor)
        return nil
    }
    return descriptor
}

/// Sends all of `bytes`; false once the peer is gone.
func sendAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
    var sent = 0
    while sent < bytes.count {
        let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if count <= 0 { return false }
        sent += count
    }
    return true
}

/// A program run inside a network namespace with `ip netns exec` (which execs it, so the process id is the
/// program's own), stopped or killed by that id.
public final class NamespacedProcess: @unchecked Sendable {
    // The process is replaced only by start/kill/stop, which the test calls from one task at a time.
    public let namespace: String
    public let executable: URL
    public let arguments: [String]
    public let log: URL
    private var process: Process?

    public init(namespace: String, executable: URL, arguments: [String], log: URL) {
        self.namespace = namespace
        self.executable = executable
        self.arguments = arguments
        self.log = log
    }

    /// The process id while it runs.
    public var pid: Int32? { process.map(\.processIdentifier) }

    public var isRunning: Bool { process?.isRunning ?? false }

    /// Starts the program, then waits until `GET http://127.0.0.1:port/path` inside the namespace answers 200.
    public func start(readyPort: Int, readyPath: String) async throws {
        let process = Process()
        process.executableURL = try findExecutable("ip")
        process.arguments = ["netns", "exec", namespace, executable.path] + arguments
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        for _ in 0..<600 {
            let status = await inNetworkNamespace(namespace) {
                blockingHTTPExchange(host: "127.0.0.1", port: readyPort, path: readyPath, timeout: .seconds(2))?.status
            }
            if status == 200 { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw TestSupportError("\(executable.lastPathComponent) in \(namespace) did not become ready; log:\n\(text)")
    }

    /// SIGKILL by process id: no shutdown at all.
    public func kill() async {
        guard let process else { return }
        self.process = nil
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        await offload { process.waitUntilExit() }
    }

    /// SIGTERM by process id, then up to `timeout` for the exit (SIGKILL after it); the exit status, nil if killed.
    @discardableResult
    public func stop(within timeout: Duration = .seconds(30)) async -> Int32? {
        guard let process else { return nil }
        self.process = nil
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard !process.isRunning else {
            Glibc.kill(process.processIdentifier, SIGKILL)
            await offload { process.waitUntilExit() }
            return nil
        }
        return process.terminationStatus
    }

    /// The peak resident set size (VmHWM) of the running process, in bytes.
    public func peakResidentBytes() -> Int? {
        guard let pid, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
            return nil
        }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
                .map { $0 * 1024 }
        }
        return nil
    }

    deinit {
        if let process, process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
