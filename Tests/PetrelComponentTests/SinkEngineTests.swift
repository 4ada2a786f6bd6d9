import Glibc
import Logging
import NIOHTTP1
import PetrelCore
import PetrelNet
import Synchronization
import Testing

@testable import PetrelSinks

/// The `Retry-After` header in all its forms.
@Suite struct RetryAfterTests {
    /// 2015-10-21 07:28:00 UTC, less 30 seconds.
    private let now: Double = 1_445_412_450

    @Test func seconds() {
        #expect(RetryAfter.parse("120") == .seconds(120))
        #expect(RetryAfter.parse(" 3 ") == .seconds(3))
        #expect(RetryAfter.parse("0") == .zero)
    }

    @Test func theThreeHTTPDateForms() {
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:28:00 GMT", nowSeconds: now) == .seconds(30))
        #expect(RetryAfter.parse("Wednesday, 21-Oct-15 07:28:00 GMT", nowSeconds: now) == .seconds(30))
        #expect(RetryAfter.parse("Wed Oct 21 07:28:00 2015", nowSeconds: now) == .seconds(30))
        #expect(RetryAfter.parse("Wed Oct  1 07:28:00 2015", nowSeconds: now - 20 * 86_400) == .seconds(30))
    }

    @Test func pastDatesAskForNoDelay() {
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:28:00 GMT", nowSeconds: now + 40) == .zero)
        #expect(RetryAfter.parse("Sunday, 06-Nov-94 08:49:37 GMT", nowSeconds: now) == .zero)
    }

    @Test func longDelaysAreClamped() {
        #expect(RetryAfter.parse("86400") == RetryAfter.longest)
        #expect(RetryAfter.parse("Fri, 21 Oct 2016 07:28:00 GMT", nowSeconds: now) == RetryAfter.longest)
    }

    @Test(arguments: [
        "soon", "-1", "", "1.5", "Wed, 21 Oct 2015 07:28:00 UTC", "Wed, 32 Oct 2015 07:28:00 GMT",
        "Wed, 21 Foo 2015 07:28:00 GMT", "Wed, 21 Oct 2015 25:28:00 GMT", "Wed Oct 21 07:28 2015",
    ])
    func garbageIsIgnored(value: String) {
        #expect(RetryAfter.parse(value, nowSeconds: now) == nil)
    }
}

/// The keys every sink reads through `SinkRequestSettings`.
@Suite struct SinkRequestSettingsTests {
    private func remoteWrite(_ node: ConfigNode) -> (config: RemoteWriteSinkConfig?, errors: [String]) {
        let outcome = buildComponent(RemoteWriteSink.definition, at: "sinks.vm", node)
        guard case .sink(let sink as RemoteWriteSink, _)? = outcome.built else { return (nil, outcome.errors) }
        return (sink.config, outcome.errors)
    }

    private func otlp(_ node: ConfigNode) -> (config: OTLPSinkConfig?, errors: [String]) {
        let outcome = buildComponent(OTLPSink.definition, at: "sinks.tempo", node)
        guard case .sink(let sink as OTLPSink, _)? = outcome.built else { return (nil, outcome.errors) }
        return (sink.config, outcome.errors)
    }

    @Test func remoteWriteDefaults() throws {
        let (config, errors) = remoteWrite(componentConfig(["endpoints": ["http://vm:8428/api/v1/write"]]))
        #expect(errors.isEmpty, "\(errors)")
        let request = try #require(config).request
        #expect(request.maxAge == .seconds(5) && request.timeout == .seconds(30) && request.concurrency == 4)
        #expect(request.initialBackoff == .milliseconds(30) && request.maxBackoff == .seconds(5))
        #expect(request.maxBytes == 8 * 1024 * 1024 && request.compression == .snappy)
        #expect(config?.maxSamples == 2000)
    }

