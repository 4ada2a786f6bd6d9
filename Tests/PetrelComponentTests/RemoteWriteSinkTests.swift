import Logging
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelSinks
import PetrelSources
import PetrelTestSupport
import Synchronization
import Testing

/// The remote-write sink against a scripted receiver: what no real server does on demand
/// (answer 503, 429 with Retry-After or 400 at a chosen request).
@Suite struct RemoteWriteSinkTests {
    /// A remote-write receiver that answers from a script and records what it got.
    final class ScriptedReceiver: Sendable {
        /// The answers still to give and the requests seen, shared with the server's handler.
        final class Log: Sendable {
            let script: Mutex<[HTTPIngestResponse]>
            let received = Mutex<[(time: ContinuousClock.Instant, batch: MetricBatch?)]>([])
            let encodings = Mutex<[String]>([])

            init(_ script: [HTTPIngestResponse]) { self.script = Mutex(script) }
        }

        let port = freePort()
        private let log: Log
        private let shutdown = ShutdownSignal()
        private let task: Task<Void, any Error>

        init(_ script: [HTTPIngestResponse]) async throws {
            let log = Log(script)
            self.log = log
            let server = HTTPIngestServer(
                host: "127.0.0.1", port: port, maxBodySize: 1 << 24, logger: Logger(label: "receiver")
            ) { request in
                let bytes = request.body.withUnsafeReadableBytes { Array($0) }
                let encoding = request.headers.first(name: "Content-Encoding") ?? ""
                let body =
                    encoding == "zstd"
                    ? try? Zstd.decompress(bytes, maxDecompressedLength: 1 << 24)
                    : try? Snappy.decompress(bytes, maxDecompressedLength: 1 << 24)
                let batch = body.flatMap { try? RemoteWriteDecoder().decodeV1($0) }
                log.received.withLock { $0.append((.now, batch)) }
                log.encodings.withLock { $0.append(encoding) }
                return log.script.withLock { $0.isEmpty ? HTTPIngestResponse(status: .noContent) : $0.removeFirst() }
            }
            let ready = Atomic<Bool>(false)
            let shutdown = self.shutdown
            task = Task { try await server.run(shutdown: shutdown) { _ in ready.store(true, ordering: .relaxed) } }
            guard await componentEventually({ ready.load(ordering: .relaxed) }) else {
                throw TestSupportError("the receiver did not start")
            }
        }

        var url: String { "http://127.0.0.1:\(port)/api/v1/write" }
        var requests: [(time: ContinuousClock.Instant, batch: MetricBatch?)] { log.received.withLock { $0 } }
        var encodings: [String] { log.encodings.withLock { $0 } }

        func stop() async throws {
            shutdown.trigger()
            try await task.value
        }
    }

    private func batch(series: Int) -> MetricBatch {
        var batch = MetricBatch()
        for index in 0..<series {
            batch.appendSeries(
                labels: [("__name__", "sent"), ("id", String(index))], samples: [Sample(timestamp: 5, value: 1)])
        }
        return batch
    }

    /// Runs the sink over `batches` until it has delivered or dropped everything.
    private func runSink(_ config: RemoteWriteSinkConfig, _ batches: [MetricBatch]) async throws -> ComponentTelemetry {
        let queue = BatchQueue(capacity: 16, producers: 1)
        for batch in batches { try await queue.send(.metrics(batch)) }
        queue.producerFinished()
        let telemetry = componentTestTelemetry(id: "vm", type: "prometheus_remote_write", kind: .sink)
        try await RemoteWriteSink(config: config).run(
            SinkInput(queue: queue, telemetry: telemetry),
            SinkContext(id: "vm", telemetry: telemetry, logger: Logger(label: "test")))
        return telemetry
    }

    private func config(_ receivers: [ScriptedReceiver]) throws -> RemoteWriteSinkConfig {
        var config = RemoteWriteSinkConfig(endpoints: try receivers.map { try HTTPEndpoint.parse($0.url).get() })
        config.request.maxAge = .milliseconds(10)
        config.request.initialBackoff = .milliseconds(10)
        config.request.maxBackoff = .milliseconds(50)
        return config
    }

