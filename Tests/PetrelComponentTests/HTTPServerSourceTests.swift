import Foundation
import Logging
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelSources
import PetrelTestSupport
import Synchronization
import Testing

/// An `http_server` source on a loopback port whose output is one queue the test reads.
final class RunningHTTPServerSource: Sendable {
    let port: Int
    let queue: BatchQueue
    let telemetry: ComponentTelemetry
    let shutdown = ShutdownSignal()
    let task: Task<Void, any Error>

    init(config: HTTPServerSourceConfig = HTTPServerSourceConfig(), queueCapacity: Int = 16) async throws {
        queue = BatchQueue(capacity: queueCapacity, producers: 1)
        telemetry = componentTestTelemetry(id: "logs_in", type: "http_server", kind: .source)
        let output = Output(edges: [.init(queue: queue, accepts: .all)], telemetry: telemetry)
        var problem = "it did not become ready"
        for _ in 0..<3 {
            var config = config
            let port = freePort()
            config.address = HostPort(host: "127.0.0.1", port: port)
            let ready = Atomic<Bool>(false)
            let failure = Mutex<String?>(nil)
            let context = SourceContext(
                id: "logs_in", output: output, telemetry: telemetry, logger: Logger(label: "test"), shutdown: shutdown,
                onReady: { ready.store(true, ordering: .relaxed) })
            let source = HTTPServerSource(config: config)
            let task = Task {
                do {
                    try await source.run(context)
                } catch {
                    failure.withLock { $0 = "\(error)" }
                    throw error
                }
            }
            _ = await componentEventually { ready.load(ordering: .relaxed) || failure.withLock { $0 != nil } }
            if ready.load(ordering: .relaxed) {
                self.port = port
                self.task = task
                return
            }
            task.cancel()
            problem = failure.withLock { $0 } ?? problem
        }
        throw TestSupportError("the http_server source did not start: \(problem)")
    }

    /// POSTs with the loopback client.
    func post(_ body: [UInt8], path: String = "/", headers: [String: String] = [:]) async -> LoopbackResponse? {
        await httpRequest(port: port, method: "POST", path: path, headers: headers, body: body)
    }

    /// The records of the next batch, or nil when none comes within a second.
    func nextRecords() async -> [LogRecord]? {
        guard await componentEventually(timeout: .seconds(1), { queue.count > 0 }) else { return nil }
        guard case .logs(let batch)? = await queue.nextBatch() else { return nil }
        return batch.records
    }

    func stop() async throws {
        shutdown.trigger()
        try await task.value
    }
}

/// What curl was answered.
struct CurlResponse {
    var status: Int
    var headers: [String: String]
    var body: String
}

/// Runs curl (a real HTTP client) against the source, with the body from a file.
func curl(_ arguments: [String], body: [UInt8], in directory: URL) async throws -> CurlResponse {
    let bodyFile = directory.appendingPathComponent("body-\(UUID())")
    let headFile = directory.appendingPathComponent("head-\(UUID())")
    let outFile = directory.appendingPathComponent("out-\(UUID())")
    try Data(body).write(to: bodyFile)
    let status: Int32 = await offload {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments =
            [
                "-s", "-S", "--max-time", "30", "--data-binary", "@\(bodyFile.path)", "-D", headFile.path, "-o",
                outFile.path,
            ]
            + arguments
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
    guard status == 0 else { throw TestSupportError("curl \(arguments) exited with \(status)") }
    let head = (try? String(contentsOf: headFile, encoding: .utf8)) ?? ""
    let lines = head.split(separator: "\r\n")
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
    }
    let code = lines.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return CurlResponse(status: code, headers: headers, body: (try? String(contentsOf: outFile, encoding: .utf8)) ?? "")
}

/// Runs a compressor CLI (`gzip`, `zstd`) over `input`.
func compressWithCLI(_ tool: String, _ arguments: [String], _ input: [UInt8], in directory: URL) throws -> [UInt8] {
    let inputFile = directory.appendingPathComponent("plain-\(UUID())")
    let outputFile = directory.appendingPathComponent("packed-\(UUID())")
    try Data(input).write(to: inputFile)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments + [inputFile.path]
    process.standardOutput = try FileHandle(
        forWritingTo: { () -> URL in
            FileManager.default.createFile(atPath: outputFile.path, contents: nil)
            return outputFile
        }())
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TestSupportError("\(tool) \(arguments) failed") }
    return [UInt8](try Data(contentsOf: outputFile))
}

