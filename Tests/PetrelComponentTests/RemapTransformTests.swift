import Logging
import PetrelCore
import Testing

@testable import PetrelTransforms

/// The `remap` transform on log batches: what records become, and what happens to those a program fails or aborts on.
@Suite struct RemapTransformTests {
    private let context = TransformContext(
        id: "shape", telemetry: componentTestTelemetry(id: "shape", type: "remap", kind: .transform),
        logger: Logger(label: "test.remap"))

    private func transform(_ program: String, extra: KeyValuePairs<String, ComponentConfigValue> = [:]) throws
        -> RemapTransform
    {
        var entries: [(key: String, value: ComponentConfigValue)] = [(key: "source", value: .scalar(program))]
        entries += extra.map { (key: $0.key, value: $0.value) }
        let outcome = buildComponent(
            RemapTransform.definition, at: "transforms.shape", ComponentConfigValue.map(entries).configNode())
        #expect(outcome.errors == [])
        guard case .transform(let built, let accepts)? = outcome.built else { throw RemapTestFailure() }
        #expect(accepts == .all)
        return try #require(built as? RemapTransform)
    }

    private func run(
        _ program: String, _ records: [LogRecord], extra: KeyValuePairs<String, ComponentConfigValue> = [:]
    ) throws
        -> [LogRecord]
    {
        var remap = try transform(program, extra: extra)
        guard case .logs(let logs)? = remap.process(.logs(LogBatch(records: records)), context) else { return [] }
        return logs.records
    }

    @Test func parsesJSONAndReshapesFields() throws {
        let record = LogRecord(
            timestamp: 1_000, message: #"{"level":"warn","user":{"id":7},"msg":"disk low"}"#, severity: "",
            fields: ["host": .string("a")])
        let out = try run(
            """
            . |= object!(parse_json!(.message))
            .message = del(.msg)
            .severity = upcase!(del(.level))
            .user_id = .user.id
            del(.user)
            """, [record])
        #expect(out.count == 1)
        #expect(out[0].message == "disk low")
        #expect(out[0].severity == "WARN")
        #expect(out[0].fields == ["host": .string("a"), "user_id": .int(7)])
        #expect(out[0].timestamp == 1_000)
    }

    @Test func timestampAndMetadataRoundTrip() throws {
        let record = LogRecord(
            timestamp: 5, message: "m", metadata: ["file": "/var/log/a.log"],
            resource: [Attribute("k8s.namespace.name", .string("web")), Attribute("k8s.pod.name", .string("p"))])
        let out = try run(
            """
            .timestamp = t'2021-01-01T00:00:00Z'
            .ns = %resource."k8s.namespace.name"
            %resource."cloud.region" = "eu"
            del(%resource."k8s.pod.name")
            %source = "tail"
            """, [record])
        #expect(out[0].timestamp == 1_609_459_200_000_000_000)
        #expect(out[0].fields["ns"] == .string("web"))
        #expect(
            out[0].resource == [
                Attribute("k8s.namespace.name", .string("web")), Attribute("cloud.region", .string("eu")),
            ])
        #expect(out[0].metadata == ["file": "/var/log/a.log", "source": "tail"])
    }

    @Test func failedEventPassesUnchangedByDefault() throws {
        let good = LogRecord(timestamp: 1, message: #"{"a":1}"#)
        let bad = LogRecord(timestamp: 2, message: "not json")
        let out = try run(". |= object!(parse_json!(.message))", [good, bad])
        #expect(out.count == 2)
        #expect(out[0].fields == ["a": .int(1)])
        #expect(out[1] == bad)
    }

    @Test func failedEventIsDroppedWithDropOnError() throws {
        let good = LogRecord(timestamp: 1, message: #"{"a":1}"#)
        let bad = LogRecord(timestamp: 2, message: "not json")
        let out = try run(". |= object!(parse_json!(.message))", [good, bad], extra: ["drop_on_error": true])
        #expect(out.map(\.timestamp) == [1])
        #expect(context.telemetry.discardedEvents == 1)
    }

    @Test func abortDropsByDefaultAndKeepsWhenAsked() throws {
        let records = [LogRecord(timestamp: 1, message: "debug: x"), LogRecord(timestamp: 2, message: "info: y")]
        let program = #"if starts_with(string!(.message), "debug") { abort }; .seen = true"#
        let dropped = try run(program, records)
        #expect(dropped.map(\.timestamp) == [2])
        #expect(dropped[0].fields == ["seen": .bool(true)])
        let kept = try run(program, records, extra: ["drop_on_abort": false])
        #expect(kept.map(\.timestamp) == [1, 2])
        #expect(kept[0] == records[0])
    }

    /// The README's example, on a JSON line and a plain one.
    @Test func readmeExample() throws {
        let program = """
            structured = parse_json(.message) ?? {}
            . |= object(structured) ?? {}
            .severity = downcase(.level) ?? "info"
            del(.level)
            if .severity == "debug" { abort }
            .cluster = %resource."k8s.cluster.name"
            """
        let resource = [Attribute("k8s.cluster.name", .string("eu-1"))]
        let records = [
            LogRecord(timestamp: 1, message: #"{"level":"WARN","message":"disk low"}"#, resource: resource),
            LogRecord(timestamp: 2, message: "plain text", resource: resource),
            LogRecord(timestamp: 3, message: #"{"level":"debug"}"#, resource: resource),
        ]
        let out = try run(program, records)
        #expect(out.count == 2)
        #expect(out[0].message == "disk low")
        #expect(out[0].severity == "warn")
        #expect(out[0].fields == ["cluster": .string("eu-1")])
        #expect(out[1].message == "plain text")
        #expect(out[1].severity == "info")
        #expect(out[1].resource == resource)
    }

    @Test func rerouteDroppedHandsTheDroppedRecordsOver() throws {
        var remap = try transform(
            ". |= object!(parse_json!(.message))", extra: ["drop_on_error": true, "reroute_dropped": true])
        #expect(remap.namedOutputs == ["dropped"])
        let good = LogRecord(timestamp: 1, message: #"{"a":1}"#)
        let bad = LogRecord(timestamp: 2, message: "not json")
        guard case .logs(let kept)? = remap.process(.logs(LogBatch(records: [good, bad])), context) else {
            Issue.record("nothing kept")
            return
        }
        #expect(kept.records.map(\.timestamp) == [1])
        let rerouted = remap.takeNamedOutputBatches()
        #expect(rerouted.map(\.output) == ["dropped"])
        guard case .logs(let dropped)? = rerouted.first?.batch else {
            Issue.record("no dropped batch")
            return
        }
        #expect(dropped.records.map(\.message) == ["not json"])
        #expect(dropped.records[0].metadata["dropped.reason"] == "error")
        #expect(remap.takeNamedOutputBatches().isEmpty)
        #expect(try transform(".a = 1").namedOutputs == [])
    }

    @Test func emptyBatchAfterDroppingIsNil() throws {
        var remap = try transform("abort")
        #expect(remap.process(.logs(LogBatch(records: [LogRecord(timestamp: 1, message: "m")])), context) == nil)
    }

    @Test func metricsPassThroughUnchanged() throws {
        var remap = try transform(#".a = 1"#)
        guard case .metrics? = remap.process(.metrics(MetricBatch()), context) else {
            Issue.record("metrics did not pass through")
            return
        }
    }
}

private struct RemapTestFailure: Error {}
