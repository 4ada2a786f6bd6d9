import PetrelCore
import PetrelNet
import PetrelSinks
import PetrelTestSupport
import Testing

/// The `victorialogs` sink against a receiver that does what VictoriaLogs' data-ingestion documentation says of
/// `/insert/jsonline` (no VictoriaLogs server is packaged here).
@Suite struct VictoriaLogsSinkTests {
    private func build(_ node: ConfigNode) -> (config: VictoriaLogsSinkConfig?, errors: [String]) {
        let outcome = buildComponent(VictoriaLogsSink.definition, at: "sinks.vlogs", node)
        guard case .sink(let sink as VictoriaLogsSink, _)? = outcome.built else { return (nil, outcome.errors) }
        return (sink.config, outcome.errors)
    }

    private func config(_ receiver: VictoriaLogsReceiver) throws -> VictoriaLogsSinkConfig {
        var config = VictoriaLogsSinkConfig(endpoint: try HTTPEndpoint.parse(receiver.url).get())
        config.request.maxAge = .milliseconds(10)
        config.request.initialBackoff = .milliseconds(10)
        config.request.maxBackoff = .milliseconds(50)
        return config
    }

    @Test func readsItsKeys() throws {
        let (config, errors) = build(
            componentConfig([
                "endpoint": "http://vlogs:9428/", "stream_fields": ["k8s.namespace.name", "app"], "account_id": 12,
                "project_id": 3, "compression": "none", "batch": ["max_events": 500],
            ]))
        #expect(errors.isEmpty, "\(errors)")
        let built = try #require(config)
        #expect(built.streamFields == ["k8s.namespace.name", "app"])
        #expect(built.accountID == 12 && built.projectID == 3)
        #expect(built.request.compression == .none && built.request.maxEvents == 500)
        #expect(
            built.insertEndpoint.target
                == "/insert/jsonline?_msg_field=_msg&_time_field=_time&_stream_fields=k8s.namespace.name,app")
    }

    @Test func defaultsStreamOnNamespacePodContainerAndNode() throws {
        let (config, errors) = build(componentConfig(["endpoint": "http://vlogs:9428"]))
        #expect(errors.isEmpty, "\(errors)")
        let built = try #require(config)
        #expect(built.streamFields == ["k8s.namespace.name", "k8s.pod.name", "k8s.container.name", "k8s.node.name"])
        #expect(built.request.compression == .gzip && built.accountID == nil)
    }

    @Test func errorsNameTheKey() {
        let (_, errors) = build(
            componentConfig([
                "endpoint": "http://vlogs:9428/?x=1", "stream_fields": ["a,b"], "account_id": -1,
                "compression": "snappy", "stream": 1,
            ]))
        #expect(
            errors.sorted() == [
                "petrel.yaml: sinks.vlogs.account_id: must be between 0 and 4294967295, found -1",
                "petrel.yaml: sinks.vlogs.compression: expected one of gzip, none, found \"snappy\"",
                "petrel.yaml: sinks.vlogs.endpoint: expected a base URL such as http://victorialogs:9428, without a query",
                "petrel.yaml: sinks.vlogs.stream: unknown key",
                "petrel.yaml: sinks.vlogs.stream_fields: field names must be non-empty and hold no comma, found \"a,b\"",
            ], "\(errors.sorted())")
    }

    @Test func everyRecordArrivesOnceWithItsStreamFieldsAndTenant() async throws {
        let receiver = try await VictoriaLogsReceiver()
        var config = try config(receiver)
        config.accountID = 7
        config.projectID = 2
        config.request.maxEvents = 40
        let records = LogStoreFixtures.records(count: 100)
        let probe = AcknowledgementProbe()
        let telemetry = try await runLogStoreSink(
            VictoriaLogsSink(config: config), id: "vlogs", type: "victorialogs",
            [Envelope(.logs(LogBatch(records: records)), acknowledgement: probe.acknowledgement)])
        try await receiver.stop()
        #expect(
            receiver.refusals.isEmpty && receiver.invalidLines.isEmpty, "\(receiver.refusals) \(receiver.invalidLines)")
        #expect(receiver.requests == 3, "100 records at 40 per request")
        // Requests go out concurrently: each record once, in whatever order the requests landed.
        let entries = receiver.entries.sorted { $0.time < $1.time }
        #expect(entries.map(\.message) == records.map(\.message))
        #expect(entries.map(\.time) == records.map(\.timestamp))
        let first = try #require(entries.first)
        #expect(first.tenant == "7:2")
        #expect(
            first.stream == [
                "k8s.namespace.name": "shop", "k8s.pod.name": "api-7d4b9-x2x7q", "k8s.container.name": "api",
                "k8s.node.name": "node-a",
            ])
        #expect(first.fields["level"] == "INFO" && first.fields["log.iostream"] == "stderr")
        #expect(first.fields["k8s.pod.label.app.kubernetes.io/name"] == "shop-api" && first.fields["n"] == "0")
        #expect(first.fields["file"] == "/var/log/pods/shop_api-7d4b9-x2x7q_uid-1/api/0.log")
        #expect(entries[1].fields["level"] == nil, "no severity, no level")
        #expect(probe.isAcknowledged)
        #expect(telemetry.sent == 100)
    }

    @Test func sendsPlainJSONLinesWithoutCompression() async throws {
        let receiver = try await VictoriaLogsReceiver()
        var config = try config(receiver)
        config.request.compression = .none
        _ = try await runLogStoreSink(
            VictoriaLogsSink(config: config), id: "vlogs", type: "victorialogs",
            [Envelope(.logs(LogBatch(records: LogStoreFixtures.records(count: 5))))])
        try await receiver.stop()
        #expect(receiver.entries.map(\.message) == (0..<5).map { "pod=api-7d4b9-x2x7q seq=\($0)" })
        #expect(receiver.entries.first?.tenant == "0:0")
    }

    @Test func tooManyRequestsThenOKDeliversEverythingOnce() async throws {
        let receiver = try await VictoriaLogsReceiver(script: [429, 503])
        let records = LogStoreFixtures.records(count: 30)
        let telemetry = try await runLogStoreSink(
            VictoriaLogsSink(config: try config(receiver)), id: "vlogs", type: "victorialogs",
            [Envelope(.logs(LogBatch(records: records)))])
        try await receiver.stop()
        #expect(receiver.requests == 3)
        #expect(receiver.entries.map(\.message).sorted() == records.map(\.message).sorted())
        #expect(telemetry.sent == 30)
        #expect(
            telemetry.registry.value(
                "petrel_victorialogs_retries_total",
                labels: [("component_id", "vlogs"), ("endpoint", "\(receiver.url)/")]) == 2)
    }

    @Test func badRequestDropsTheRequestWithItsStatus() async throws {
        let receiver = try await VictoriaLogsReceiver(script: [400])
        let probe = AcknowledgementProbe()
        let telemetry = try await runLogStoreSink(
            VictoriaLogsSink(config: try config(receiver)), id: "vlogs", type: "victorialogs",
            [
                Envelope(
                    .logs(LogBatch(records: LogStoreFixtures.records(count: 4))), acknowledgement: probe.acknowledgement
                )
            ])
        try await receiver.stop()
        #expect(receiver.requests == 1 && receiver.entries.isEmpty)
        #expect(telemetry.discarded("http_400") == 4)
        #expect(probe.isAcknowledged, "a dropped request lets its batch go")
    }
}
