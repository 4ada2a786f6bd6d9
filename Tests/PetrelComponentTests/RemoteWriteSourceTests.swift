import Logging
import PetrelCodecs
import PetrelCore
import PetrelSources
import PetrelTestSupport
import Synchronization
import Testing

/// The remote-write source over real HTTP on a loopback port: what each kind of request is answered.
@Suite struct RemoteWriteSourceTests {
    /// A running source whose output is one queue the test reads.
    final class Running: Sendable {
        let port: Int
        let queue: BatchQueue
        let telemetry: ComponentTelemetry
        let shutdown = ShutdownSignal()
        let task: Task<Void, any Error>

        init(config: RemoteWriteSourceConfig = RemoteWriteSourceConfig(), queueCapacity: Int = 16) async throws {
            var config = config
            port = freePort()
            config.address = HostPort(host: "127.0.0.1", port: port)
            queue = BatchQueue(capacity: queueCapacity, producers: 1)
            telemetry = componentTestTelemetry(id: "rw", type: "prometheus_remote_write", kind: .source)
            let ready = Atomic<Bool>(false)
            let context = SourceContext(
                id: "rw", output: Output(edges: [.init(queue: queue, accepts: .all)], telemetry: telemetry),
                telemetry: telemetry, logger: Logger(label: "test"), shutdown: shutdown,
                onReady: { ready.store(true, ordering: .relaxed) })
            let source = RemoteWriteSource(config: config)
            task = Task { try await source.run(context) }
            guard await componentEventually({ ready.load(ordering: .relaxed) }) else {
                throw TestSupportError("the source did not start")
            }
        }

        func post(
            _ body: [UInt8], path: String = "/api/v1/write",
            headers: [String: String] = ["Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"]
        ) async -> LoopbackResponse? {
            await httpRequest(port: port, method: "POST", path: path, headers: headers, body: body)
        }

        func stop() async throws {
            shutdown.trigger()
            try await task.value
        }
    }

    private static func request(_ series: Int = 3, labels: Bool = true, version: Int = 1) -> [UInt8] {
        var batch = MetricBatch()
        for index in 0..<series {
            batch.appendSeries(
                labels: labels ? [("__name__", "up"), ("instance", "node-\(index)")] : [],
                samples: [Sample(timestamp: 1_000 + Int64(index), value: Double(index))])
        }
        var encoder = RemoteWriteEncoder()
        return version == 1 ? encoder.encodeV1(batch) : encoder.encodeV2(batch)
    }

    @Test func validRequestIsAcceptedIntoTheQueue() async throws {
        let source = try await Running()
        let response = try #require(await source.post(Snappy.compress(Self.request(3))))
        #expect(response.status == 204)
        guard case .metrics(let batch)? = await source.queue.nextBatch() else {
            Issue.record("no metric batch was queued")
            return
        }
        #expect(batch.seriesCount == 3)
        #expect(batch.labelPairs(of: 2).map { "\($0.name)=\($0.value)" } == ["__name__=up", "instance=node-2"])
        #expect(Array(batch.samples(of: 2)) == [Sample(timestamp: 1_002, value: 2)])
        #expect(source.telemetry.receivedEvents.value == 3)
        #expect(source.telemetry.sentEvents.value == 3)
        #expect(source.telemetry.requestDuration.count == 1, "the request's duration is observed once")
        try await source.stop()
    }