/// The `http_server` source on a loopback port, driven by curl and by a raw client: what each request is answered and
/// what arrives downstream.
@Suite struct HTTPServerSourceTests {
    private let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-http-source-\(UUID())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    private static let ndjson = """
        {"message":"user logged in","timestamp":"2025-12-07T01:02:03Z","severity":"info","user":"ana"}
        {"message":"cart emptied","user":"bo","items":3}
        """

    @Test func curlsNDJSONArrivesWithTheHeadersCopied() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = HTTPServerSourceConfig()
        config.headers = ["X-Tenant", "User-Agent", "X-Absent"]
        let source = try await RunningHTTPServerSource(config: config)
        let response = try await curl(
            ["-H", "X-Tenant: acme", "-H", "Content-Type: application/x-ndjson", "http://127.0.0.1:\(source.port)/"],
            body: Array(Self.ndjson.utf8), in: directory)
        #expect(response.status == 200, "\(response.body)")
        let records = try #require(await source.nextRecords())
        #expect(records.count == 2)
        #expect(records[0].message == "user logged in")
        #expect(records[0].timestamp == 1_765_069_323_000_000_000)
        #expect(records[0].severity == "info")
        #expect(records[0].fields["user"] == .string("ana"))
        #expect(records[1].fields["items"] == .int(3))
        for record in records {
            #expect(record.fields["X-Tenant"] == .string("acme"))
            #expect(record.fields["User-Agent"]?.text?.hasPrefix("curl/") == true)
            #expect(record.fields["X-Absent"] == nil, "a header the request lacks adds nothing")
            #expect(record.metadata["source_type"] == "http_server")
        }
        #expect(source.telemetry.receivedEvents.value == 2)
        #expect(source.telemetry.receivedBytes.value == UInt64(Self.ndjson.utf8.count))
        try await source.stop()
    }

    @Test func gzipDeflateAndZstdBodiesDecompress() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try await RunningHTTPServerSource()
        let plain = Array(Self.ndjson.utf8)
        var cases: [(name: String, encoding: String, body: [UInt8])] = [
            ("gzip from Petrel", "gzip", Zlib.compress(plain, format: .gzip)),
            ("deflate from Petrel", "deflate", Zlib.compress(plain, format: .zlib)),
            ("zstd from Petrel", "zstd", Zstd.compress(plain)),
        ]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") {
            cases.append(("gzip from GNU gzip", "gzip", try compressWithCLI("/bin/gzip", ["-c"], plain, in: directory)))
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd") {
            cases.append(
                ("zstd from the CLI", "ZSTD", try compressWithCLI("/usr/bin/zstd", ["-q", "-c"], plain, in: directory)))
        }
        for item in cases {
            let response = try await curl(
                ["-H", "Content-Encoding: \(item.encoding)", "http://127.0.0.1:\(source.port)/"], body: item.body,
                in: directory)
            #expect(response.status == 200, "\(item.name): \(response.body)")
            let records = await source.nextRecords()
            #expect(records?.map(\.message) == ["user logged in", "cart emptied"], "\(item.name)")
        }
        try await source.stop()
    }

    @Test func badJSONGets400NamingTheLineAndNothingGoesOn() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try await RunningHTTPServerSource()
        let body = Self.ndjson + "\n{\"message\":\"fine\"}\n{\"message\": oops}\n{\"message\":\"after\"}"
        let response = try await curl(["http://127.0.0.1:\(source.port)/"], body: Array(body.utf8), in: directory)
        #expect(response.status == 400)
        #expect(response.body.contains("line 4"), "\(response.body)")
        #expect(response.body.contains("cannot read the body as ndjson"), "\(response.body)")
        #expect(source.queue.count == 0, "none of the request's good lines went on")
        #expect(source.telemetry.errorCount(.receiving) == 1)

        var config = HTTPServerSourceConfig()
        config.codec = .json
        let jsonSource = try await RunningHTTPServerSource(config: config)
        let array = "[\n{\"message\":\"a\"},\n{\"message\":\"b\",}\n]"
        let jsonResponse = try #require(await jsonSource.post(Array(array.utf8)))
        #expect(jsonResponse.status == 400)
        #expect(jsonResponse.text.contains("line 3"), "\(jsonResponse.text)")
        #expect(jsonSource.queue.count == 0)
        try await source.stop()
        try await jsonSource.stop()
    }

    @Test func jsonTakesFalcosSingleObjectAndArrays() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = HTTPServerSourceConfig()
        config.codec = .json
        config.keys.message = "output"
        config.keys.timestamp = "time"
        config.keys.severity = "priority"
        let source = try await RunningHTTPServerSource(config: config)
        let falco = """
            {"hostname":"node-1","output":"01:02:03.123456789: Warning Shell spawned","priority":"Warning",
            "rule":"Terminal shell in container","source":"syscall","tags":["container","shell"],
            "time":"2025-12-07T01:02:03.123456789Z","output_fields":{"container.id":"abc123","proc.name":"bash"}}
            """
        let response = try await curl(
            ["-H", "Content-Type: application/json", "http://127.0.0.1:\(source.port)/"], body: Array(falco.utf8),
            in: directory)
        #expect(response.status == 200, "\(response.body)")
        let records = try #require(await source.nextRecords())
        #expect(records.count == 1)
        #expect(records.first?.message == "01:02:03.123456789: Warning Shell spawned")
        #expect(records.first?.severity == "Warning")
        #expect(records.first?.timestamp == 1_765_069_323_123_456_789)
        #expect(records.first?.fields["rule"] == .string("Terminal shell in container"))
        #expect(
            records.first?.fields["output_fields"]
                == .object(["container.id": .string("abc123"), "proc.name": .string("bash")]))

        let array = #"[{"output":"one"},{"output":"two"},"three"]"#
        #expect(await source.post(Array(array.utf8))?.status == 200)
        #expect(await source.nextRecords()?.map(\.message) == ["one", "two", "three"])
        #expect(await source.post(Array("[]".utf8))?.status == 200, "an empty array is fine")
        #expect(source.queue.count == 0, "and sends nothing")
        try await source.stop()
    }

    @Test func textMakesOneRecordPerLine() async throws {
        var config = HTTPServerSourceConfig()
        config.codec = .text
        let source = try await RunningHTTPServerSource(config: config)
        #expect(await source.post(Array("plain line\r\n{\"not\": parsed}\n\nlast".utf8))?.status == 200)
        #expect(await source.nextRecords()?.map(\.message) == ["plain line", "{\"not\": parsed}", "last"])
        try await source.stop()
    }

    @Test func oversizedBodiesAndBombsGet413() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = HTTPServerSourceConfig()
        config.maxBodySize = 64 * 1024
        config.maxDecompressedSize = 256 * 1024
        let source = try await RunningHTTPServerSource(config: config)
        let zeros = [UInt8](repeating: 0x20, count: 16 << 20)
        var cases: [(name: String, encoding: String?, body: [UInt8])] = [
            ("body over max_body_size", nil, Array(repeating: 0x20, count: 64 * 1024 + 1)),
            ("zstd bomb declaring its size", "zstd", Zstd.compress(zeros)),
            ("gzip bomb", "gzip", Zlib.compress(zeros, format: .gzip, level: 9)),
        ]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd") {
            let hidden = try compressWithCLI("/usr/bin/zstd", ["-q", "--no-content-size", "-c"], zeros, in: directory)
            cases.append(("zstd bomb hiding its size", "zstd", hidden))
        }
        for item in cases {
            var arguments = ["http://127.0.0.1:\(source.port)/"]
            if let encoding = item.encoding { arguments += ["-H", "Content-Encoding: \(encoding)"] }
            let response = try await curl(arguments, body: item.body, in: directory)
            #expect(response.status == 413, "\(item.name): \(response.body)")
        }
        #expect(source.queue.count == 0)
        let corrupt = try await curl(
            ["-H", "Content-Encoding: zstd", "http://127.0.0.1:\(source.port)/"], body: Array(Self.ndjson.utf8),
            in: directory)
        #expect(corrupt.status == 400, "not zstd: \(corrupt.body)")
        let brotli = try await curl(
            ["-H", "Content-Encoding: br", "http://127.0.0.1:\(source.port)/"], body: Array(Self.ndjson.utf8),
            in: directory)
        #expect(brotli.status == 415)
        #expect(await source.post(Array(Self.ndjson.utf8))?.status == 200, "the source still serves")
        try await source.stop()
    }

    @Test func withoutCredentialsTheAnswerIs401() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("token")
        try Data("s3cret\n".utf8).write(to: tokenFile)
        var config = HTTPServerSourceConfig()
        var auth = SourceAuthSettings(strategy: .bearer)
        auth.tokenFile = tokenFile.path
        config.security.auth = auth
        let source = try await RunningHTTPServerSource(config: config)
        let url = "http://127.0.0.1:\(source.port)/"
        let anonymous = try await curl([url], body: Array(Self.ndjson.utf8), in: directory)
        #expect(anonymous.status == 401)
        #expect(anonymous.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        let wrong = try await curl(
            ["-H", "Authorization: Bearer nope", url], body: Array(Self.ndjson.utf8), in: directory)
        #expect(wrong.status == 401)
        #expect(source.queue.count == 0)
        let right = try await curl(
            ["-H", "Authorization: Bearer s3cret", url], body: Array(Self.ndjson.utf8), in: directory)
        #expect(right.status == 200)
        #expect(await source.nextRecords()?.count == 2)
        try await source.stop()
    }

    @Test func aFullPipelineGets429WithRetryAfter() async throws {
        var config = HTTPServerSourceConfig()
        config.retryAfter = .milliseconds(2500)
        let source = try await RunningHTTPServerSource(config: config, queueCapacity: 1)
        let body = Array(Self.ndjson.utf8)
        #expect(await source.post(body)?.status == 200)
        let busy = try #require(await source.post(body))
        #expect(busy.status == 429)
        #expect(busy.headers["retry-after"] == "3", "whole seconds, rounded up")
        #expect(source.telemetry.errorCount(.sending) == 1)
        _ = await source.queue.nextBatch()
        #expect(await source.post(body)?.status == 200, "accepted again once there is room")
        #expect(source.queue.count == 1, "the refused request was not queued")
        try await source.stop()
    }

    @Test func otherPathsAndMethodsAreRefused() async throws {
        var config = HTTPServerSourceConfig()
        config.path = "/logs"
        let source = try await RunningHTTPServerSource(config: config)
        let body = Array(Self.ndjson.utf8)
        #expect(await source.post(body, path: "/")?.status == 404)
        #expect(await source.post(body, path: "/logs/x")?.status == 404)
        let get = try #require(await httpRequest(port: source.port, path: "/logs"))
        #expect(get.status == 405)
        #expect(get.headers["allow"] == "POST")
        #expect(await source.post(body, path: "/logs?tenant=a")?.status == 200, "a query string does not matter")
        #expect(await source.nextRecords()?.count == 2)
        try await source.stop()
    }

    @Test func configReadsEveryKeyAndLocatesErrors() throws {
        let build = { (node: ConfigNode) -> (HTTPServerSourceConfig?, [String]) in
            let outcome = buildComponent(HTTPServerSource.definition, at: "sources.logs_in", node)
            guard case .source(let source, let emits)? = outcome.built else { return (nil, outcome.errors) }
            #expect(emits == .logs)
            return ((source as? HTTPServerSource)?.config, outcome.errors)
        }
        let (defaults, noErrors) = build(componentConfig([:]))
        #expect(noErrors == [])
        #expect(defaults?.address == HostPort(host: "0.0.0.0", port: 8080))
        #expect(defaults?.path == "/")
        #expect(defaults?.codec == .ndjson)
        #expect(defaults?.keys == LogBodyDecoder.Keys())
        #expect(defaults?.maxBodySize == 10 * 1024 * 1024)

        let (config, errors) = build(
            componentConfig([
                "address": "127.0.0.1:9000", "path": "/falco", "codec": "json", "message_key": "output",
                "timestamp_key": "time", "severity_key": "priority", "headers": ["X-Tenant"], "max_body_size": "1MiB",
                "max_decompressed_body_size": "8MiB", "retry_after": "3s", "max_connections": 10,
            ]))
        #expect(errors == [])
        #expect(config?.address == HostPort(host: "127.0.0.1", port: 9000))
        #expect(config?.path == "/falco")
        #expect(config?.codec == .json)
        #expect(config?.keys.message == "output")
        #expect(config?.keys.timestamp == "time")
        #expect(config?.keys.severity == "priority")
        #expect(config?.headers == ["X-Tenant"])
        #expect(config?.maxBodySize == 1 << 20)
        #expect(config?.maxDecompressedSize == 8 << 20)
        #expect(config?.retryAfter == .seconds(3))
        #expect(config?.listener.maxConnections == 10)

        let (_, bad) = build(
            componentConfig([
                "codec": "xml", "path": "logs", "headers": ["Bad Name"], "codek": "json",
            ]))
        #expect(
            bad == [
                "petrel.yaml: sources.logs_in.path: must start with /",
                "petrel.yaml: sources.logs_in.codec: expected one of ndjson, json, text, found \"xml\"",
                "petrel.yaml: sources.logs_in.headers: \"Bad Name\" is not a header name",
                "petrel.yaml: sources.logs_in.codek: unknown key",
            ])
        let (_, textKeys) = build(componentConfig(["codec": "text", "message_key": "msg"]))
        #expect(
            textKeys == [
                "petrel.yaml: sources.logs_in.message_key: applies to the json and ndjson codecs only, not text"
            ])
    }
}
