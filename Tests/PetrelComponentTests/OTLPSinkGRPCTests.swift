import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import OTLPProtos
import OTLPServices
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Synchronization
import Testing

@testable import PetrelSinks

/// The OTLP sink over gRPC against scripted `TraceService` and `LogsService` implementations.
@Suite struct OTLPSinkGRPCTests {
    /// What a scripted service answers to one call.
    enum Answer: Sendable {
        case ok(rejected: Int64 = 0, message: String = "")
        case fail(any Error & Sendable)
    }

    /// A call as the service saw it.
    struct Call<Message: Sendable>: Sendable {
        var time: ContinuousClock.Instant
        var message: Message
        var metadata: Metadata
    }

    /// Answers `Export` calls from a script and records them.
    final class ScriptedTraceService: Opentelemetry_Proto_Collector_Trace_V1_TraceService.ServiceProtocol {
        typealias Request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
        typealias Response = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
        let script: Mutex<[Answer]>
        let calls = Mutex<[Call<Request>]>([])

        init(_ script: [Answer]) { self.script = Mutex(script) }

        func export(request: ServerRequest<Request>, context: ServerContext) async throws -> ServerResponse<Response> {
            calls.withLock { $0.append(Call(time: .now, message: request.message, metadata: request.metadata)) }
            switch script.withLock({ $0.isEmpty ? Answer.ok() : $0.removeFirst() }) {
            case .ok(let rejected, let message):
                var response = Response()
                if rejected > 0 || !message.isEmpty {
                    response.partialSuccess.rejectedSpans = rejected
                    response.partialSuccess.errorMessage = message
                }
                return ServerResponse(message: response, metadata: [:])
            case .fail(let error):
                throw error
            }
        }
    }

    /// Takes every `Export` call of the logs service and records it.
    final class RecordingLogsService: Opentelemetry_Proto_Collector_Logs_V1_LogsService.SimpleServiceProtocol {
        typealias Request = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
        let calls = Mutex<[Request]>([])

        func export(request: Request, context: ServerContext) async throws
            -> Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse
        {
            calls.withLock { $0.append(request) }
            return Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse()
        }
    }

    /// A gRPC server on a free loopback port serving both services.
    final class Receiver: Sendable {
        let traces: ScriptedTraceService
        let logs = RecordingLogsService()
        let port: Int
        private let server: GRPCServer<HTTP2ServerTransport.Posix>
        private let task: Task<Void, any Error>

        init(_ script: [Answer], listeningOn requestedPort: Int = 0) async throws {
            traces = ScriptedTraceService(script)
            let transport = HTTP2ServerTransport.Posix(
                address: .ipv4(host: "127.0.0.1", port: requestedPort), transportSecurity: .plaintext,
                config: .defaults { $0.compression = .init(enabledAlgorithms: .gzip) })
            let server = GRPCServer(transport: transport, services: [traces, logs])
            self.server = server
            task = Task { try await server.serve() }
            port = try #require(try await transport.listeningAddress.ipv4).port
        }

        var url: String { "http://127.0.0.1:\(port)" }
        var calls: [Call<ScriptedTraceService.Request>] { traces.calls.withLock { $0 } }

        func stop() async throws {
            server.beginGracefulShutdown()
            try await task.value
        }
    }

    private func config(_ receiver: Receiver) throws -> OTLPSinkConfig {
        var config = OTLPSinkConfig(endpoint: try HTTPEndpoint.parse(receiver.url).get(), transport: .grpc)
        config.request.maxAge = .milliseconds(10)
        config.request.initialBackoff = .milliseconds(10)
        config.request.maxBackoff = .milliseconds(50)
        return config
    }

