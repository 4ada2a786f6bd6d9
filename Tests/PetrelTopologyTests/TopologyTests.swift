import Logging
import PetrelCodecs
import PetrelConfig
import PetrelCore
import PetrelTestSupport
import PetrelTopology
import ServiceLifecycle
import Testing

@Suite struct TopologyTests {
    private let logger = Logger(label: "test")

    @Test func fanOutAndFanIn() async throws {
        var pipeline = TestPipeline()
        pipeline.sources = [
            "a": NumberedSource(start: 0, count: 50, progress: nil),
            "b": NumberedSource(start: 1000, count: 50, progress: nil),
        ]
        let both = RecordingSink()
        let onlyA = RecordingSink()
        pipeline.sinks = ["both": both, "only_a": onlyA]
        let config = try pipeline.load(
            """
            api: { enabled: false }
            sources:
              a: { type: numbered }
              b: { type: numbered }
            sinks:
              both: { type: recording, inputs: [a, b] }
              only_a: { type: recording, inputs: [a] }
            """)
        let topology = Topology(
            config: config, telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(), logger: logger,
            queueCapacity: 4)
        try await topology.run()
        #expect(both.numbers.sorted() == Array(0..<50) + Array(1000..<1050), "fan-in: every batch of both sources")
        #expect(both.numbers.filter { $0 < 1000 } == Array(0..<50), "per-source order is kept")
        #expect(onlyA.numbers == Array(0..<50), "fan-out: the second reader of a gets all of a")
        #expect(
            topology.telemetry.value(
                "petrel_component_received_events_total",
                labels: [("component_id", "both"), ("component_kind", "sink"), ("component_type", "recording")]) == 100)
    }

    @Test func transformsRunBetweenSourcesAndSinks() async throws {
        var pipeline = TestPipeline()
        pipeline.sources = ["numbers": NumberedSource(start: 0, count: 20, progress: nil)]
        let evens = RecordingSink()
        pipeline.sinks = ["evens": evens]
        let config = try pipeline.load(
            """
            api: { enabled: false }
            sources:
              numbers: { type: numbered }
            transforms:
              only_even:
                type: filter
                inputs: [numbers]
                condition: { key: parity, equals: even }
            sinks:
              evens: { type: recording, inputs: [only_even] }
            """)
        try await Topology(
            config: config, telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(), logger: logger
        ).run()
        #expect(evens.numbers == Array(stride(from: 0, to: 20, by: 2)))
    }

    @Test func slowSinkPushesBackOnTheSource() async throws {
        let progress = Progress()
        var pipeline = TestPipeline()
        pipeline.sources = ["fast": NumberedSource(start: 0, count: 60, progress: progress)]
        let slow = RecordingSink(delay: .milliseconds(5), progress: progress)
        pipeline.sinks = ["slow": slow]
        let config = try pipeline.load(
            """
            api: { enabled: false }
            sources:
              fast: { type: numbered }
            sinks:
              slow: { type: recording, inputs: [fast], buffer: { type: memory, max_events: 4 } }
            """)
        let capacity = 4
        let registry = TelemetryRegistry()
        try await Topology(
            config: config, telemetry: registry, recordCodec: BufferRecordCodec(), logger: logger,
            queueCapacity: capacity
        ).run()
        #expect(slow.numbers == Array(0..<60))
        // Sent-but-unconsumed batches (of one event each) are bounded by the sink's buffer plus the one the sink holds,
        // however much faster the source is: the source waited instead of letting memory grow.
        #expect(progress.maxInFlight.load(ordering: .relaxed) <= capacity + 1)
        #expect(progress.maxInFlight.load(ordering: .relaxed) >= capacity - 1, "the queue did fill up")
    }

    @Test func gracefulShutdownDrainsEveryQueuedBatch() async throws {
        let progress = Progress()
        var pipeline = TestPipeline()
        pipeline.sources = ["endless": NumberedSource(start: 0, count: nil, progress: progress)]
        let slow = RecordingSink(delay: .milliseconds(2), progress: progress)
        pipeline.sinks = ["slow": slow]
        let config = try pipeline.load(
            """
            api: { enabled: false }
            sources:
              endless: { type: numbered }
            transforms:
              everything:
                type: filter
                inputs: [endless]
                condition: { key: __name__, exists: true }
            sinks:
              slow: { type: recording, inputs: [everything] }
            """)
        let topology = Topology(
            config: config, telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(), logger: logger,
            queueCapacity: 16)
        let group = ServiceGroup(services: [topology], logger: logger)
        async let running: Void = group.run()
        while progress.sent.load(ordering: .relaxed) < 40 { try await Task.sleep(for: .milliseconds(5)) }
        await group.triggerGracefulShutdown()
        try await running
        let sent = progress.sent.load(ordering: .relaxed)
        #expect(slow.numbers == Array(0..<sent), "every batch the source handed over reached the sink, in order")
        #expect(sent >= 40)
    }

    @Test func readinessWaitsForEveryComponent() async throws {
        var pipeline = TestPipeline()
        pipeline.sources = ["endless": NumberedSource(start: 0, count: nil, progress: nil)]
        pipeline.sinks = ["sink": RecordingSink()]
        let config = try pipeline.load(
            """
            api: { enabled: false }
            sources:
              endless: { type: numbered }
            sinks:
              sink: { type: recording, inputs: [endless] }
            """)
        let topology = Topology(
            config: config, telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(), logger: logger)
        #expect(!topology.readiness.isReady)
        async let running: Void = topology.run()
        while !topology.readiness.isReady { try await Task.sleep(for: .milliseconds(5)) }
        topology.stop()
        try await running
    }
}
