import PetrelCore
import Testing

/// A reload rewires an output while its sends are under way: nothing sent may be stranded in a queue that already
/// heard its last producer finish.
@Suite struct OutputRewireTests {
    private func envelope(_ marker: Int) -> Envelope {
        Envelope(
            .logs(LogBatch(records: [LogRecord(timestamp: Int64(marker), message: "\(marker)")])),
            acknowledgement: .none)
    }

    private func markers(_ queue: BatchQueue) async -> [Int] {
        var markers: [Int] = []
        while let envelope = await queue.next() {
            guard case .logs(let logs) = envelope.batch else { continue }
            markers.append(Int(logs.records[0].timestamp))
        }
        return markers
    }

    @Test func aSendParkedOnTheOldQueueLandsThereBeforeItEnds() async throws {
        let telemetry = ComponentTelemetry(id: "s", type: "test", kind: .source, registry: TelemetryRegistry())
        let old = BatchQueue(capacity: 1, producers: 0)
        let output = Output(edges: [], telemetry: telemetry)
        await output.rewire(to: [.init(queue: old, accepts: .all, buffers: false)]).complete()
        try await output.send(envelope(1))
        // The old queue is full: this send waits in it.
        async let parked: Void = output.send(envelope(2))
        try await Task.sleep(for: .milliseconds(50))

        let new = BatchQueue(capacity: 4, producers: 0)
        let rewiring = output.rewire(to: [.init(queue: new, accepts: .all, buffers: false)])
        async let completed: Void = rewiring.complete()
        try await output.send(envelope(3))
        output.finish()

        // The old queue ends only once the parked send is in it and it is drained.
        let fromOld = await markers(old)
        try await parked
        await completed
        let fromNew = await markers(new)
        #expect((fromOld + fromNew).sorted() == [1, 2, 3], "each batch once: old \(fromOld), new \(fromNew)")
        #expect(fromOld.first == 1)
        #expect(fromNew.last == 3, "sends after the rewiring go to the new queue")
    }

    @Test func rewiringToTheSameQueueKeepsItsProducerCount() async throws {
        let telemetry = ComponentTelemetry(id: "s", type: "test", kind: .source, registry: TelemetryRegistry())
        let queue = BatchQueue(capacity: 4, producers: 0)
        let other = BatchQueue(capacity: 4, producers: 0)
        let output = Output(edges: [], telemetry: telemetry)
        await output.rewire(to: [.init(queue: queue, accepts: .all)]).complete()
        await output.rewire(to: [.init(queue: queue, accepts: .all), .init(queue: other, accepts: .all)]).complete()
        try await output.send(envelope(1))
        output.finish()
        // One producer each: finishing the output ends both.
        #expect(await markers(queue) == [1])
        #expect(await markers(other) == [1])
    }
}
