import Foundation
import Logging
import PetrelCodecs
import PetrelConfig
import PetrelCore
import PetrelTopology
import ServiceLifecycle
import Testing

/// Sink buffers in the running graph: disk buffers across runs, and the shutdown deadline of memory buffers.
@Suite struct BufferTests {
    private let logger = Logger(label: "test")

    private func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("petrel-buffer-\(UUID().uuidString)")
    }

    @Test func aDiskBufferedSinkStopsAtShutdownAndTheNextRunDeliversTheRest() async throws {
        let dataDirectory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let yaml = """
            data_dir: \(dataDirectory.path)
            api: { enabled: false }
            sources:
              numbers: { type: numbered }
            sinks:
              slow: { type: recording, inputs: [numbers], buffer: { type: disk, max_size: 8MiB } }
            """

        // First run: batches go to disk as fast as they are written; the slow sink takes a few, then shutdown stops it.
        let progress = Progress()
        var first = TestPipeline()
        first.sources = ["numbers": NumberedSource(start: 0, count: nil, progress: progress)]
        let slow = RecordingSink(delay: .milliseconds(20))
        first.sinks = ["slow": slow]
        let topology = Topology(
            config: try first.load(yaml), telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(),
            logger: logger)
        let group = ServiceGroup(services: [topology], logger: logger)
        async let running: Void = group.run()
        while progress.sent.load(ordering: .relaxed) < 50 { try await Task.sleep(for: .milliseconds(5)) }
        await group.triggerGracefulShutdown()
        try await running
        let sent = progress.sent.load(ordering: .relaxed)
        let delivered = slow.numbers
        #expect(delivered == Array(0..<delivered.count), "the sink got the oldest batches, in order")
        #expect(delivered.count < sent, "shutdown did not wait for the slow sink to drain the disk buffer")

        // Second run, nothing new: the sink gets everything it had not acknowledged, oldest first.
        var second = TestPipeline()
        second.sources = ["numbers": NumberedSource(start: 1000, count: 0, progress: nil)]
        let resumed = RecordingSink()
        second.sinks = ["slow": resumed]
        try await Topology(
            config: try second.load(yaml), telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(),
            logger: logger
        ).run()
        let rest = resumed.numbers
        #expect(Set(delivered + rest) == Set(0..<sent), "every batch the source was answered for was delivered")
        #expect(rest == rest.sorted(), "in order")
        #expect(rest.last == sent - 1)
        // Acknowledged in the first run means recorded in the ledger at close: nothing delivered comes again.
        #expect(rest.count == sent - delivered.count, "no duplicates after a clean shutdown")
    }

    @Test func shutdownTimeoutDropsWhatAMemoryBufferStillHoldsAndCountsIt() async throws {
        let progress = Progress()
        var pipeline = TestPipeline()
        pipeline.sources = ["numbers": NumberedSource(start: 0, count: 10, progress: progress)]
        let stuck = RecordingSink(delay: .seconds(60))
        pipeline.sinks = ["stuck": stuck]
        let config = try pipeline.load(
            """
            api: { enabled: false }
            shutdown_timeout: 300ms
            sources:
              numbers: { type: numbered }
            sinks:
              stuck: { type: recording, inputs: [numbers] }
            """)
        let registry = TelemetryRegistry()
        let topology = Topology(config: config, telemetry: registry, recordCodec: BufferRecordCodec(), logger: logger)
        let group = ServiceGroup(services: [topology], logger: logger)
        async let running: Void = group.run()
        while progress.sent.load(ordering: .relaxed) < 10 { try await Task.sleep(for: .milliseconds(5)) }
        let start = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running
        #expect(start.duration(to: .now) < .seconds(10), "the deadline ended the shutdown, not the stuck sink")
        let dropped = registry.value(
            "petrel_component_discarded_events_total",
            labels: [
                ("component_id", "stuck"), ("component_kind", "sink"), ("component_type", "recording"),
                ("reason", "shutdown_timeout"),
            ])
        #expect(dropped == 10, "the batch the sink held and the nine in its buffer were counted as dropped")
    }

    @Test func stopNowDropsWhatAMemoryBufferStillHoldsAtOnceAndCountsIt() async throws {
        let progress = Progress()
        var pipeline = TestPipeline()
        pipeline.sources = ["numbers": NumberedSource(start: 0, count: 10, progress: progress)]
        pipeline.sinks = ["stuck": RecordingSink(delay: .seconds(60))]
        let config = try pipeline.load(
            """
            api: { enabled: false }
            shutdown_timeout: 10m
            sources:
              numbers: { type: numbered }
            sinks:
              stuck: { type: recording, inputs: [numbers] }
            """)
        let registry = TelemetryRegistry()
        let topology = Topology(config: config, telemetry: registry, recordCodec: BufferRecordCodec(), logger: logger)
        let group = ServiceGroup(services: [topology], logger: logger)
        async let running: Void = group.run()
        while progress.sent.load(ordering: .relaxed) < 10 { try await Task.sleep(for: .milliseconds(5)) }
        await group.triggerGracefulShutdown()
        topology.stopNow()
        try await running
        let labels = [("component_id", "stuck"), ("component_kind", "sink"), ("component_type", "recording")]
        let dropped = registry.value(
            "petrel_component_discarded_events_total", labels: labels + [("reason", "shutdown_forced")])
        #expect(dropped == 10, "everything the sink had not delivered was counted as dropped by the forced stop")
        #expect(
            registry.value("petrel_component_discarded_events_total", labels: labels + [("reason", "shutdown_timeout")])
                == nil)
    }
}
