import Foundation
import Logging
import PetrelCodecs
import PetrelComponents
import PetrelConfig
import PetrelCore
import PetrelTestSupport
import PetrelTopology
import ServiceLifecycle
import Synchronization
import Testing

/// Hot reload in process: what is kept keeps running (a listener and its open connections), what changed is replaced,
/// and a configuration that cannot be applied is refused with the pipeline running on.
@Suite struct ReloadTests {
    private let logger = Logger(label: "test")

    /// `rw` (remote write on `port`) → `mark` (relabel with `rules`) → `out` (records the labels of each series).
    private static func yaml(port: Int, rules: String, extra: String = "", outBuffer: String = "") -> String {
        """
        api: { enabled: false }
        data_dir: "\(NSTemporaryDirectory())"
        \(extra)
        sources:
          rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
        transforms:
          mark:
            type: relabel
            inputs: [rw]
            rules:
        \(rules)
        sinks:
          out:
            type: series_recording
            inputs: [mark]
        \(outBuffer)
        """
    }

    private static let keepAll = "      - { source_labels: [__name__], regex: \"nothing_.*\", action: drop }"
    private static let addReloaded =
        keepAll + "\n      - { target_label: reloaded, replacement: \"yes\" }"

    @Test func unchangedSourceKeepsItsConnectionWhileTheChangedTransformIsReplaced() async throws {
        let port = freePort()
        let sink = SeriesRecordingSink()
        let loader = Self.loader(sink)
        let (topology, running) = try await startKeepingAll(port: port, loader: loader)

        let connection = try #require(await offload { RawConnection(port: port) })
        #expect(await Self.push(seq: 1, on: connection)?.status == 204)

        let outcome = await topology.reload(
            to: try loader.parse(Self.yaml(port: port, rules: Self.addReloaded), file: "petrel.yaml"),
            file: "petrel.yaml")
        guard case .applied(let change) = outcome else {
            Issue.record("the reload was refused: \(outcome)")
            return
        }
        #expect(change.kept == ["rw", "out"])
        #expect(change.started == ["mark"])
        #expect(change.stopped == ["mark"])

        // The same connection, opened before the reload, goes on working; so do new ones.
        #expect(await Self.push(seq: 2, on: connection)?.status == 204)
        let second = try #require(await offload { RawConnection(port: port) })
        #expect(await Self.push(seq: 3, on: second)?.status == 204)
        connection.close()
        second.close()

        topology.stop()
        try await running.value
        let received = sink.series.sorted { $0["seq"]! < $1["seq"]! }
        #expect(received.map { $0["seq"] } == ["1", "2", "3"], "each series arrived once")
        #expect(received.first?["reloaded"] == nil, "sent before the reload")
        #expect(received.dropFirst().allSatisfy { $0["reloaded"] == "yes" }, "the new rule applies after it")
    }

    /// Each reload swaps the transform between the kept source and the kept sink: the sink's queue loses the old
    /// transform as a producer and gains the new one, and must never be left with none in between (it would end,
    /// and what the new transform hands it afterwards would be answered for and never delivered).
    @Test func reloadsInARowLoseNothingAnsweredFor() async throws {
        let port = freePort()
        let sink = SeriesRecordingSink()
        let loader = Self.loader(sink)
        let (topology, running) = try await startKeepingAll(port: port, loader: loader)
        let connection = try #require(await offload { RawConnection(port: port) })
        let rounds = 60
        for seq in 1...rounds {
            let rules = seq.isMultiple(of: 2) ? Self.keepAll : Self.addReloaded
            guard
                case .applied = await topology.reload(
                    to: try loader.parse(Self.yaml(port: port, rules: rules), file: "petrel.yaml"),
                    file: "petrel.yaml")
            else {
                Issue.record("reload \(seq) was refused")
                break
            }
            #expect(await Self.push(seq: seq, on: connection)?.status == 204)
        }
        connection.close()
        topology.stop()
        try await running.value
        let received = sink.series.compactMap { $0["seq"] }.compactMap(Int.init).sorted()
        #expect(received == Array(1...rounds), "every series answered 204 arrived, once")
    }