    @Test func otlpDefaults() throws {
        let (config, errors) = otlp(componentConfig(["endpoint": "http://tempo:4317"]))
        #expect(errors.isEmpty, "\(errors)")
        let request = try #require(config).request
        #expect(
            request.maxEvents == 8192 && request.maxBytes == 4 * 1024 * 1024 && request.maxAge == .milliseconds(200))
        #expect(request.timeout == .seconds(10) && request.initialBackoff == .seconds(5))
        #expect(request.maxBackoff == .seconds(30) && request.compression == .gzip && request.basicAuth == nil)
    }

    @Test func remoteWriteReadsTheSharedKeysAndItsOwn() throws {
        let (config, errors) = remoteWrite(
            componentConfig([
                "endpoints": ["http://vm:8428/api/v1/write"],
                "batch": ["max_samples": 500, "max_events": 100, "max_bytes": "1MiB", "max_age": "1s"],
                "retry": ["initial_backoff": "100ms", "max_backoff": "2s"], "timeout": "3s", "concurrency": 2,
                "compression": "snappy", "headers": ["X-Scope-OrgID": "tenant-a"],
            ]))
        #expect(errors.isEmpty, "\(errors)")
        let built = try #require(config)
        #expect(built.maxSamples == 500 && built.request.maxEvents == 100 && built.request.maxBytes == 1 << 20)
        #expect(built.request.maxAge == .seconds(1) && built.request.timeout == .seconds(3))
        #expect(built.request.initialBackoff == .milliseconds(100) && built.request.maxBackoff == .seconds(2))
        #expect(built.request.headers.map(\.name) == ["X-Scope-OrgID"])
    }

    @Test func errorsNameTheKey() {
        let (_, errors) = remoteWrite(
            componentConfig([
                "endpoints": ["http://vm:8428/api/v1/write"], "compression": "gzip",
                "batch": ["max_samples": 0, "max_spans": 1], "retry": ["initial_backoff": "2s", "max_backoff": "1s"],
                "timeout": "0s", "basic_auth": ["password": "p"],
            ]))
        #expect(
            errors.sorted() == [
                "petrel.yaml: sinks.vm.basic_auth.username: is required",
                "petrel.yaml: sinks.vm.batch.max_samples: must be between 1 and 10000000, found 0",
                "petrel.yaml: sinks.vm.batch.max_spans: unknown key",
                "petrel.yaml: sinks.vm.compression: expected one of snappy, zstd, found \"gzip\"",
                "petrel.yaml: sinks.vm.retry.max_backoff: must not be shorter than initial_backoff",
                "petrel.yaml: sinks.vm.timeout: must be longer than zero",
            ], "\(errors.sorted())")
    }

    @Test func otlpTakesBasicAuth() throws {
        let file = "/tmp/petrel-sink-engine-password-\(getpid())"
        let handle = try #require(fopen(file, "w"))
        fputs("hunter2\n", handle)
        fclose(handle)
        defer { remove(file) }
        let (config, errors) = otlp(
            componentConfig([
                "endpoint": "http://tempo:4317", "basic_auth": ["username": "petrel", "password_file": .scalar(file)],
            ]))
        #expect(errors.isEmpty, "\(errors)")
        let request = try #require(config).request
        #expect(request.basicAuth?.username == "petrel" && request.basicAuth?.passwordFile == file)
        // "petrel:hunter2"
        #expect(request.authorization() == "Basic cGV0cmVsOmh1bnRlcjI=")
        #expect(request.metadata().map { $0.name } == ["authorization"])
        var headers = HTTPHeaders()
        request.addHeaders(to: &headers)
        #expect(headers.first(name: "Authorization") == "Basic cGV0cmVsOmh1bnRlcjI=")
        let both = otlp(
            componentConfig([
                "endpoint": "http://tempo:4317", "bearer_token_file": .scalar(file),
                "basic_auth": ["username": "petrel", "password": "x", "password_file": .scalar(file)],
            ])
        ).errors
        #expect(
            both.sorted() == [
                "petrel.yaml: sinks.tempo.basic_auth: set password or password_file, not both",
                "petrel.yaml: sinks.tempo.bearer_token_file: set bearer_token_file or basic_auth, not both",
            ], "\(both.sorted())")
    }
}

/// The request driver's retry loop, with scripted attempts.
@Suite struct RequestDriverTests {
    /// A request whose acknowledgement is counted.
    struct Request: SinkRequest {
        var eventCount: Int
        var acknowledgements: Counted

        func acknowledge() { acknowledgements.add() }
    }

