import Logging
import NIOHTTP1
import OTLPProtos
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelSinks
import PetrelSources
import PetrelTestSupport
import SwiftProtobuf
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The OTLP sink over HTTP against a scripted receiver: what no real backend does on demand
/// (answer 503, 429 with Retry-After, 400 or a partial success at a chosen request).
@Suite struct OTLPSinkHTTPTests {
    /// A request as the receiver saw it, its body gunzipped when it said so.
    struct Received: Sendable {
        var time: ContinuousClock.Instant
        var path: String
        var headers: HTTPHeaders
        var rawBody: [UInt8]
        var body: [UInt8]?

        var spans: SpanBatch? {
            guard let body,
                let request = try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(
                    serializedBytes: body)
            else { return nil }
            return OTLPTraceConversion.spanBatch(from: request)
        }

        var logs: Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest? {
            body.flatMap { try? Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest(serializedBytes: $0) }
        }
    }

    /// An OTLP/HTTP receiver that answers from a script and records what it got.
    final class ScriptedReceiver: Sendable {
        /// The answers still to give and the requests seen, shared with the server's handler.
        final class Log: Sendable {
            let script: Mutex<[HTTPIngestResponse]>
            let received = Mutex<[Received]>([])

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
                host: "127.0.0.1", port: port, maxBodySize: 1 << 26, logger: Logger(label: "receiver")
            ) { request in
                let raw = request.body.withUnsafeReadableBytes { Array($0) }
                let gzipped = request.headers.first(name: "Content-Encoding") == "gzip"
                let body = gzipped ? try? Zlib.decompress(raw, format: .gzip, maxDecompressedLength: 1 << 26) : raw
                log.received.withLock {
                    $0.append(
                        Received(time: .now, path: request.path, headers: request.headers, rawBody: raw, body: body))
                }
                return log.script.withLock { $0.isEmpty ? HTTPIngestResponse(status: .ok) : $0.removeFirst() }
            }
            let ready = Atomic<Bool>(false)
            let shutdown = self.shutdown
            task = Task { try await server.run(shutdown: shutdown) { _ in ready.store(true, ordering: .relaxed) } }
            guard await componentEventually({ ready.load(ordering: .relaxed) }) else {
                throw TestSupportError("the receiver did not start")
            }
        }

        var url: String { "http://127.0.0.1:\(port)" }
        var requests: [Received] { log.received.withLock { $0 } }