    @Test func unchangedConfigurationChangesNothing() async throws {
        let port = freePort()
        let loader = Self.loader(SeriesRecordingSink())
        let text = Self.yaml(port: port, rules: Self.keepAll)
        let topology = Topology(
            config: try loader.parse(text, file: "petrel.yaml"), telemetry: TelemetryRegistry(),
            recordCodec: BufferRecordCodec(), logger: logger)
        let running = Task { try await topology.run() }
        try await waitUntilReady(topology)
        // The same text with other lines around it and keys in another order.
        let moved =
            "\n# a comment\n"
            + text.replacingOccurrences(
                of: "type: series_recording\n    inputs: [mark]", with: "inputs: [mark]\n    type: series_recording")
        guard
            case .applied(let change) = await topology.reload(
                to: try loader.parse(moved, file: "petrel.yaml"), file: "petrel.yaml")
        else {
            Issue.record("refused")
            return
        }
        #expect(change.isEmpty)
        #expect(change.kept == ["rw", "mark", "out"])
        topology.stop()
        try await running.value
    }

    @Test func refusedReloadAnswers400WithItsErrorsAndThePipelineRunsOn() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("petrel.yaml").path
        let port = freePort()
        let sink = SeriesRecordingSink()
        let loader = Self.loader(sink)
        try Self.yaml(port: port, rules: Self.keepAll).write(toFile: file, atomically: true, encoding: .utf8)
        let topology = Topology(
            config: try loader.load(file: file), telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(),
            logger: logger)
        let reloader = ConfigReloader(
            source: ConfigReloader.Source(file: file) { () throws(ConfigLoadError) in try loader.load(file: file) },
            topology: topology, logger: logger)
        let api = APIServer(
            host: "127.0.0.1", port: 0, telemetry: topology.telemetry, readiness: topology.readiness,
            reloader: reloader, logger: logger)
        let group = ServiceGroup(services: [api, topology], logger: logger)
        async let running: Void = group.run()
        let apiPort = await api.boundPort()
        try await waitUntilReady(topology)
        let hashBefore = topology.telemetry.value("petrel_config_hash")
        #expect(hashBefore != nil && hashBefore != 0)

        // An unknown action in the new rule: refused, with the file, line and key of the error.
        try Self.yaml(port: port, rules: Self.keepAll + "\n      - { action: explode }")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try #require(await httpRequest(port: apiPort, method: "POST", path: "/reload"))
        #expect(refused.status == 400)
        #expect(refused.text.contains("\(file):12: transforms.mark.rules[1].action: unknown relabel action"))
        // Changing data_dir needs a restart.
        try Self.yaml(port: port, rules: Self.addReloaded).replacingOccurrences(
            of: "data_dir: \"\(NSTemporaryDirectory())\"", with: "data_dir: /nowhere"
        ).write(toFile: file, atomically: true, encoding: .utf8)
        let restart = try #require(await httpRequest(port: apiPort, method: "POST", path: "/reload"))
        #expect(restart.status == 400)
        #expect(restart.text.contains("data_dir: cannot change on reload"))
        #expect(await httpRequest(port: apiPort, method: "GET", path: "/reload")?.status == 405)
        #expect(topology.telemetry.value("petrel_config_reloads_total", labels: [("result", "failure")]) == 2)
        #expect(topology.telemetry.value("petrel_config_hash") == hashBefore)

        // The pipeline runs on as it was.
        let connection = try #require(await offload { RawConnection(port: port) })
        #expect(await Self.push(seq: 1, on: connection)?.status == 204)

        // A good one is applied.
        try Self.yaml(port: port, rules: Self.addReloaded).write(toFile: file, atomically: true, encoding: .utf8)
        let applied = try #require(await httpRequest(port: apiPort, method: "POST", path: "/reload"))
        #expect(applied.status == 200)
        #expect(applied.text.contains("replaced: mark\n"))
        #expect(topology.telemetry.value("petrel_config_reloads_total", labels: [("result", "success")]) == 1)
        #expect(topology.telemetry.value("petrel_config_hash") != hashBefore)
        #expect(await Self.push(seq: 2, on: connection)?.status == 204)
        connection.close()

