import Foundation
import Synchronization

/// Certificates made by the `openssl` CLI in a temp dir: a CA, server certificates for 127.0.0.1 and localhost,
/// client certificates, and a second CA nobody trusts.
public final class TestCertificates: @unchecked Sendable {
    public let directory: URL

    /// Makes the CA `ca` and a second CA `rogue-ca`.
    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try makeAuthority("ca")
        try makeAuthority("rogue-ca")
    }

    /// `init()` run off Swift's cooperative pool: openssl blocks for a while on a loaded machine, and tests that
    /// run side by side must not starve every other task of the process meanwhile.
    public static func make() async throws -> TestCertificates {
        try await offload { Result { try TestCertificates() } }.get()
    }

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// `NAME.crt` and `NAME.key`: a certificate for `commonName`, valid for 127.0.0.1 and localhost, signed by
    /// `authority`, usable by servers and clients.
    @discardableResult
    public func issue(_ name: String, commonName: String, by authority: String = "ca") throws -> (
        crt: String, key: String
    ) {
        let extensions = path("\(name).ext")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n".write(
            toFile: extensions, atomically: true, encoding: .utf8)
        try openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=\(commonName)",
        ])
        try openssl([
            "x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(authority).crt"), "-CAkey",
            path("\(authority).key"), "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out",
            path("\(name).crt"),
        ])
        return (path("\(name).crt"), path("\(name).key"))
    }

    private func makeAuthority(_ name: String) throws {
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-keyout", path("\(name).key"), "-out", path("\(name).crt"), "-subj", "/CN=Petrel test \(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try runCommand(try findExecutable("openssl"), arguments)
        guard result.status == 0 else { throw TestSupportError("openssl \(arguments[0]) failed: \(result.errors)") }
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// What a command printed and how it ended.
public struct CommandResult: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Runs a command to its end with `input` on its standard input; kills it (by its PID) after `timeout`.
public func runCommand(
    _ executable: URL, _ arguments: [String], input: String = "", environment: [String: String]? = nil,
    timeout: Duration = .seconds(60)
) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let stdin = Pipe()
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    let pid = process.processIdentifier
    let timer = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(
        deadline: .now() + .milliseconds(Int(timeout.components.seconds * 1000)), execute: timer)
    // The throwing write: a command that exits without reading its input (openssl with none asked) breaks the pipe,
    // and the old `write(_:)` traps on that, taking every test down.
    try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
    try? stdin.fileHandleForWriting.close()
    let errorData = Mutex<Data>(Data())
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        let data = stderr.fileHandleForReading.readDataToEndOfFile()
        errorData.withLock { $0 = data }
        group.leave()
    }
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    timer.cancel()
    return CommandResult(
        status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
        errors: String(decoding: errorData.withLock { $0 }, as: UTF8.self))
}

/// A GET over HTTPS with curl, trusting `caFile`; nil when no answer came.
public func curlGet(_ url: String, caFile: String, headers: [String] = []) async -> LoopbackResponse? {
    await offload {
        guard let curl = try? findExecutable("curl"),
            let result = try? runCommand(
                curl,
                ["-sS", "--cacert", caFile, "-o", "-", "-w", "\n%{http_code}"] + headers.flatMap { ["-H", $0] } + [url],
                timeout: .seconds(30)),
            result.status == 0
        else { return nil }
        var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        guard let code = lines.popLast().flatMap({ Int($0) }), code > 0 else { return nil }
        return LoopbackResponse(status: code, headers: [:], body: Array(lines.joined(separator: "\n").utf8))
    }
}
