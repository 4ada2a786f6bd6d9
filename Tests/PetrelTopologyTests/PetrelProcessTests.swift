import Foundation
import PetrelTestSupport
import Testing

/// Runs the real `petrel` binary as a user would, on the default configuration.
@Suite(.serialized) struct PetrelProcessTests {
    static let packageRoot = PetrelProcess.packageRoot
    static var binary: URL { PetrelProcess.binary }

    /// Starts the binary with both pipes read from the start, so a chatty child never blocks on a full pipe.
    private func petrel(
        _ arguments: [String], environment: [String: String] = [:]
    ) throws -> (Process, output: Task<String, Never>, errors: Task<String, Never>) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = Self.packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return (process, read(output), read(errors))
    }

    /// Everything the pipe will carry, read off the cooperative pool until the child closes it.
    private func read(_ pipe: Pipe) -> Task<String, Never> {
        let handle = pipe.fileHandleForReading
        return Task { await offload { String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) } }
    }

    @Test func defaultConfigPrintsEventsServesMetricsAndDrainsOnSIGTERM() async throws {
        let port = freePort()
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-\(port)")
        let (process, output, _) = try petrel(
            ["run", "--config", "config/petrel.yaml"],
            environment: ["PETREL_API_ADDRESS": "127.0.0.1:\(port)", "PETREL_DATA_DIR": dataDirectory.path])
        defer { if process.isRunning { process.terminate() } }

        let consoleSent =
            "petrel_component_sent_events_total{component_id=\"console\",component_kind=\"sink\",component_type=\"console\"}"
        var metrics: String?
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(100))
            if let response = await httpGet(port: port, path: "/metrics"), response.status == 200,
                let sent = metricValue(response.body, consoleSent), sent > 0
            {
                metrics = response.body
                break
            }
        }
        let text = try #require(metrics, "petrel served /metrics with the console sink's counters")
        #expect(
            text.contains(
                "petrel_component_sent_events_total{component_id=\"demo\",component_kind=\"source\",component_type=\"demo\"}"
            ))
        #expect(text.contains("petrel_component_received_events_total{component_id=\"no_health_checks\""))
        #expect(await httpGet(port: port, path: "/ready")?.status == 200)

        process.interrupt()  // SIGINT; `sigtermExitsZero` checks SIGTERM.
        await offload { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
        #expect(process.terminationReason == .exit)

        let lines = await output.value
            .split(separator: "\n")
        let events = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let kinds = Set(events.compactMap { $0["kind"] as? String })
        #expect(kinds == ["metric", "log", "span"], "demo events of all three signals were printed")
        let metric = try #require(events.first { $0["kind"] as? String == "metric" })
        let labels = try #require(metric["labels"] as? [String: String])
        #expect(labels["__name__"] == "demo_http_requests_total")
        #expect(labels["path"] != "/health", "the filter removed health checks")
        #expect(!events.contains { ($0["labels"] as? [String: String])?["path"] == "/health" })
    }

    @Test func sigtermExitsZero() async throws {
        let port = freePort()
        let (process, _, _) = try petrel(
            ["run", "--config", "config/petrel.yaml"], environment: ["PETREL_API_ADDRESS": "127.0.0.1:\(port)"])
        for _ in 0..<100 {
            if await httpGet(port: port, path: "/ready")?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        await offload { process.waitUntilExit() }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test func validateListsEveryErrorWithComponentAndKey() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-invalid-\(getpid()).yaml")
        try """
        sources:
          demo: { type: demo }
        sinks:
          out:
            type: console
            inputs: [dmeo]
            colour: blue
        """.write(to: file, atomically: true, encoding: .utf8)
        let (process, _, errors) = try petrel(["validate", "--config", file.path])
        await offload { process.waitUntilExit() }
        let text = await errors.value
        #expect(process.terminationStatus == 1)
        #expect(text.contains("sinks.out.inputs[0]: unknown component \"dmeo\""), "\(text)")
        #expect(text.contains("sinks.out.colour: unknown key"), "\(text)")
    }

    @Test func validateAcceptsTheDefaultConfig() async throws {
        let (process, output, _) = try petrel(["validate", "--config", "config/petrel.yaml"])
        await offload { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
        let text = await output.value
        #expect(text.contains("valid"))
    }

    @Test func versionPrints() async throws {
        let (process, output, _) = try petrel(["--version"])
        await offload { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
        #expect(await output.value.hasPrefix("0."))
    }
}

/// The value of the first sample line starting with `series` in a Prometheus text exposition.
func metricValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}
