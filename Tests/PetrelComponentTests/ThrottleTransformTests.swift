import Logging
import PetrelCore
import PetrelTransforms
import Synchronization
import Testing

/// The `throttle` transform: at most `threshold` records per window and key, the rest dropped and counted per key.
@Suite struct ThrottleTransformTests {
    /// A clock the test moves.
    final class ManualClock: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        var now: ContinuousClock.Instant { instant.withLock { $0 } }
        func advance(_ duration: Duration) { instant.withLock { $0 += duration } }
    }

    private let telemetry = componentTestTelemetry(id: "limit", type: "throttle", kind: .transform)

    private func throttle(_ entries: KeyValuePairs<String, ComponentConfigValue>, clock: ManualClock) throws
        -> ThrottleTransform
    {
        let outcome = buildComponent(ThrottleTransform.definition, at: "transforms.limit", componentConfig(entries))
        #expect(outcome.errors == [])
        let built = try #require(
            { () -> ThrottleTransform? in
                guard case .transform(let transform, _)? = outcome.built else { return nil }
                return transform as? ThrottleTransform
            }())
        return ThrottleTransform(
            threshold: built.threshold, window: built.window, keyField: built.keyField, maxKeys: built.maxKeys,
            now: { clock.now })
    }

    private func pass(_ throttle: inout ThrottleTransform, _ services: [String]) -> [String] {
        let context = TransformContext(id: "limit", telemetry: telemetry, logger: Logger(label: "test.throttle"))
        let records = services.enumerated().map {
            LogRecord(
                timestamp: Int64($0.offset), message: "\($0.element)-\($0.offset)",
                fields: ["service": .string($0.element)])
        }
        guard case .logs(let logs)? = throttle.process(.logs(LogBatch(records: records)), context) else { return [] }
        return logs.records.map(\.message)
    }

    private func droppedCount(key: String) -> UInt64 {
        telemetry.registry.counter(
            "petrel_throttle_discarded_events_total", help: "",
            labels: [("component_id", "limit"), ("component_type", "throttle"), ("key", key)]
        ).value
    }

    @Test func eachKeyGetsItsThresholdPerWindowAndTheRestIsCountedPerKey() throws {
        let clock = ManualClock()
        var limit = try throttle(
            ["threshold": 3, "window_secs": 10, "key_field": "{{ fields.service }}"], clock: clock)
        #expect(pass(&limit, ["a", "a", "b", "a", "a", "b", "a"]) == ["a-0", "a-1", "b-2", "a-3", "b-5"])
        #expect(droppedCount(key: "a") == 2)
        #expect(droppedCount(key: "b") == 0)
        clock.advance(.seconds(5))
        #expect(pass(&limit, ["a", "a", "a"]) == ["a-0"], "half a window gives back one and a half")
        clock.advance(.seconds(60))
        #expect(pass(&limit, ["a", "a", "a", "a"]) == ["a-0", "a-1", "a-2"], "never more than the threshold at once")
    }

    @Test func withoutAKeyEveryRecordSharesOneBucketAndKeysPastTheCapShareAnother() throws {
        let clock = ManualClock()
        var shared = try throttle(["threshold": 2], clock: clock)
        #expect(pass(&shared, ["a", "b", "c"]) == ["a-0", "b-1"])
        var capped = try throttle(["threshold": 1, "key_field": "{{ fields.service }}", "max_keys": 1], clock: clock)
        #expect(pass(&capped, ["a", "b", "c", "a"]) == ["a-0", "b-1"], "b and c share the other bucket")
        #expect(droppedCount(key: "_other") == 1)
    }

    @Test func badSettingsAreErrors() {
        let errors = { (entries: KeyValuePairs<String, ComponentConfigValue>) in
            buildComponent(ThrottleTransform.definition, at: "transforms.limit", componentConfig(entries)).errors
        }
        #expect(errors([:]).contains { $0.contains("threshold") })
        #expect(errors(["threshold": 0]).contains { $0.contains("threshold") })
        #expect(errors(["threshold": 5, "window_secs": "0s"]).contains { $0.contains("positive") })
        #expect(!errors(["threshold": 5, "key_field": "{{ fields.service"]).isEmpty)
    }
}
