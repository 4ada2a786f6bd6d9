import Logging
import PetrelCore
import PetrelTransforms
import Synchronization
import Testing

/// The `reduce` transform: groups of records merged into one, by field strategy, with every record's acknowledgement.
@Suite struct ReduceTransformTests {
    typealias ManualClock = ThrottleTransformTests.ManualClock

    private let context = TransformContext(
        id: "merge", telemetry: componentTestTelemetry(id: "merge", type: "reduce", kind: .transform),
        logger: Logger(label: "test.reduce"))

    private func reduce(_ entries: KeyValuePairs<String, ComponentConfigValue>, clock: ManualClock) throws
        -> ReduceTransform
    {
        let outcome = buildComponent(ReduceTransform.definition, at: "transforms.merge", componentConfig(entries))
        #expect(outcome.errors == [])
        let built = try #require(
            { () -> ReduceTransform? in
                guard case .transform(let transform, _)? = outcome.built else { return nil }
                return transform as? ReduceTransform
            }())
        return ReduceTransform(config: built.config, now: { clock.now })
    }

    private func records(_ envelope: Envelope?) -> [LogRecord] {
        records(envelope?.batch)
    }

    private func records(_ batch: EventBatch?) -> [LogRecord] {
        guard case .logs(let logs)? = batch else { return [] }
        return logs.records
    }

    private func line(
        _ message: String, pod: String = "api-1", at second: Int64 = 0, _ fields: [String: AnyValue] = [:]
    )
        -> LogRecord
    {
        var all = fields
        all["pod"] = .string(pod)
        return LogRecord(timestamp: second * 1_000_000_000, message: message, fields: all)
    }

    @Test func aJavaStackTraceBecomesOneRecordPerPod() throws {
        let clock = ManualClock()
        var merge = try reduce(
            [
                "group_by": ["pod"],
                "starts_when": #"match(string!(.message), r'^\d{4}-\d{2}-\d{2} ')"#,
                "merge_strategies": ["message": "concat_newline"],
            ], clock: clock)
        let trace = [
            "2026-12-07 10:00:00 ERROR request failed",
            "java.lang.IllegalStateException: boom",
            "\tat com.example.Foo.bar(Foo.java:10)",
            "\tat com.example.Main.main(Main.java:5)",
            "Caused by: java.io.IOException: disk full",
            "\t... 2 more",
        ]
        var input: [LogRecord] = []
        for (index, text) in trace.enumerated() {
            input.append(line(text, at: Int64(index), ["bytes": .int(10)]))
            // Another pod's lines in between stay in their own group.
            if index == 2 { input.append(line("2026-12-07 10:00:00 INFO other pod", pod: "api-2", at: 2)) }
        }
        input.append(line("2026-12-07 10:00:09 INFO next request", at: 9, ["bytes": .int(1)]))
        let out = records(merge.process(.logs(LogBatch(records: input)), context))
        #expect(out.count == 1, "the next request's first line ends the trace")
        let merged = try #require(out.first)
        #expect(merged.message == trace.joined(separator: "\n"))
        #expect(merged.fields["bytes"] == AnyValue.int(60), "numbers are summed")
        #expect(merged.fields["pod"] == AnyValue.string("api-1"))
        #expect(merged.timestamp == 0)
        #expect(merged.fields["timestamp_end"] == AnyValue.string("1970-01-01T00:00:05.000000000Z"))
        #expect(merge.openGroups == 2)
        let rest = records(merge.flush(final: true, context))
        #expect(rest.map(\.message) == ["2026-12-07 10:00:00 INFO other pod", "2026-12-07 10:00:09 INFO next request"])
        #expect(merge.openGroups == 0)
    }

    @Test func endsWhenMaxEventsAndExpiryEachCloseAGroup() throws {
        let clock = ManualClock()
        var ends = try reduce(
            [
                "ends_when": ["key": "done", "equals": "true"], "max_events": 3, "expire_after_ms": 5_000,
                "merge_strategies": ["message": "concat"],
            ], clock: clock)
        let first = records(
            ends.process(
                .logs(LogBatch(records: [line("a"), line("b", ["done": .bool(true)]), line("c"), line("d")])), context))
        #expect(first.map(\.message) == ["a b"], "ends_when closes with the matching record")
        let second = records(ends.process(.logs(LogBatch(records: [line("e")])), context))
        #expect(second.map(\.message) == ["c d e"], "max_events")
        _ = ends.process(.logs(LogBatch(records: [line("f")])), context)
        clock.advance(.seconds(4))
        let early = ends.flush(final: false, context)
        #expect(early == nil, "not yet idle for expire_after_ms")
        _ = ends.process(.logs(LogBatch(records: [line("g")])), context)
        clock.advance(.seconds(4))
        let renewed = ends.flush(final: false, context)
        #expect(renewed == nil, "g renewed the group")
        clock.advance(.seconds(2))
        let expired = records(ends.flush(final: false, context))
        #expect(expired.map(\.message) == ["f g"])
    }

    @Test(arguments: [
        ("array", [AnyValue.int(1), .string("x"), .int(1)], AnyValue.array([.int(1), .string("x"), .int(1)])),
        ("concat", [.string("a"), .string("b"), .string("c")], .string("a b c")),
        ("concat", [.array([.int(1)]), .array([.int(2), .int(3)])], .array([.int(1), .int(2), .int(3)])),
        ("concat_newline", [.string("a"), .string("b")], .string("a\nb")),
        ("concat_raw", [.string("a"), .string("b")], .string("ab")),
        ("discard", [.string("first"), .string("second")], .string("first")),
        ("retain", [.string("first"), .string("second")], .string("second")),
        ("sum", [.int(2), .int(3), .double(0.5)], .double(5.5)),
        ("sum", [.int(Int64.max), .int(1)], .double(Double(Int64.max) + 1)),
        ("max", [.int(2), .double(7.5), .int(3)], .double(7.5)),
        ("min", [.int(2), .double(-1), .int(3)], .double(-1)),
        (
            "flat_unique", [.string("a"), .array([.string("b"), .string("a")]), .string("c")],
            .array([.string("a"), .string("b"), .string("c")])
        ),
        ("longest_array", [.array([.int(1)]), .array([.int(1), .int(2)]), .array([])], .array([.int(1), .int(2)])),
        ("shortest_array", [.array([.int(1)]), .array([]), .array([.int(1), .int(2)])], .array([])),
    ])
    func eachStrategyMergesAsVectorDoes(strategy: String, values: [AnyValue], expected: AnyValue) throws {
        var merge = try reduce(["merge_strategies": ["v": .scalar(strategy)]], clock: ManualClock())
        _ = merge.process(.logs(LogBatch(records: values.map { line("m", ["v": $0]) })), context)
        #expect(records(merge.flush(final: true, context)).first?.fields["v"] == expected)
    }

    @Test func defaultsSumNumbersKeepTheFirstOfTheRestAndAddTheLastTimestamp() throws {
        var merge = try reduce([:], clock: ManualClock())
        let input = [
            line("first", at: 1, ["n": .int(1), "s": .string("x"), "late": .double(0.5)]),
            line("second", at: 7, ["n": .int(2), "s": .string("y"), "flag": .bool(true)]),
        ]
        _ = merge.process(.logs(LogBatch(records: input)), context)
        let merged = try #require(records(merge.flush(final: true, context)).first)
        #expect(merged.message == "first")
        #expect(merged.timestamp == 1_000_000_000)
        #expect(
            merged.fields == [
                "n": .int(3), "s": .string("x"), "late": .double(0.5), "flag": .bool(true), "pod": .string("api-1"),
                "timestamp_end": .string("1970-01-01T00:00:07.000000000Z"),
            ])
    }

    @Test func theMergedRecordHoldsTheAcknowledgementsOfEveryBatchInIt() throws {
        var merge = try reduce(["group_by": ["pod"], "max_events": 3], clock: ManualClock())
        let acknowledged = Mutex<[Int]>([])
        func batch(_ number: Int, _ pods: [String]) -> Envelope {
            Envelope(
                .logs(LogBatch(records: pods.map { line("m", pod: $0) })),
                acknowledgement: Acknowledgement { acknowledged.withLock { $0.append(number) } })
        }
        let first = merge.process(batch(1, ["a", "b"]), context)
        let second = merge.process(batch(2, ["a"]), context)
        #expect(first == nil && second == nil)
        #expect(acknowledged.withLock { $0 } == [], "both batches have records in open groups")
        let third = merge.process(batch(3, ["a", "b"]), context)
        let out = try #require(third)
        #expect(records(out).count == 1, "a reached max_events")
        #expect(acknowledged.withLock { $0 } == [], "sent is not delivered: the merged record holds 1, 2 and 3")
        out.acknowledgement.acknowledge()
        #expect(acknowledged.withLock { $0 } == [2], "1 and 3 also have records in b's open group")
        let flushed = merge.flush(final: true, context)
        let rest = try #require(flushed)
        #expect(acknowledged.withLock { $0 } == [2])
        rest.acknowledgement.acknowledge()
        #expect(acknowledged.withLock { $0.sorted() } == [1, 2, 3])
    }

    @Test func metricsPassThroughWithTheirAcknowledgement() throws {
        var merge = try reduce([:], clock: ManualClock())
        var metrics = MetricBatch()
        metrics.appendSeries(labels: [("__name__", "up")], samples: [Sample(timestamp: 1, value: 1)])
        let out = merge.process(Envelope(.metrics(metrics)), context)
        #expect(out?.batch.eventCount == 1)
    }

    @Test func badSettingsAreErrors() {
        let errors = { (entries: KeyValuePairs<String, ComponentConfigValue>) in
            buildComponent(ReduceTransform.definition, at: "transforms.merge", componentConfig(entries)).errors
        }
        #expect(
            errors(["starts_when": ".a == 1", "ends_when": ".b == 2"]).contains { $0.contains("only one of") })
        #expect(errors(["merge_strategies": ["m": "average"]]).contains { $0.contains("expected one of array") })
        #expect(errors(["merge_strategies": ["timestamp": "sum"]]).contains { $0.contains("timestamp takes") })
        #expect(errors(["starts_when": "nope("]).contains { $0.contains("starts_when") })
        #expect(errors(["ends_when": ["key": "a"]]).contains { $0.contains("exactly one of") })
        #expect(errors(["max_events": 0]).contains { $0.contains("max_events") })
        #expect(errors(["expire_after": 5]).contains { $0.contains("unknown key") })
    }
}