    @Test func retriesServerErrorsUntilDelivered() async throws {
        let receiver = try await ScriptedReceiver([
            .error(.serviceUnavailable, "warming up"), .error(.internalServerError, "oops"),
        ])
        let telemetry = try await runSink(config([receiver]), [batch(series: 5)])
        let requests = receiver.requests
        #expect(requests.count == 3, "two failures, then the delivery")
        #expect(requests.allSatisfy { $0.batch?.seriesCount == 5 }, "the same request every time")
        #expect(telemetry.sentEvents.value == 5)
        #expect(
            telemetry.registry.value(
                "petrel_remote_write_retries_total", labels: [("component_id", "vm"), ("endpoint", receiver.url)]) == 2)
        try await receiver.stop()
    }

    /// `compression: zstd`: the body is one zstd frame, said so in `Content-Encoding`, and decodes to the batch.
    @Test func zstdCompressionSendsZstdBodies() async throws {
        let receiver = try await ScriptedReceiver([])
        var config = try config([receiver])
        config.request.compression = .zstd
        let telemetry = try await runSink(config, [batch(series: 5)])
        #expect(receiver.encodings == ["zstd"])
        #expect(receiver.requests.map { $0.batch?.seriesCount } == [5])
        #expect(telemetry.sentEvents.value == 5)
        try await receiver.stop()
    }

    @Test func tooManyRequestsWaitsForRetryAfter() async throws {
        var busy = HTTPIngestResponse.error(.tooManyRequests, "slow down")
        busy.headers.add(name: "Retry-After", value: "1")
        let receiver = try await ScriptedReceiver([busy])
        let telemetry = try await runSink(config([receiver]), [batch(series: 2)])
        let requests = receiver.requests
        #expect(requests.count == 2)
        #expect(requests[1].time - requests[0].time >= .milliseconds(900), "Retry-After: 1 was honoured")
        #expect(telemetry.sentEvents.value == 2)
        try await receiver.stop()
    }

    @Test func clientErrorsDropTheBatchWithAReason() async throws {
        let receiver = try await ScriptedReceiver([.error(.badRequest, "out of order sample")])
        let telemetry = try await runSink(config([receiver]), [batch(series: 4)])
        #expect(receiver.requests.count == 1, "a 400 is never retried")
        #expect(telemetry.sentEvents.value == 0)
        #expect(
            telemetry.registry.value(
                "petrel_component_discarded_events_total",
                labels: [
                    ("component_id", "vm"), ("component_kind", "sink"), ("component_type", "prometheus_remote_write"),
                    ("reason", "http_400"),
                ]) == 4)
        try await receiver.stop()
    }

    @Test func requestsRespectMaxSamples() async throws {
        let receiver = try await ScriptedReceiver([])
        var config = try config([receiver])
        config.maxSamples = 10
        let telemetry = try await runSink(config, [batch(series: 25), batch(series: 3)])
        let sizes = receiver.requests.compactMap { $0.batch?.seriesCount }
        #expect(sizes.allSatisfy { $0 <= 10 }, "\(sizes)")
        #expect(sizes.reduce(0, +) == 28)
        #expect(telemetry.sentEvents.value == 28)
        try await receiver.stop()
    }

    @Test func configErrorsNameTheKey() {
        let outcome = buildComponent(
            RemoteWriteSink.definition, at: "sinks.vm",
            componentConfig([
                "endpoints": ["ftp://x/y", "http://ok:8428/api/v1/write"], "mode": "spread", "protocol": "v3",
                "batch": ["max_samples": 0],
            ]))
        #expect(
            outcome.errors.sorted() == [
                "petrel.yaml: sinks.vm.batch.max_samples: must be between 1 and 10000000, found 0",
                "petrel.yaml: sinks.vm.endpoints[0]: invalid URL \"ftp://x/y\": unsupported scheme \"ftp\"; expected http or https",
                "petrel.yaml: sinks.vm.mode: expected one of shard, replicate, found \"spread\"",
                "petrel.yaml: sinks.vm.protocol: expected one of v1, v2, found \"v3\"",
            ])
        let missing = buildComponent(RemoteWriteSink.definition, at: "sinks.vm", componentConfig([:]))
        #expect(missing.errors.first?.contains("sinks.vm.endpoints: is required") == true)
    }
}
