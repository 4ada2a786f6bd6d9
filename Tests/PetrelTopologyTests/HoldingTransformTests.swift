import Logging
import PetrelCodecs
import PetrelComponents
import PetrelConfig
import PetrelCore
import PetrelTopology
import Synchronization
import Testing

/// Holding transforms in a running topology: acknowledgements held until the merged record is delivered, and the
/// flush timer.
@Suite struct HoldingTransformTests {
    /// What the test sees happen, in order.
    final class Journal: Sendable {
        private let entries = Mutex<[String]>([])
        var all: [String] { entries.withLock { $0 } }
        func note(_ entry: String) { entries.withLock { $0.append(entry) } }
    }

    /// Sends each batch with an acknowledgement that waits for delivery (as the file source's does), noting when it
    /// fires; with `waitForSink`, waits until the sink got something before it returns (so the input stays open).
    struct BatchesSource: Source {
        let batches: [[String]]
        let journal: Journal
        var waitForSink = false

        func run(_ context: SourceContext) async throws {
            context.markReady()
            for (number, lines) in batches.enumerated() {
                let records = lines.map { LogRecord(timestamp: 0, message: $0, fields: ["pod": .string("a")]) }
                let journal = journal
                let acknowledgement = Acknowledgement(untilDelivered: true) { journal.note("acknowledged \(number)") }
                try await context.output.send(
                    Envelope(.logs(LogBatch(records: records)), acknowledgement: acknowledgement))
            }
            guard waitForSink else { return }
            let deadline = ContinuousClock.now + .seconds(30)
            while !journal.all.contains(where: { $0.hasPrefix("delivered") }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            journal.note("source done")
        }
    }

    /// Notes each record it receives, then acknowledges it.
    struct JournalSink: Sink {
        let journal: Journal

        func run(_ input: SinkInput, _ context: SinkContext) async throws {
            for await envelope in input {
                if case .logs(let logs) = envelope.batch {
                    for record in logs.records { journal.note("delivered \(record.message)") }
                }
                envelope.acknowledgement.acknowledge()
            }
        }
    }

    private func run(_ transform: String, _ source: BatchesSource) async throws {
        var definitions = BuiltinComponents.all
        definitions.append(
            ComponentDefinition(type: "batches", kind: .source) { _, _ in .source(source, emits: .logs) })
        let sink = JournalSink(journal: source.journal)
        definitions.append(ComponentDefinition(type: "journal", kind: .sink) { _, _ in .sink(sink, accepts: .all) })
        let config = try ConfigLoader(registry: ComponentRegistry(definitions), environment: [:]).parse(
            """
            api: { enabled: false }
            sources:
              in: { type: batches }
            transforms:
              merge:
                inputs: [in]
                \(transform)
            sinks:
              out: { type: journal, inputs: [merge] }
            """, file: "test.yaml")
        try await Topology(
            config: config, telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(),
            logger: Logger(label: "test")
        ).run()
    }

    @Test func aRecordMergedFromThreeBatchesReleasesThemOnlyOnceDelivered() async throws {
        let journal = Journal()
        let source = BatchesSource(
            batches: [["Exception: boom"], ["  at a()"], ["  at b()", "Next: line"]], journal: journal)
        try await run(
            """
            type: reduce
                group_by: [pod]
                starts_when: { key: message, matches: "[A-Z].*" }
                merge_strategies: { message: concat_newline }
            """, source)
        let entries = journal.all
        #expect(
            entries.filter { $0.hasPrefix("delivered") } == [
                "delivered Exception: boom\n  at a()\n  at b()", "delivered Next: line",
            ])
        let trace = try #require(entries.firstIndex { $0.hasPrefix("delivered Exception") })
        for number in 0..<2 {
            let acknowledged = try #require(entries.firstIndex(of: "acknowledged \(number)"))
            #expect(acknowledged > trace, "batch \(number) is held until the trace it is part of is delivered")
        }
        let last = try #require(entries.firstIndex(of: "acknowledged 2"))
        #expect(last > entries.firstIndex(of: "delivered Next: line")!, "batch 2 also has the next record")
    }

    @Test func anIdleGroupGoesOutOnTheTimerWhileTheInputIsStillOpen() async throws {
        let journal = Journal()
        let source = BatchesSource(batches: [["only line"]], journal: journal, waitForSink: true)
        try await run(
            """
            type: reduce
                expire_after_ms: 50
                flush_period_ms: 10
            """, source)
        #expect(journal.all == ["delivered only line", "acknowledged 0", "source done"])
    }
}