        func stop() async throws {
            shutdown.trigger()
            try await task.value
        }
    }

    private func config(_ receiver: ScriptedReceiver) throws -> OTLPSinkConfig {
        var config = OTLPSinkConfig(endpoint: try HTTPEndpoint.parse(receiver.url).get(), transport: .http)
        config.request.maxAge = .milliseconds(10)
        config.request.initialBackoff = .milliseconds(10)
        config.request.maxBackoff = .milliseconds(50)
        return config
    }

    @Test func everySpanArrivesOnceWithEveryField() async throws {
        let receiver = try await ScriptedReceiver([])
        let sent = [
            OTLPSinkFixtures.spans(resources: 2, spansPerScope: 3, firstID: 0),
            OTLPSinkFixtures.spans(resources: 1, spansPerScope: 5, firstID: 100),
            OTLPSinkFixtures.spans(resources: 3, scopes: 1, spansPerScope: 1, firstID: 200),
        ]
        let telemetry = try await runOTLPSink(config(receiver), sent.map(EventBatch.traces))
        let requests = receiver.requests
        #expect(requests.allSatisfy { $0.path == "/v1/traces" })
        let received = requests.compactMap(\.spans)
        #expect(received.count == requests.count, "every body decodes")
        let arrived = OTLPSinkFixtures.placedSpans(received)
        let expected = OTLPSinkFixtures.placedSpans(sent)
        #expect(arrived.count == 25, "12 + 10 + 3 spans")
        #expect(arrived.values.allSatisfy { $0.count == 1 }, "no span twice")
        #expect(arrived == expected, "ids, attributes, events, links, status and groups intact")
        #expect(telemetry.sentEvents.value == 25)
        #expect(telemetry.sentBytes.value == UInt64(requests.reduce(0) { $0 + $1.rawBody.count }))
        try await receiver.stop()
    }

    @Test func queuedBatchesMergeIntoOneRequestKeepingTheirGroups() async throws {
        let receiver = try await ScriptedReceiver([])
        let sent = [
            OTLPSinkFixtures.spans(resources: 2, spansPerScope: 2, firstID: 0),
            OTLPSinkFixtures.spans(resources: 1, spansPerScope: 2, firstID: 100),
        ]
        var config = try config(receiver)
        config.request.maxAge = .seconds(5)
        _ = try await runOTLPSink(config, sent.map(EventBatch.traces))
        let received = receiver.requests.compactMap(\.spans)
        #expect(received.count == 1, "the end of the input flushes what is pending, in one request")
        #expect(received.first?.resourceSpans == sent[0].resourceSpans + sent[1].resourceSpans)
        try await receiver.stop()
    }

    @Test func requestsRespectMaxEvents() async throws {
        let receiver = try await ScriptedReceiver([])
        var config = try config(receiver)
        config.request.maxEvents = 10
        let sent = [
            OTLPSinkFixtures.spans(resources: 5, scopes: 1, spansPerScope: 5, firstID: 0),
            OTLPSinkFixtures.spans(resources: 1, scopes: 1, spansPerScope: 3, firstID: 100),
        ]
        let telemetry = try await runOTLPSink(config, sent.map(EventBatch.traces))
        let received = receiver.requests.compactMap(\.spans)
        let sizes = received.map(\.spanCount)
        #expect(sizes.allSatisfy { $0 <= 10 }, "\(sizes)")
        #expect(sizes.reduce(0, +) == 28)
        #expect(OTLPSinkFixtures.placedSpans(received) == OTLPSinkFixtures.placedSpans(sent), "split, groups kept")
        #expect(telemetry.sentEvents.value == 28)
        try await receiver.stop()
    }

    @Test func gzipsProtobufWhenConfigured() async throws {
        let receiver = try await ScriptedReceiver([])
        _ = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 50))])
        let request = try #require(receiver.requests.first)
        #expect(request.headers.first(name: "Content-Type") == "application/x-protobuf")
        #expect(request.headers.first(name: "Content-Encoding") == "gzip")
        #expect(Array(request.rawBody.prefix(2)) == [0x1f, 0x8b], "a gzip member")
        #expect(request.spans?.spanCount == 100, "the body gunzips to the request")
        #expect(request.body!.count > request.rawBody.count)
        try await receiver.stop()
    }

    @Test func sendsPlainProtobufWithoutCompression() async throws {
        let receiver = try await ScriptedReceiver([])
        var config = try config(receiver)
        config.request.compression = .none
        _ = try await runOTLPSink(config, [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 2))])
        let request = try #require(receiver.requests.first)
        #expect(request.headers.first(name: "Content-Encoding") == nil)
        #expect(request.spans?.spanCount == 4)
        try await receiver.stop()
    }

    @Test func sendsHeadersAndTheBearerToken() async throws {
        let receiver = try await ScriptedReceiver([])
        let tokenFile = "/tmp/petrel-otlp-sink-token-\(receiver.port)"
        try Self.writeFile(tokenFile, "s3cret\n")
        defer { remove(tokenFile) }
        var config = try config(receiver)
        config.request.headers = [(name: "X-Scope-OrgID", value: "tenant-a")]
        config.request.bearerTokenFile = tokenFile
        _ = try await runOTLPSink(config, [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1))])
        let request = try #require(receiver.requests.first)
        #expect(request.headers.first(name: "X-Scope-OrgID") == "tenant-a")
        #expect(request.headers.first(name: "Authorization") == "Bearer s3cret")
        try await receiver.stop()
    }

    @Test func logsGoToTheirOwnPath() async throws {
        let receiver = try await ScriptedReceiver([])
        var config = try config(receiver)
        config.endpoint = try HTTPEndpoint.parse(receiver.url + "/otlp/").get()
        let telemetry = try await runOTLPSink(
            config,
            [
                .logs(OTLPSinkFixtures.logs(count: 3)), .traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1)),
                .logs(OTLPSinkFixtures.logs(count: 2, firstIndex: 3)),
            ])
        let requests = receiver.requests
        #expect(Set(requests.map(\.path)) == ["/otlp/v1/logs", "/otlp/v1/traces"])
        let logs = requests.filter { $0.path.hasSuffix("/logs") }.compactMap(\.logs)
        let bodies = logs.flatMap(\.resourceLogs).flatMap(\.scopeLogs).flatMap(\.logRecords).map(\.body.stringValue)
        #expect(bodies.sorted() == (0..<5).map { "line \($0)" })
        #expect(telemetry.sentEvents.value == 7)
        try await receiver.stop()
    }

    @Test func retriesServiceUnavailableAndDeliversOnce() async throws {
        let receiver = try await ScriptedReceiver([.error(.serviceUnavailable, "warming up")])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 3))])
        let requests = receiver.requests
        #expect(requests.count == 2, "one failure, then the delivery")
        #expect(requests[0].rawBody == requests[1].rawBody, "the same request again")
        #expect(telemetry.sentEvents.value == 6)
        #expect(telemetry.otlpSendingErrors == 1)
        #expect(
            telemetry.registry.value(
                "petrel_otlp_retries_total", labels: [("component_id", "tempo"), ("endpoint", receiver.url + "/")]) == 1
        )
        try await receiver.stop()
    }

    @Test func tooManyRequestsWaitsForRetryAfter() async throws {
        var busy = HTTPIngestResponse.error(.tooManyRequests, "slow down")
        busy.headers.add(name: "Retry-After", value: "1")
        let receiver = try await ScriptedReceiver([busy])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1))])
        let requests = receiver.requests
        #expect(requests.count == 2)
        #expect(requests[1].time - requests[0].time >= .milliseconds(900), "Retry-After: 1 was honoured")
        #expect(telemetry.sentEvents.value == 2)
        try await receiver.stop()
    }

    @Test func badRequestDropsTheBatchWithItsStatus() async throws {
        let receiver = try await ScriptedReceiver([.error(.badRequest, "invalid span id")])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 2))])
        #expect(receiver.requests.count == 1, "a 400 is never retried")
        #expect(telemetry.sentEvents.value == 0)
        #expect(telemetry.otlpDiscarded("http_400") == 4)
        #expect(telemetry.otlpSendingErrors == 1)
        try await receiver.stop()
    }

    @Test func internalServerErrorIsPermanentForOTLP() async throws {
        let receiver = try await ScriptedReceiver([.error(.internalServerError, "bug")])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1))])
        #expect(receiver.requests.count == 1, "OTLP retries 429, 502, 503 and 504 only")
        #expect(telemetry.otlpDiscarded("http_500") == 2)
        try await receiver.stop()
    }

    @Test func partialSuccessCountsTheRejectedSpans() async throws {
        var response = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse()
        response.partialSuccess.rejectedSpans = 2
        response.partialSuccess.errorMessage = "2 spans have an empty trace id"
        let body: [UInt8] = try response.serializedBytes()
        let answer = HTTPIngestResponse(status: .ok, headers: ["Content-Type": "application/x-protobuf"], body: body)
        let receiver = try await ScriptedReceiver([answer])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 3))])
        #expect(receiver.requests.count == 1)
        #expect(telemetry.sentEvents.value == 4)
        #expect(telemetry.otlpDiscarded("rejected_by_receiver") == 2)
        try await receiver.stop()
    }

    @Test func cancellationStopsRetrying() async throws {
        let receiver = try await ScriptedReceiver(
            Array(repeating: .error(.serviceUnavailable, "down"), count: 100))
        var config = try config(receiver)
        config.request.initialBackoff = .seconds(30)
        config.request.maxBackoff = .seconds(30)
        let run = Task {
            try await runOTLPSink(config, [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1))])
        }
        #expect(await componentEventually { receiver.requests.count == 1 })
        let start = ContinuousClock.now
        run.cancel()
        let outcome = await run.result
        #expect(ContinuousClock.now - start < .seconds(5), "the backoff sleep ends on cancellation")
        #expect(throws: CancellationError.self) { try outcome.get() }
        try await receiver.stop()
    }

    /// Writes `text` to `path`, replacing it.
    private static func writeFile(_ path: String, _ text: String) throws {
        guard let file = fopen(path, "w") else { throw TestSupportError("cannot write \(path)") }
        defer { fclose(file) }
        let bytes = Array(text.utf8)
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw TestSupportError("cannot write \(path)") }
    }
}