    final class Counted: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func add() { count.add(1, ordering: .relaxed) }
    }

    /// Attempts answered from a script; the last answer repeats.
    final class Script: Sendable {
        private let state: Mutex<(outcomes: [SendOutcome], attempts: [ContinuousClock.Instant])>

        init(_ outcomes: [SendOutcome]) { state = Mutex((outcomes, [])) }

        var attempts: [ContinuousClock.Instant] { state.withLock { $0.attempts } }

        func next() -> SendOutcome {
            state.withLock { state in
                state.attempts.append(.now)
                return state.outcomes.count > 1 ? state.outcomes.removeFirst() : state.outcomes[0]
            }
        }
    }

    private let telemetry = componentTestTelemetry(id: "tempo", type: "otlp", kind: .sink)

    private func driver(_ script: Script, backoff: Duration = .milliseconds(1)) -> RequestDriver<Request> {
        var settings = OTLPSinkConfig.defaults
        settings.initialBackoff = backoff
        settings.maxBackoff = backoff * 2
        return RequestDriver(
            settings: settings, context: SinkContext(id: "tempo", telemetry: telemetry, logger: Logger(label: "test")),
            destination: "test", retries: telemetry.registry.counter("test_retries_total", help: "retries"),
            attempt: { _ in script.next() })
    }

    @Test func retriesThenDelivers() async throws {
        let script = Script([
            .retry(reason: "HTTP 503", after: nil), .retry(reason: "reset", after: nil),
            .delivered(wireBytes: 10, rejectedEvents: 1, message: "one bad span"),
        ])
        let acknowledged = Counted()
        try await driver(script).deliver(Request(eventCount: 5, acknowledgements: acknowledged))
        #expect(script.attempts.count == 3 && acknowledged.value == 1)
        #expect(telemetry.sentEvents.value == 4 && telemetry.sentBytes.value == 10)
        #expect(telemetry.otlpDiscarded("rejected_by_receiver") == 1)
        #expect(telemetry.otlpSendingErrors == 2)
        #expect(telemetry.registry.value("test_retries_total") == 2)
    }

    @Test func dropsWithTheReason() async throws {
        let script = Script([.drop(reason: "http_400", message: "bad request")])
        let acknowledged = Counted()
        try await driver(script).deliver(Request(eventCount: 3, acknowledgements: acknowledged))
        #expect(script.attempts.count == 1 && acknowledged.value == 1)
        #expect(telemetry.otlpDiscarded("http_400") == 3 && telemetry.sentEvents.value == 0)
    }

    @Test func honoursTheDelayAsked() async throws {
        let script = Script([
            .retry(reason: "HTTP 429", after: .milliseconds(300)),
            .delivered(wireBytes: 1, rejectedEvents: 0, message: ""),
        ])
        try await driver(script).deliver(Request(eventCount: 1, acknowledgements: Counted()))
        let attempts = script.attempts
        #expect(attempts.count == 2)
        #expect(attempts[1] - attempts[0] >= .milliseconds(300))
    }

    @Test func handOffEndsTheRequestHere() async throws {
        let script = Script([.retry(reason: "HTTP 503", after: nil)])
        let handedOff = Counted()
        var driver = driver(script)
        driver.handOff = { _ in
            handedOff.add()
            return handedOff.value > 1
        }
        let acknowledged = Counted()
        try await driver.deliver(Request(eventCount: 1, acknowledgements: acknowledged))
        // Asked before the attempt (no), then after its retryable outcome (yes): not acknowledged here.
        #expect(script.attempts.count == 1 && handedOff.value == 2 && acknowledged.value == 0)
    }

    @Test func cancellationStopsRetryingAndLeavesTheRequestPending() async throws {
        let script = Script([.retry(reason: "HTTP 503", after: nil)])
        let acknowledged = Counted()
        let driver = driver(script, backoff: .seconds(30))
        let task = Task { try await driver.deliver(Request(eventCount: 1, acknowledgements: acknowledged)) }
        #expect(await componentEventually(timeout: .seconds(5)) { script.attempts.count == 1 })
        let cancelled = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - cancelled < .seconds(5))
        #expect(script.attempts.count == 1 && acknowledged.value == 0)
    }

    @Test func runsBatchesThroughSenders() async throws {
        let script = Script([.delivered(wireBytes: 1, rejectedEvents: 0, message: "")])
        let queue = BoundedQueue<Envelope>(capacity: 4, producers: 1)
        let acknowledged = Counted()
        for _ in 0..<3 {
            try await queue.send(
                Envelope(
                    .logs(OTLPSinkFixtures.logs(count: 2)),
                    acknowledgement: Acknowledgement(onAcknowledged: { acknowledged.add() })))
        }
        queue.producerFinished()
        let engine = RequestDriver<PendingExport>(
            settings: OTLPSinkConfig.defaults,
            context: SinkContext(id: "tempo", telemetry: telemetry, logger: Logger(label: "test")),
            destination: "test", retries: telemetry.registry.counter("test_retries_total", help: "retries"),
            attempt: { _ in script.next() })
        try await engine.run(
            batcher: OTLPBatcher(maxEvents: 4, maxBytes: 1 << 20, maxAge: .seconds(10)),
            pull: { await queue.next(until: $0) }, prepare: { $0 })
        #expect(acknowledged.value == 3 && telemetry.sentEvents.value == 6 && script.attempts.count == 2)
    }
}
