import Logging
import PetrelCore
import PetrelTransforms
import Testing

/// The `dedupe` transform: repeats within the cache dropped and counted, by the fields matched or not ignored.
@Suite struct DedupeTransformTests {
    private func build(_ entries: KeyValuePairs<String, ComponentConfigValue>) -> (
        dedupe: DedupeTransform?, errors: [String]
    ) {
        let outcome = buildComponent(DedupeTransform.definition, at: "transforms.once", componentConfig(entries))
        guard case .transform(let transform, _)? = outcome.built else { return (nil, outcome.errors) }
        return (transform as? DedupeTransform, outcome.errors)
    }

    private let telemetry = componentTestTelemetry(id: "once", type: "dedupe", kind: .transform)

    private func messages(_ transform: inout DedupeTransform, _ records: [LogRecord]) -> [String] {
        let context = TransformContext(id: "once", telemetry: telemetry, logger: Logger(label: "test.dedupe"))
        guard case .logs(let logs)? = transform.process(.logs(LogBatch(records: records)), context) else { return [] }
        return logs.records.map(\.message)
    }

    private var discarded: UInt64 {
        telemetry.registry.counter(
            "petrel_component_discarded_events_total", help: "",
            labels: [
                ("component_id", "once"), ("component_kind", "transform"), ("component_type", "dedupe"),
                ("reason", "duplicate"),
            ]
        ).value
    }

    private static func record(_ message: String, at time: Int64 = 1, pod: String = "a", request: String = "r1")
        -> LogRecord
    {
        LogRecord(
            timestamp: time, message: message, fields: ["request_id": .string(request)],
            resource: [Attribute("k8s.pod.name", .string(pod))])
    }

    @Test func repeatsOfTheMatchedFieldsAreDroppedAndCountedAlsoAcrossBatches() throws {
        var dedupe = try #require(build(["fields": ["match": ["message", "resource.k8s.pod.name"]]]).dedupe)
        #expect(
            messages(
                &dedupe, [Self.record("a"), Self.record("a", at: 2), Self.record("a", pod: "b"), Self.record("b")])
                == ["a", "a", "b"], "the time is not matched; another pod is another record")
        #expect(messages(&dedupe, [Self.record("b", at: 9), Self.record("c")]) == ["c"])
        #expect(discarded == 2)
    }

    @Test func ignoreComparesEverythingElse() throws {
        var dedupe = try #require(build(["fields": ["ignore": ["timestamp", "request_id"]]]).dedupe)
        #expect(
            messages(&dedupe, [Self.record("a"), Self.record("a", at: 5, request: "r2"), Self.record("a", pod: "b")])
                == ["a", "a"])
    }

    @Test func theCacheForgetsTheLeastRecentlySeen() throws {
        var dedupe = try #require(build(["fields": ["match": ["message"]], "cache": ["num_events": 2]]).dedupe)
        // "a" seen again is the most recent, so "c" pushes "b" out (b comes back), which pushes "a" out (a comes back).
        #expect(
            messages(&dedupe, ["a", "b", "a", "c", "b", "a", "b"].map { Self.record($0) }) == ["a", "b", "c", "b", "a"])
    }

    @Test func defaultsAreVectorsAndBadSettingsAreErrors() throws {
        #expect(try #require(build([:]).dedupe).fields == .match(["timestamp", "host", "message"]))
        #expect(build(["fields": ["match": ["a"], "ignore": ["b"]]]).errors.contains { $0.contains("exactly one of") })
        #expect(build(["fields": ["match": []]]).errors.contains { $0.contains("at least one") })
        #expect(!build(["cache": ["num_events": 0]]).errors.isEmpty)
    }
}
