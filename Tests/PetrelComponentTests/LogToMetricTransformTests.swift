import Logging
import PetrelCore
import PetrelTransforms
import Synchronization
import Testing

/// The `log_to_metric` transform: cumulative series per label set, sent on at each flush, expired when idle.
@Suite struct LogToMetricTransformTests {
    typealias ManualClock = ThrottleTransformTests.ManualClock

    /// A wall clock in milliseconds the test moves.
    final class ManualWallClock: Sendable {
        private let milliseconds = Mutex<Int64>(1_700_000_000_000)
        var now: Int64 { milliseconds.withLock { $0 } }
        func advance(_ delta: Int64) { milliseconds.withLock { $0 += delta } }
    }

    private let telemetry = componentTestTelemetry(id: "l2m", type: "log_to_metric", kind: .transform)
    private var context: TransformContext {
        TransformContext(id: "l2m", telemetry: telemetry, logger: Logger(label: "test.log_to_metric"))
    }

    private func transform(
        _ entries: KeyValuePairs<String, ComponentConfigValue>, clock: ManualClock, wall: ManualWallClock
    ) throws -> LogToMetricTransform {
        let outcome = buildComponent(LogToMetricTransform.definition, at: "transforms.l2m", componentConfig(entries))
        #expect(outcome.errors == [])
        let built = try #require(
            { () -> LogToMetricTransform? in
                guard case .transform(let transform, _)? = outcome.built else { return nil }
                return transform as? LogToMetricTransform
            }())
        return LogToMetricTransform(config: built.config, now: { clock.now }, wallMilliseconds: { wall.now })
    }

    private func record(_ fields: [String: AnyValue]) -> LogRecord {
        LogRecord(timestamp: 0, message: "line", fields: fields)
    }

    /// Each series as `name{a="x",b="y"}` (labels sorted) with its samples.
    private func rendered(_ envelope: Envelope?) -> [String: [Sample]] {
        guard case .metrics(let batch)? = envelope?.batch else { return [:] }
        var result: [String: [Sample]] = [:]
        for index in batch.series.indices {
            let pairs = batch.labelPairs(of: index)
            let name = pairs.first { $0.name == "__name__" }?.value ?? ""
            let labels = pairs.filter { $0.name != "__name__" }.map { "\($0.name)=\"\($0.value)\"" }
            result["\(name){\(labels.joined(separator: ","))}"] = Array(batch.samples(of: index))
        }
        return result
    }

    private func values(_ series: [String: [Sample]]) -> [String: [Double]] {
        series.mapValues { $0.map(\.value) }
    }

    @Test func countersAreCumulativePerLabelSetWithAFirstZeroAtCreation() throws {
        let clock = ManualClock()
        let wall = ManualWallClock()
        var l2m = try transform(
            [
                "metrics": [
                    [
                        "type": "counter", "field": "status", "name": "requests_total", "namespace": "web",
                        "tags": ["status": "{{ fields.status }}", "host": "{{ metadata.host }}"],
                    ]
                ]
            ], clock: clock, wall: wall)
        let created = wall.now
        let batch = LogBatch(records: [
            record(["status": .int(200)]), record(["status": .int(500)]), record(["status": .int(200)]),
        ])
        let immediate = l2m.process(.logs(batch), context)
        #expect(immediate == nil, "nothing goes out before a flush")
        wall.advance(10_000)
        let first = rendered(l2m.flush(final: false, context))
        #expect(
            first == [
                #"web_requests_total{status="200"}"#: [
                    Sample(timestamp: created, value: 0), Sample(timestamp: created + 10_000, value: 2),
                ],
                #"web_requests_total{status="500"}"#: [
                    Sample(timestamp: created, value: 0), Sample(timestamp: created + 10_000, value: 1),
                ],
            ], "the missing host leaves its label out")
        _ = l2m.process(.logs(LogBatch(records: [record(["status": .string("200")])])), context)
        wall.advance(10_000)
        let second = rendered(l2m.flush(final: false, context))
        #expect(
            second == [
                #"web_requests_total{status="200"}"#: [Sample(timestamp: created + 20_000, value: 3)],
                #"web_requests_total{status="500"}"#: [Sample(timestamp: created + 20_000, value: 1)],
            ], "running totals, every live series at every flush, the zero only once")
    }

    @Test func incrementByValueAndGaugesReadTheFieldAndSkipWhatIsNotANumber() throws {
        let clock = ManualClock()
        let wall = ManualWallClock()
        var l2m = try transform(
            [
                "metrics": [
                    ["type": "counter", "field": "bytes", "name": "bytes_total", "increment_by_value": true],
                    ["type": "gauge", "field": "queue.depth", "name": "queue_depth"],
                ]
            ], clock: clock, wall: wall)
        let records = [
            record(["bytes": .int(100), "queue": .object(["depth": .double(4.5)])]),
            record(["bytes": .string("250"), "queue": .object(["depth": .int(2)])]),
            record(["bytes": .string("lots")]),
            record(["bytes": .int(-5)]),
        ]
        _ = l2m.process(.logs(LogBatch(records: records)), context)
        wall.advance(1_000)
        let flushed = values(rendered(l2m.flush(final: true, context)))
        #expect(
            flushed == [
                "bytes_total{}": [0, 350], "queue_depth{}": [2],
            ])
        #expect(telemetry.discardedEvents == 4, "two not numbers (lots, -5 to a counter), two without queue.depth")
    }

    @Test func histogramsAreCumulativeBucketsWithSumAndCount() throws {
        let clock = ManualClock()
        let wall = ManualWallClock()
        var l2m = try transform(
            [
                "metrics": [
                    [
                        "type": "histogram", "field": "duration", "name": "request_seconds", "buckets": [0.1, 1],
                        "tags": ["route": "{{ fields.route }}"],
                    ]
                ]
            ], clock: clock, wall: wall)
        let durations: [Double] = [0.05, 0.1, 0.5, 3]
        _ = l2m.process(
            .logs(LogBatch(records: durations.map { record(["duration": .double($0), "route": .string("/a")]) })),
            context)
        wall.advance(1_000)
        let last = values(rendered(l2m.flush(final: false, context))).mapValues { $0.last! }
        #expect(
            last == [
                #"request_seconds_bucket{le="0.1",route="/a"}"#: 2,
                #"request_seconds_bucket{le="1",route="/a"}"#: 3,
                #"request_seconds_bucket{le="+Inf",route="/a"}"#: 4,
                #"request_seconds_sum{route="/a"}"#: 3.65,
                #"request_seconds_count{route="/a"}"#: 4,
            ])
    }

    @Test func seriesPastTheCapAreDroppedAndCountedAndIdleSeriesGoStaleOnce() throws {
        let clock = ManualClock()
        let wall = ManualWallClock()
        var l2m = try transform(
            [
                "max_series": 2, "expire_after": "60s",
                "metrics": [
                    ["type": "counter", "field": "user", "name": "logins_total", "tags": ["user": "{{ fields.user }}"]]
                ],
            ], clock: clock, wall: wall)
        _ = l2m.process(.logs(LogBatch(records: ["a", "b", "c", "a"].map { record(["user": .string($0)]) })), context)
        #expect(l2m.seriesCount == 2)
        #expect(telemetry.discardedEvents == 1, "c would be a third series")
        clock.advance(.seconds(40))
        wall.advance(40_000)
        _ = l2m.process(.logs(LogBatch(records: [record(["user": .string("a")])])), context)
        _ = l2m.flush(final: false, context)
        clock.advance(.seconds(30))
        wall.advance(30_000)
        let stale = rendered(l2m.flush(final: false, context))
        #expect(stale[#"logins_total{user="a"}"#]?.map(\.value) == [3])
        let marker = try #require(stale[#"logins_total{user="b"}"#])
        #expect(marker.count == 1 && marker[0].value.bitPattern == 0x7ff0_0000_0000_0002, "Prometheus' stale marker")
        #expect(l2m.seriesCount == 1)
        wall.advance(10_000)
        let after = rendered(l2m.flush(final: false, context))
        #expect(after.keys.sorted() == [#"logins_total{user="a"}"#])
    }

    @Test func aRecordIsAcknowledgedOnceCounted() {
        let acknowledged = Mutex(0)
        var l2m = LogToMetricTransform(
            config: LogToMetricConfig(metrics: [.init(kind: .counter, field: "message", name: "lines_total")]))
        let acknowledgement = Acknowledgement { acknowledged.withLock { $0 += 1 } }
        let result = l2m.process(
            Envelope(.logs(LogBatch(records: [record([:])])), acknowledgement: acknowledgement), context)
        #expect(result == nil)
        #expect(acknowledged.withLock { $0 } == 1)
    }

    @Test func badSettingsAreErrors() {
        let errors = { (entries: KeyValuePairs<String, ComponentConfigValue>) in
            buildComponent(LogToMetricTransform.definition, at: "transforms.l2m", componentConfig(entries)).errors
        }
        #expect(errors([:]).contains { $0.contains("metrics") && $0.contains("required") })
        #expect(errors(["metrics": [["type": "summary", "field": "a"]]]).contains { $0.contains("counter, gauge") })
        #expect(errors(["metrics": [["type": "counter"]]]).contains { $0.contains("field") })
        #expect(
            errors(["metrics": [["type": "gauge", "field": "a", "increment_by_value": true]]]).contains {
                $0.contains("counters only")
            })
        #expect(
            errors(["metrics": [["type": "counter", "field": "http.status"]]]).contains {
                $0.contains("not a Prometheus metric name")
            })
        #expect(
            errors(["metrics": [["type": "histogram", "field": "a", "buckets": [1, 0.5]]]]).contains {
                $0.contains("strictly increasing")
            })
        #expect(
            errors(["metrics": [["type": "histogram", "field": "a", "tags": ["le": "x"]]]]).contains {
                $0.contains("label name")
            })
        #expect(
            errors(["metrics": [["type": "counter", "field": "a", "tags": ["x": "{{ fields.a"]]]]).contains {
                $0.contains("template")
            })
        #expect(
            errors([
                "metrics": [
                    ["type": "counter", "field": "a", "name": "m"], ["type": "gauge", "field": "b", "name": "m"],
                ]
            ]).contains { $0.contains("already a counter") })
        #expect(
            errors(["metrics": [["type": "counter", "field": "a", "colour": "red"]]]).contains {
                $0.contains("unknown key")
            })
    }
}