    /// `Content-Encoding: zstd` (what vmagent sends VictoriaMetrics, and a Petrel sink with `compression: zstd`).
    @Test func aZstdBodyIsAcceptedAsASnappyOneIs() async throws {
        let source = try await Running()
        let response = try #require(
            await source.post(
                Zstd.compress(Self.request(3)),
                headers: ["Content-Encoding": "zstd", "Content-Type": "application/x-protobuf"]))
        #expect(response.status == 204, "\(response.text)")
        guard case .metrics(let batch)? = await source.queue.nextBatch() else {
            Issue.record("no metric batch was queued")
            return
        }
        #expect(batch.labelPairs(of: 2).map { "\($0.name)=\($0.value)" } == ["__name__=up", "instance=node-2"])
        #expect(Array(batch.samples(of: 2)) == [Sample(timestamp: 1_002, value: 2)])
        try await source.stop()
    }

    @Test func version2IsChosenByContentType() async throws {
        let source = try await Running()
        let response = try #require(
            await source.post(
                Snappy.compress(Self.request(2, version: 2)),
                headers: [
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                ]))
        #expect(response.status == 204)
        #expect(response.headers["x-prometheus-remote-write-samples-written"] == "2")
        guard case .metrics(let batch)? = await source.queue.nextBatch() else {
            Issue.record("no metric batch was queued")
            return
        }
        #expect(batch.labelValue(series: 1, name: "instance") == "node-1")
        try await source.stop()
    }

    /// Malformed input of every kind gets a 4xx with a one-line reason, and the source keeps serving.
    @Test func malformedRequestsGetClearErrorsAndTheSourceKeepsServing() async throws {
        var config = RemoteWriteSourceConfig()
        config.maxBodySize = 4096
        config.maxDecompressedSize = 64 * 1024
        let source = try await Running(config: config)
        let valid = Snappy.compress(Self.request(3))
        let protobufHeaders = ["Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"]
        let zstdHeaders = ["Content-Encoding": "zstd", "Content-Type": "application/x-protobuf"]
        let cases: [(name: String, body: [UInt8], headers: [String: String], status: Int, reason: String)] = [
            ("truncated snappy", Array(valid.dropLast(3)), protobufHeaders, 400, "cannot decompress"),
            ("not snappy at all", Array("hello, world".utf8), protobufHeaders, 400, "cannot decompress"),
            ("empty body", [], protobufHeaders, 400, "cannot decompress"),
            ("bad varint", Snappy.compress([0x0A] + Array(repeating: 0xFF, count: 11)), protobufHeaders, 400, "varint"),
            ("wrong wire type", Snappy.compress([0x08, 0x01]), protobufHeaders, 400, "wire type"),
            ("length past the end", Snappy.compress([0x0A, 0x7F, 0x01]), protobufHeaders, 400, "past the end"),
            ("series without labels", Snappy.compress(Self.request(1, labels: false)), protobufHeaders, 400, "label"),
            (
                "body over the limit",
                Snappy.compress(Array(repeating: 0x41, count: 1)) + Array(repeating: 0, count: 5000),
                protobufHeaders, 413, "limit"
            ),
            (
                "decompressed over the limit", Snappy.compress(Array(repeating: 0x0A, count: 100_000)), protobufHeaders,
                413,
                "limit"
            ),
            (
                "truncated zstd", Array(Zstd.compress(Self.request(3)).dropLast(3)), zstdHeaders, 400,
                "cannot decompress"
            ),
            ("snappy labelled zstd", valid, zstdHeaders, 400, "cannot decompress"),
            (
                "zstd decompressed over the limit", Zstd.compress(Array(repeating: 0x0A, count: 100_000)), zstdHeaders,
                413, "limit"
            ),
            (
                "text content type", valid, ["Content-Encoding": "snappy", "Content-Type": "text/plain"], 415,
                "Content-Type"
            ),
            (
                "gzip encoding", valid, ["Content-Encoding": "gzip", "Content-Type": "application/x-protobuf"], 415,
                "Content-Encoding"
            ),
            (
                "unknown message", valid,
                ["Content-Encoding": "snappy", "Content-Type": "application/x-protobuf;proto=foo.Bar"],
                415, "foo.Bar"
            ),
        ]
        for item in cases {
            let response = try #require(await source.post(item.body, headers: item.headers), "\(item.name)")
            #expect(response.status == item.status, "\(item.name): \(response.text)")
            #expect(response.text.contains(item.reason), "\(item.name): \(response.text)")
            #expect(response.text.filter { $0 == "\n" }.count == 1, "\(item.name): one line")
        }
        #expect(await httpRequest(port: source.port, path: "/api/v1/write")?.status == 405)
        #expect(await source.post(valid, path: "/other")?.status == 404)
        #expect(source.queue.count == 0, "nothing malformed went downstream")
        #expect(await source.post(valid)?.status == 204, "the source still serves")
        #expect(source.telemetry.receivedEvents.value == 3)
        try await source.stop()
    }

    @Test func randomBodiesNeverCrashTheSource() async throws {
        let source = try await Running()
        var random = SeededRandom(seed: 42)
        let valid = Self.request(20)
        for round in 0..<300 {
            var body = valid
            for _ in 0..<(1 + round % 8) {
                body[Int(random.next() % UInt64(body.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            if round % 3 == 0 { body = Array(body.prefix(Int(random.next() % UInt64(body.count)))) }
            let response = try #require(await source.post(Snappy.compress(body)))
            #expect([204, 400].contains(response.status), "round \(round): \(response.status) \(response.text)")
            while source.queue.count > 0 { _ = await source.queue.nextBatch() }
        }
        #expect(await source.post(Snappy.compress(valid))?.status == 204)
        try await source.stop()
    }

    @Test func fullPipelineAnswers429WithRetryAfter() async throws {
        let source = try await Running(queueCapacity: 2)
        let body = Snappy.compress(Self.request(1))
        #expect(await source.post(body)?.status == 204)
        #expect(await source.post(body)?.status == 204)
        let busy = try #require(await source.post(body))
        #expect(busy.status == 429)
        #expect(busy.headers["retry-after"] == "1")
        // The refused request's series are not counted as received (its retry will be), but as refused.
        #expect(source.telemetry.receivedEvents.value == 2)
        let labels = [
            ("component_id", "rw"), ("component_kind", "source"), ("component_type", "prometheus_remote_write"),
        ]
        #expect(
            source.telemetry.registry.value(
                "petrel_component_refused_events_total", labels: labels + [("reason", "pipeline_full")]) == 1)
        _ = await source.queue.nextBatch()
        #expect(await source.post(body)?.status == 204, "accepted again once there is room")
        #expect(source.queue.count == 2, "the refused request was not queued")
        #expect(source.telemetry.receivedEvents.value == 3)
        try await source.stop()
    }
}

/// SplitMix64, so the fuzz rounds are the same every run.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
