import Foundation

/// A real single-node VictoriaMetrics (Debian's `victoria-metrics`) on a free loopback port, data in a temp dir.
public final class VictoriaMetrics: @unchecked Sendable {
    public let port: Int
    public let dataDirectory: URL
    /// Served over HTTPS with this certificate and key, checked by clients against `ca`.
    public let tls: (certificate: String, key: String, ca: String)?
    private var process: Process?

    /// One exported series: its labels and its raw samples, as `/api/v1/export` gives them.
    public struct ExportedSeries: Sendable, Equatable {
        public var labels: [String: String]
        public var values: [Double]
        public var timestamps: [Int64]
    }

    public init(
        port: Int = freePort(), dataDirectory: URL? = nil, tls: (certificate: String, key: String, ca: String)? = nil
    ) {
        self.port = port
        self.tls = tls
        self.dataDirectory =
            dataDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("petrel-vm-\(UUID().uuidString)")
    }

    public var writeURL: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)/api/v1/write" }

    private func get(_ path: String) async -> LoopbackResponse? {
        guard let tls else { return await httpRequest(port: port, path: path) }
        return await curlGet("https://127.0.0.1:\(port)\(path)", caFile: tls.ca)
    }

    /// Starts the server and waits until it answers `/health`.
    public func start() async throws {
        let binary = try findExecutable("victoria-metrics")
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "-storageDataPath=\(dataDirectory.path)", "-httpListenAddr=127.0.0.1:\(port)",
            "-search.latencyOffset=0s", "-retentionPeriod=100y", "-loggerLevel=ERROR",
            "-search.disableCache",
        ]
        if let tls { process.arguments! += ["-tls", "-tlsCertFile=\(tls.certificate)", "-tlsKeyFile=\(tls.key)"] }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<200 {
            if await get("/health")?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("victoria-metrics did not become healthy on port \(port)")
    }

    /// Stops the server gracefully (SIGTERM), keeping its data for a restart.
    public func stop() async {
        guard let process, process.isRunning else { return }
        self.process = nil
        process.terminate()
        await offload { process.waitUntilExit() }
    }

    /// Makes everything written so far searchable.
    public func flush() async {
        _ = await get("/internal/force_flush")
    }

    /// Every series matching `selector` with its raw samples, sorted by labels.
    public func export(_ selector: String) async throws -> [ExportedSeries] {
        await flush()
        let query = selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? selector
        guard let response = await get("/api/v1/export?match[]=\(query)"),
            response.status == 200
        else { throw TestSupportError("export from victoria-metrics failed") }
        var series: [ExportedSeries] = []
        for line in response.text.split(separator: "\n") where !line.isEmpty {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let values = (object["values"] as! [Any]).map { ($0 as? NSNumber)?.doubleValue ?? Double("\($0)")! }
            let timestamps = (object["timestamps"] as! [NSNumber]).map(\.int64Value)
            let pairs = zip(timestamps, values).sorted { $0.0 < $1.0 }
            series.append(
                ExportedSeries(
                    labels: object["metric"] as! [String: String], values: pairs.map(\.1), timestamps: pairs.map(\.0)))
        }
        return series.sorted { Self.key($0.labels) < Self.key($1.labels) }
    }

    private static func key(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    deinit {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dataDirectory)
    }
}

/// A test environment problem, with what to do about it.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// The path of an executable on PATH or in /usr/bin, or an error telling how to install it.
public func findExecutable(_ name: String) throws -> URL {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
    for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin"] {
        let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw TestSupportError("\(name) is not installed; `make test-deps` installs the test servers")
}
