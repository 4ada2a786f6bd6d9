import Foundation

/// The real `petrel` binary run on a YAML configuration, as an operator runs it: started, scraped on its API, stopped
/// with SIGTERM or killed with SIGKILL, restarted.
public final class PetrelProcess: @unchecked Sendable {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// `PETREL_BINARY`, or the `petrel` that `swift test` built beside the test binary: the same build directory and
    /// build flags (`--scratch-path`, `--sanitize`) as the tests.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["PETREL_BINARY"] { return URL(fileURLWithPath: path) }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("petrel")
    }

    public let configFile: URL
    public let apiPort: Int
    /// Options after `run --config FILE` (`--watch-config`).
    public var runOptions: [String] = []
    private var process: Process?
    private let log: URL

    /// Writes the configuration (its `api` section is added) to `directory`; `start()` runs it.
    public init(config yaml: String, directory: URL, apiPort: Int = freePort()) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.apiPort = apiPort
        configFile = directory.appendingPathComponent("petrel.yaml")
        log = directory.appendingPathComponent("petrel.log")
        try "api: { address: \"127.0.0.1:\(apiPort)\" }\n\(yaml)".write(
            to: configFile, atomically: true, encoding: .utf8)
    }

    /// The process id while it runs.
    public var pid: Int32? { process.map(\.processIdentifier) }

    /// Starts the binary and waits until `/ready` answers 200. Its log goes to `petrel.log` beside the configuration
    /// (appended to across restarts).
    public func start() async throws {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["run", "--config", configFile.path] + runOptions
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        for _ in 0..<300 {
            if await httpGet(port: apiPort, path: "/ready")?.status == 200 { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSupportError("petrel did not become ready; its log:\n\(logText)")
    }

    /// SIGKILL, as the OOM killer or a node failure would: no shutdown at all.
    public func kill() async {
        guard let process, process.isRunning else { return }
        self.process = nil
        Foundation.kill(process.processIdentifier, SIGKILL)
        await offload { process.waitUntilExit() }
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    public func stop() async -> Int32 {
        guard let process else { return -1 }
        self.process = nil
        if process.isRunning { process.terminate() }
        await offload { process.waitUntilExit() }
        return process.terminationStatus
    }

    /// SIGTERM, then waits up to `timeout` for the exit: its status, or nil when the process was still running
    /// (it is then killed with SIGKILL, so no test leaves it behind).
    public func stop(within timeout: Duration) async -> Int32? {
        guard let process else { return -1 }
        self.process = nil
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard !process.isRunning else {
            Foundation.kill(process.processIdentifier, SIGKILL)
            await offload { process.waitUntilExit() }
            return nil
        }
        return process.terminationStatus
    }

    public var isRunning: Bool { process?.isRunning ?? false }

    /// Sends `signal` (SIGTERM, SIGINT...) to the process by its id, as an operator or a supervisor does.
    public func send(_ signal: Int32) {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
    }

    /// Waits at most `timeout` for the process to exit; returns its exit status, or nil if it still runs (it is left
    /// running: the caller decides, usually `kill()`).
    public func waitForExit(within timeout: Duration) async -> Int32? {
        guard let process else { return nil }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else { return nil }
        self.process = nil
        return process.terminationStatus
    }

    /// Waits at most `timeout` until the log holds `text`; returns whether it does.
    public func waitForLog(_ text: String, within timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !logText.contains(text) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return logText.contains(text)
    }

    /// What the process logged so far.
    public var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// The value of one series of `/metrics`, written as it appears there (`name{label="value",...}`).
    public func metric(_ series: String) async -> Double? {
        guard let response = await httpGet(port: apiPort, path: "/metrics"), response.status == 200 else { return nil }
        for line in response.body.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// The peak resident set size (VmHWM) so far, in bytes.
    public func peakResidentBytes() -> Int? {
        guard let pid, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
            return nil
        }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kilobytes = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap {
                Int($0)
            }
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }

    deinit {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
