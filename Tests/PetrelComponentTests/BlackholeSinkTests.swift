import Logging
import PetrelCore
import PetrelSinks
import Synchronization
import Testing

/// The `blackhole` sink: takes everything, counts it, keeps nothing.
@Suite struct BlackholeSinkTests {
    @Test func definitionIsABlackholeSinkForEverySignalWithNoSettings() {
        #expect(BlackholeSink.definition.type == "blackhole")
        #expect(BlackholeSink.definition.kind == .sink)
        let outcome = buildComponent(BlackholeSink.definition, at: "sinks.null", componentConfig([:]))
        #expect(outcome.errors == [])
        guard case .sink(let sink, let accepts)? = outcome.built else {
            Issue.record("built \(String(describing: outcome.built))")
            return
        }
        #expect(sink is BlackholeSink)
        #expect(accepts == .all)
    }

    @Test func anyKeyIsUnknown() {
        let outcome = buildComponent(BlackholeSink.definition, at: "sinks.null", componentConfig(["print": true]))
        #expect(outcome.errors == ["petrel.yaml: sinks.null.print: unknown key"])
    }

    private func batches() -> [EventBatch] {
        var metrics = MetricBatch()
        for index in 0..<4 {
            metrics.appendSeries(
                labels: [("__name__", "m"), ("i", String(index))], samples: [Sample(timestamp: 0, value: 1)])
        }
        let logs = LogBatch(records: (0..<3).map { LogRecord(timestamp: Int64($0), message: "record \($0)") })
        let spans = SpanBatch(resourceSpans: [
            ResourceSpans(scopeSpans: [
                ScopeSpans(spans: [
                    Span(
                        traceID: TraceID(high: 0, low: 1), spanID: SpanID(1), name: "a", startTimeUnixNano: 0,
                        endTimeUnixNano: 1),
                    Span(
                        traceID: TraceID(high: 0, low: 1), spanID: SpanID(2), parentSpanID: SpanID(1), name: "b",
                        startTimeUnixNano: 0, endTimeUnixNano: 1),
                ])
            ])
        ])
        return [.metrics(metrics), .logs(logs), .traces(spans)]
    }

    private func run(_ queue: BatchQueue, _ telemetry: ComponentTelemetry) async throws {
        try await BlackholeSink().run(
            SinkInput(queue: queue, telemetry: telemetry),
            SinkContext(id: "null", telemetry: telemetry, logger: Logger(label: "test.blackhole")))
    }

    @Test func countsEventsAndBytesOfEveryBatch() async throws {
        let telemetry = componentTestTelemetry(id: "null", type: "blackhole", kind: .sink)
        let queue = BatchQueue(capacity: 8, producers: 1)
        let input = batches() + batches()
        for batch in input { try await queue.send(batch) }
        queue.producerFinished()
        try await run(queue, telemetry)
        let bytes = UInt64(input.reduce(0) { $0 + $1.estimatedBytes })
        #expect(telemetry.sentEvents.value == 2 * (4 + 3 + 2))
        #expect(telemetry.receivedEvents.value == 2 * (4 + 3 + 2))
        #expect(telemetry.sentBytes.value == bytes)
        #expect(telemetry.receivedBytes.value == bytes)
        #expect(queue.count == 0, "everything was taken")
    }

    @Test func returnsOnlyWhenEveryInputHasEnded() async throws {
        let telemetry = componentTestTelemetry(id: "null", type: "blackhole", kind: .sink)
        let queue = BatchQueue(capacity: 2, producers: 2)
        let finished = Atomic<Bool>(false)
        let sink = Task {
            try await run(queue, telemetry)
            finished.store(true, ordering: .relaxed)
        }
        for batch in batches() { try await queue.send(batch) }
        queue.producerFinished()
        #expect(await componentEventually { telemetry.sentEvents.value == 9 }, "what arrived so far is counted")
        try await Task.sleep(for: .milliseconds(50))
        let finishedEarly = finished.load(ordering: .relaxed)
        #expect(!finishedEarly, "one input is still open")
        try await queue.send(batches()[1])
        queue.producerFinished()
        try await sink.value
        let finishedAtEnd = finished.load(ordering: .relaxed)
        #expect(finishedAtEnd)
        #expect(telemetry.sentEvents.value == 12)
    }

    @Test func emptyInputEndsAtOnce() async throws {
        let telemetry = componentTestTelemetry(id: "null", type: "blackhole", kind: .sink)
        let queue = BatchQueue(capacity: 1, producers: 1)
        queue.producerFinished()
        try await run(queue, telemetry)
        #expect(telemetry.sentEvents.value == 0)
        #expect(telemetry.sentBytes.value == 0)
    }
}