    @Test func everySpanArrivesOnceWithEveryField() async throws {
        let receiver = try await Receiver([])
        var config = try config(receiver)
        config.request.maxEvents = 7
        config.request.headers = [(name: "X-Scope-OrgID", value: "tenant-a")]
        let sent = [
            OTLPSinkFixtures.spans(resources: 2, spansPerScope: 3, firstID: 0),
            OTLPSinkFixtures.spans(resources: 1, spansPerScope: 4, firstID: 100),
        ]
        let telemetry = try await runOTLPSink(config, sent.map(EventBatch.traces))
        let calls = receiver.calls
        let received = calls.map { OTLPTraceConversion.spanBatch(from: $0.message) }
        #expect(received.allSatisfy { $0.spanCount <= 7 }, "\(received.map(\.spanCount))")
        let arrived = OTLPSinkFixtures.placedSpans(received)
        #expect(arrived.values.allSatisfy { $0.count == 1 }, "no span twice")
        #expect(
            arrived == OTLPSinkFixtures.placedSpans(sent), "ids, attributes, events, links, status and groups intact")
        #expect(telemetry.sentEvents.value == 20)
        let serialized = try calls.reduce(0) { $0 + (try $1.message.serializedBytes() as [UInt8]).count }
        #expect(telemetry.sentBytes.value == UInt64(serialized), "sent bytes are the serialized messages")
        #expect(calls.allSatisfy { Array($0.metadata[stringValues: "x-scope-orgid"]) == ["tenant-a"] })
        #expect(calls.allSatisfy { Array($0.metadata[stringValues: "grpc-encoding"]) == ["gzip"] }, "gzip by default")
        try await receiver.stop()
    }

    @Test func sendsUncompressedWhenAsked() async throws {
        let receiver = try await Receiver([])
        var config = try config(receiver)
        config.request.compression = .none
        let telemetry = try await runOTLPSink(config, [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1))])
        let call = try #require(receiver.calls.first)
        #expect(!call.metadata[stringValues: "grpc-encoding"].contains("gzip"))
        #expect(telemetry.sentEvents.value == 2)
        try await receiver.stop()
    }

    @Test func retriesUnavailableAndDeliversOnce() async throws {
        let receiver = try await Receiver([.fail(RPCError(code: .unavailable, message: "restarting"))])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 2))])
        let calls = receiver.calls
        #expect(calls.count == 2, "one failure, then the delivery")
        #expect(calls.first?.message == calls.last?.message)
        #expect(telemetry.sentEvents.value == 4)
        #expect(telemetry.otlpSendingErrors == 1)
        try await receiver.stop()
    }

    @Test func invalidArgumentDropsTheBatchWithTheCodeName() async throws {
        let receiver = try await Receiver([.fail(RPCError(code: .invalidArgument, message: "bad trace id"))])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 3))])
        #expect(receiver.calls.count == 1, "never retried")
        #expect(telemetry.sentEvents.value == 0)
        #expect(telemetry.otlpDiscarded("grpc_invalid_argument") == 6)
        try await receiver.stop()
    }

    @Test func resourceExhaustedWaitsForRetryInfo() async throws {
        let throttled = GoogleRPCStatus(
            code: .resourceExhausted, message: "rate limited", details: .retryInfo(delay: .seconds(1)))
        let receiver = try await Receiver([.fail(throttled)])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1))])
        let calls = receiver.calls
        #expect(calls.count == 2)
        if calls.count == 2 { #expect(calls[1].time - calls[0].time >= .milliseconds(900), "RetryInfo was honoured") }
        #expect(telemetry.sentEvents.value == 2)
        try await receiver.stop()
    }

    @Test func partialSuccessCountsTheRejectedSpans() async throws {
        let receiver = try await Receiver([.ok(rejected: 1, message: "1 span is too old")])
        let telemetry = try await runOTLPSink(
            config(receiver), [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 2))])
        #expect(telemetry.sentEvents.value == 3)
        #expect(telemetry.otlpDiscarded("rejected_by_receiver") == 1)
        try await receiver.stop()
    }

    @Test func logsGoToTheLogsService() async throws {
        let receiver = try await Receiver([])
        let telemetry = try await runOTLPSink(
            config(receiver),
            [.logs(OTLPSinkFixtures.logs(count: 4)), .traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1))])
        let records = receiver.logs.calls.withLock { $0 }.flatMap(\.resourceLogs).flatMap(\.scopeLogs).flatMap(
            \.logRecords)
        #expect(records.map(\.body.stringValue).sorted() == (0..<4).map { "line \($0)" })
        #expect(receiver.calls.count == 1)
        #expect(telemetry.sentEvents.value == 6)
        try await receiver.stop()
    }

    @Test func unreachableReceiverIsRetriedUntilItListens() async throws {
        let port = freePort()
        var config = OTLPSinkConfig(endpoint: HTTPEndpoint(host: "127.0.0.1", port: port, target: "/"))
        config.request.maxAge = .milliseconds(10)
        config.request.initialBackoff = .milliseconds(10)
        config.request.maxBackoff = .milliseconds(50)
        let run = Task {
            try await runOTLPSink(config, [.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1))])
        }
        try await Task.sleep(for: .milliseconds(300))
        let receiver = try await Receiver([], listeningOn: port)
        let telemetry = try await run.value
        #expect(receiver.calls.count == 1)
        #expect(telemetry.sentEvents.value == 2)
        try await receiver.stop()
    }

    @Test(arguments: [
        (RPCError.Code.cancelled, true), (.unknown, false), (.invalidArgument, false), (.deadlineExceeded, true),
        (.notFound, false), (.alreadyExists, false), (.permissionDenied, false), (.resourceExhausted, true),
        (.failedPrecondition, false), (.aborted, true), (.outOfRange, true), (.unimplemented, false),
        (.internalError, false), (.unavailable, true), (.dataLoss, true), (.unauthenticated, false),
    ])
    func statusCodesSortAsTheSpecificationSays(code: RPCError.Code, retryable: Bool) {
        let outcome = OTLPGRPCExporter.outcome(of: RPCError(code: code, message: "m"))
        switch outcome {
        case .retry: #expect(retryable)
        case .drop(let reason, _):
            #expect(!retryable)
            #expect(reason == "grpc_\(OTLPGRPCExporter.name(of: code))")
        case .delivered, .itemized: Issue.record("an error is never a delivery")
        }
    }
}