        await group.triggerGracefulShutdown()
        try await running
        let received = sink.series.sorted { $0["seq"]! < $1["seq"]! }
        #expect(received.map { $0["seq"] } == ["1", "2"])
        #expect(received.map { $0["reloaded"] } == [nil, "yes"])
    }

    @Test func replacedDiskBufferedSinkReopensItsBufferAndLosesNothing() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = freePort()
        let sink = SeriesRecordingSink(holdUntilReleased: true)
        let loader = Self.loader(sink)
        func config(maxSize: String) throws -> PipelineConfig {
            try loader.parse(
                Self.yaml(
                    port: port, rules: Self.keepAll, outBuffer: "    buffer: { type: disk, max_size: \(maxSize) }"
                )
                .replacingOccurrences(
                    of: "data_dir: \"\(NSTemporaryDirectory())\"", with: "data_dir: \"\(directory.path)\""),
                file: "petrel.yaml")
        }
        let topology = Topology(
            config: try config(maxSize: "64MiB"), telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(),
            logger: logger)
        let running = Task { try await topology.run() }
        try await waitUntilReady(topology)
        let connection = try #require(await offload { RawConnection(port: port) })
        // Acknowledged once on disk; the sink holds it without delivering.
        #expect(await Self.push(seq: 1, on: connection)?.status == 204)
        #expect(await Self.push(seq: 2, on: connection)?.status == 204)

        guard case .applied(let change) = await topology.reload(to: try config(maxSize: "128MiB"), file: "petrel.yaml")
        else {
            Issue.record("refused")
            return
        }
        #expect(change.started == ["out"])
        // The successor opens the buffer once the old sink has delivered what it took: until then what arrives waits
        // in its queue, and the sender for its answer.
        async let third = Self.push(seq: 3, on: connection)
        try await Task.sleep(for: .milliseconds(200))
        sink.release()
        #expect(await third?.status == 204)
        connection.close()
        for _ in 0..<500 where Set(sink.series.compactMap { $0["seq"] }) != ["1", "2", "3"] {
            try await Task.sleep(for: .milliseconds(20))
        }
        topology.stop()
        try await running.value
        #expect(Set(sink.series.compactMap { $0["seq"] }) == ["1", "2", "3"], "nothing acknowledged is lost")
        #expect(
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("buffers/out").path),
            "the same buffer directory")
    }

    // MARK: Support

    /// The pipeline of `yaml` with `keepAll`, running and ready.
    private func startKeepingAll(
        port: Int, loader: ConfigLoader
    ) async throws -> (Topology, Task<Void, any Error>) {
        let topology = Topology(
            config: try loader.parse(Self.yaml(port: port, rules: Self.keepAll), file: "petrel.yaml"),
            telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(), logger: logger)
        let running = Task { try await topology.run() }
        try await waitUntilReady(topology)
        return (topology, running)
    }

    private func waitUntilReady(_ topology: Topology) async throws {
        for _ in 0..<500 where !topology.readiness.isReady {
            try await Task.sleep(for: .milliseconds(10))
        }
        guard topology.readiness.isReady else { throw TestSupportError("the pipeline did not become ready") }
    }

    private func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The built-in components and `series_recording`, which always builds `sink`.
    private static func loader(_ sink: SeriesRecordingSink) -> ConfigLoader {
        var definitions = BuiltinComponents.all
        definitions.append(
            ComponentDefinition(type: "series_recording", kind: .sink) { _, _ in .sink(sink, accepts: .all) })
        return ConfigLoader(registry: ComponentRegistry(definitions), environment: [:])
    }

    /// Pushes one series `reload_test{seq="<seq>"}` as a remote-write request on a kept-alive connection.
    private static func push(seq: Int, on connection: RawConnection) async -> LoopbackResponse? {
        var batch = MetricBatch()
        _ = batch.appendSeries(
            labels: [("__name__", "reload_test"), ("seq", "\(seq)")],
            samples: [Sample(timestamp: 1_700_000_000_000, value: Double(seq))])
        var encoder = RemoteWriteEncoder()
        let body = Snappy.compress(encoder.encodeV1(batch))
        let head =
            "POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Encoding: snappy\r\n"
            + "Content-Type: application/x-protobuf\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n"
            + "Content-Length: \(body.count)\r\n\r\n"
        return await offload {
            guard connection.send(Array(head.utf8) + body) else { return nil }
            return connection.readResponse(timeout: .seconds(30))
        }
    }
}

/// Records the labels of every series it takes. With `holdUntilReleased` it takes batches without acknowledging them
/// until `release()`, as a sink whose backend is down.
final class SeriesRecordingSink: Sink {
    private let received = Mutex<[[String: String]]>([])
    private let released: ShutdownSignal?

    init(holdUntilReleased: Bool = false) {
        released = holdUntilReleased ? ShutdownSignal() : nil
    }

    var series: [[String: String]] { received.withLock { $0 } }

    func release() { released?.trigger() }

    func run(_ input: SinkInput, _ context: SinkContext) async throws {
        for await envelope in input {
            guard case .metrics(let metrics) = envelope.batch else { continue }
            await released?.wait()
            let labels = metrics.series.indices.map { index in
                Dictionary(metrics.labelPairs(of: index).map { ($0.name, $0.value) }) { first, _ in first }
            }
            received.withLock { $0.append(contentsOf: labels) }
            envelope.acknowledgement.acknowledge()
        }
    }
}
