import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import OTLPServices
import PetrelCodecs
import PetrelCore
import PetrelSources
import PetrelTestSupport
import Synchronization
import Testing

private typealias TraceService = Opentelemetry_Proto_Collector_Trace_V1_TraceService
private typealias MetricsService = Opentelemetry_Proto_Collector_Metrics_V1_MetricsService
private typealias LogsService = Opentelemetry_Proto_Collector_Logs_V1_LogsService

/// The `otlp` source over OTLP/gRPC, with grpc-swift's own client, and how both servers start and stop together.
@Suite struct OTLPSourceGRPCTests {
    @Test func spansArriveAsTheSameBatchAsOverHTTP() async throws {
        let source = try await RunningOTLPSource()
        let request = OTLPFixtures.traceRequest(spans: 3)
        let expected = OTLPTraceConversion.spanBatch(from: request, dropInvalid: true).batch
        for gzip in [false, true] {
            let response = try await source.withClient(gzip: gzip) { client in
                try await TraceService.Client(wrapping: client).export(request)
            }
            #expect(response == TraceResponse(), "an empty response (gzip: \(gzip))")
            guard case .traces(let batch)? = await source.nextBatch() else {
                Issue.record("no span batch was queued (gzip: \(gzip))")
                continue
            }
            #expect(batch == expected, "gzip: \(gzip)")
        }
        #expect(await source.post(OTLPFixtures.protobuf(request))?.status == 200)
        guard case .traces(let overHTTP)? = await source.nextBatch() else {
            Issue.record("no span batch was queued over HTTP")
            return
        }
        #expect(overHTTP == expected)
        #expect(source.telemetry.receivedEvents.value == 9)
        try await source.stop()
    }

    @Test func logsAndMetricsArriveAsBatches() async throws {
        let source = try await RunningOTLPSource()
        let logs = OTLPFixtures.logsRequest(records: 2)
        let metrics = OTLPFixtures.metricsRequest(points: 3)
        let responses = try await source.withClient { client in
            (
                try await LogsService.Client(wrapping: client).export(logs),
                try await MetricsService.Client(wrapping: client).export(metrics)
            )
        }
        #expect(responses.0 == LogsResponse())
        #expect(responses.1 == MetricsResponse())
        guard case .logs(let logBatch)? = await source.nextBatch() else {
            Issue.record("no log batch was queued")
            return
        }
        #expect(logBatch == OTLPLogConversion.logBatch(from: logs))
        guard case .metrics(let metricBatch)? = await source.nextBatch() else {
            Issue.record("no metric batch was queued")
            return
        }
        #expect(metricBatch.seriesCount == 3)
        try await source.stop()
    }

    @Test func invalidSpansAreReportedAsPartialSuccess() async throws {
        let source = try await RunningOTLPSource()
        let response = try await source.withClient { client in
            try await TraceService.Client(wrapping: client).export(OTLPFixtures.traceRequest(spans: 1, invalid: 2))
        }
        #expect(response.partialSuccess.rejectedSpans == 2)
        #expect(!response.partialSuccess.errorMessage.isEmpty)
        guard case .traces(let batch)? = await source.nextBatch() else {
            Issue.record("the valid span was not queued")
            return
        }
        #expect(batch.spanCount == 1)
        try await source.stop()
    }

    @Test func malformedMessagesAreInvalidArgumentAndTheSourceKeepsServing() async throws {
        let source = try await RunningOTLPSource()
        let valid = OTLPFixtures.protobuf(OTLPFixtures.traceRequest())
        for body in [Array(valid.dropLast(2)), [0x0A, 0x01], [0xFF]] {
            let error = await #expect(throws: RPCError.self) {
                try await source.withClient { client in
                    try await client.unary(
                        request: ClientRequest(message: body), descriptor: TraceService.Method.Export.descriptor,
                        serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
                    ) { try $0.message }
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("ExportTraceServiceRequest") == true, "\(String(describing: error))")
        }
        #expect(source.telemetry.errorCount(.receiving) == 3)
        let response = try await source.withClient { client in
            try await TraceService.Client(wrapping: client).export(OTLPFixtures.traceRequest())
        }
        #expect(response == TraceResponse(), "the source still serves")
        #expect(source.queue.count == 1)
        try await source.stop()
    }

    @Test func fullPipelineIsResourceExhaustedWithRetryInfo() async throws {
        let source = try await RunningOTLPSource(queueCapacity: 1)
        let request = OTLPFixtures.traceRequest()
        try await source.withClient { client in
            let traces = TraceService.Client(wrapping: client)
            _ = try await traces.export(request)
            let error = await #expect(throws: RPCError.self) { try await traces.export(request) }
            #expect(error?.code == .resourceExhausted)
            let details = error.map { Array($0.metadata[binaryValues: "grpc-status-details-bin"]) } ?? []
            let status = try #require(details.first.flatMap { DecodedStatus(protobuf: $0) })
            #expect(status.code == 8)
            #expect(status.retryInfo, "RetryInfo is what makes OTLP clients retry RESOURCE_EXHAUSTED")
            _ = await source.queue.next()
            #expect(try await traces.export(request) == TraceResponse(), "accepted again once there is room")
        }
        #expect(source.telemetry.errorCount(.sending) == 1)
        try await source.stop()
    }

    @Test func messagesOverTheLimitAreRejected() async throws {
        var config = OTLPSourceConfig()
        config.maxMessageSize = 16 * 1024
        let source = try await RunningOTLPSource(config: config)
        func request(attributeSize: Int) -> TraceRequest {
            var request = OTLPFixtures.traceRequest(spans: 1)
            request.resourceSpans[0].resource.attributes.append(
                OTLPFixtures.attribute("big", String(repeating: "x", count: attributeSize)))
            return request
        }
        // Somewhat too large: refused for good, as grpc servers do.
        for gzip in [false, true] {
            let error = await #expect(throws: RPCError.self) {
                try await source.withClient(gzip: gzip) { client in
                    try await TraceService.Client(wrapping: client).export(request(attributeSize: 20 * 1024))
                }
            }
            #expect(error?.code == .resourceExhausted, "gzip: \(gzip): \(String(describing: error))")
            #expect(error?.message.contains("limit of 16384 bytes") == true)
        }
        // Past twice the limit grpc-swift would reset the stream (clients retry that for ever); the prefix says so.
        let error = await #expect(throws: RPCError.self) {
            try await source.withClient { client in
                try await TraceService.Client(wrapping: client).export(request(attributeSize: 40 * 1024))
            }
        }
        #expect(error?.code == .resourceExhausted, "\(String(describing: error))")
        #expect(error?.message.contains("exceeds the limit of 16384 bytes") == true)
        #expect(source.queue.count == 0)
        #expect(source.telemetry.errorCount(.receiving) == 3)
        let response = try await source.withClient { client in
            try await TraceService.Client(wrapping: client).export(OTLPFixtures.traceRequest())
        }
        #expect(response == TraceResponse(), "the source still serves")
        try await source.stop()
    }

    @Test func shutdownStopsBothServers() async throws {
        let source = try await RunningOTLPSource()
        try await source.stop()
        #expect(await httpRequest(port: source.httpPort, method: "POST", path: "/v1/traces") == nil)
        let error = await #expect(throws: RPCError.self) {
            try await source.withClient { client in
                var options = CallOptions.defaults
                options.timeout = .seconds(2)
                return try await TraceService.Client(wrapping: client).export(
                    OTLPFixtures.traceRequest(), options: options)
            }
        }
        #expect(error?.code == .unavailable || error?.code == .deadlineExceeded)
    }

    /// Exporters keep their connection open; shutdown must not wait for them to hang up.
    @Test func shutdownEndsWhileAClientStaysConnected() async throws {
        let source = try await RunningOTLPSource()
        try await source.withClient { client in
            let traces = TraceService.Client(wrapping: client)
            _ = try await traces.export(OTLPFixtures.traceRequest())
            source.shutdown.trigger()
            let stopped = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    _ = try? await source.task.value
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(5))
                    return false
                }
                let first = await group.next() ?? false
                // Cancelling the source ends it even when it hangs, so the group can finish.
                source.task.cancel()
                group.cancelAll()
                return first
            }
            #expect(stopped, "the source returned while the client was still connected")
        }
        #expect(source.queue.count == 1, "what was accepted stays accepted")
    }

    @Test func onlyTheListedProtocolsRun() async throws {
        var config = OTLPSourceConfig()
        config.protocols = [.http]
        let source = try await RunningOTLPSource(config: config)
        #expect(await source.post(OTLPFixtures.protobuf(OTLPFixtures.traceRequest()))?.status == 200)
        #expect(await httpRequest(port: source.grpcPort, path: "/") == nil, "nothing listens on the gRPC port")
        try await source.stop()
    }

    /// A port in use fails the source, and the server that did start stops with it instead of holding the run open.
    @Test func aTakenPortFailsTheSource() async throws {
        let first = try await RunningOTLPSource()
        var config = OTLPSourceConfig()
        config.grpcAddress = HostPort(host: "127.0.0.1", port: freePort())
        config.httpAddress = HostPort(host: "127.0.0.1", port: first.httpPort)
        let telemetry = componentTestTelemetry(id: "second", type: "otlp", kind: .source)
        let context = SourceContext(
            id: "second", output: Output(edges: [], telemetry: telemetry), telemetry: telemetry,
            logger: Logger(label: "test"), shutdown: ShutdownSignal(), onReady: {})
        await #expect(throws: (any Error).self) { try await OTLPSource(config: config).run(context) }
        try await first.stop()
    }
}

/// Sends and receives messages as raw bytes, to put malformed protobuf on the wire.
private struct RawBytesCoder: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}
