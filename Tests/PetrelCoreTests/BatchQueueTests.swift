import PetrelCore
import Synchronization
import Testing

@Suite struct BatchQueueTests {
    private func batch(_ marker: Int) -> EventBatch {
        .logs(LogBatch(records: [LogRecord(timestamp: Int64(marker), message: "\(marker)")]))
    }

    private func marker(_ batch: EventBatch?) -> Int? {
        guard case .logs(let logs)? = batch else { return nil }
        return Int(logs.records[0].timestamp)
    }

    @Test func deliversInOrderAndEndsWhenProducersFinish() async throws {
        let queue = BatchQueue(capacity: 4, producers: 2)
        try await queue.send(batch(1))
        try await queue.send(batch(2))
        queue.producerFinished()
        try await queue.send(batch(3))
        queue.producerFinished()
        #expect(marker(await queue.next()) == 1)
        #expect(marker(await queue.next()) == 2)
        #expect(marker(await queue.next()) == 3)
        #expect(await queue.next() == nil)
    }

    @Test func senderWaitsWhileFullAndResumesInOrder() async throws {
        let queue = BatchQueue(capacity: 2, producers: 1)
        try await queue.send(batch(1))
        try await queue.send(batch(2))
        let sent = Atomic<Int>(0)
        let sender = Task {
            for marker in 3...5 {
                try await queue.send(batch(marker))
                sent.add(1, ordering: .relaxed)
            }
            queue.producerFinished()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(sent.load(ordering: .relaxed) == 0, "the queue is full: the sender must wait")
        #expect(queue.count == 2, "nothing beyond the bound is held")
        var received: [Int] = []
        while let next = await queue.next() {
            received.append(marker(next)!)
            #expect(queue.count <= 2)
        }
        try await sender.value
        #expect(received == [1, 2, 3, 4, 5])
    }

    @Test func reserveIsAllOrNothingAcrossQueues() {
        let roomy = BatchQueue(capacity: 2, producers: 1)
        let full = BatchQueue(capacity: 1, producers: 1)
        let telemetry = ComponentTelemetry(id: "s", type: "test", kind: .source, registry: TelemetryRegistry())
        let output = Output(
            edges: [.init(queue: roomy, accepts: .all), .init(queue: full, accepts: .all)], telemetry: telemetry)
        #expect(output.trySend(batch(1)))
        #expect(!output.trySend(batch(2)), "the second queue is full")
        #expect(roomy.count == 1, "the roomy queue did not get the refused batch")
        #expect(full.count == 1)
        #expect(telemetry.sentEvents.value == 1)
    }

    @Test func outputSkipsReadersThatDoNotTakeTheSignal() async throws {
        let metricsOnly = BatchQueue(capacity: 2, producers: 1)
        let everything = BatchQueue(capacity: 2, producers: 1)
        let telemetry = ComponentTelemetry(id: "s", type: "test", kind: .source, registry: TelemetryRegistry())
        let output = Output(
            edges: [.init(queue: metricsOnly, accepts: .metrics), .init(queue: everything, accepts: .all)],
            telemetry: telemetry)
        try await output.send(batch(1))
        #expect(metricsOnly.count == 0)
        #expect(everything.count == 1)
    }

    @Test func cancelledSenderIsRemovedAndThrows() async throws {
        let queue = BatchQueue(capacity: 1, producers: 1)
        try await queue.send(batch(1))
        let sender = Task { try await queue.send(batch(2)) }
        try await Task.sleep(for: .milliseconds(20))
        sender.cancel()
        await #expect(throws: CancellationError.self) { try await sender.value }
        queue.producerFinished()
        #expect(marker(await queue.next()) == 1)
        #expect(await queue.next() == nil, "the cancelled batch was never queued")
    }

    @Test func receiverWaitsForFirstBatch() async throws {
        let queue = BatchQueue(capacity: 1, producers: 1)
        let receiver = Task { await queue.next() }
        try await Task.sleep(for: .milliseconds(20))
        try await queue.send(batch(7))
        #expect(marker(await receiver.value) == 7)
    }

    @Test func depthIsReportedToTelemetry() async throws {
        let registry = TelemetryRegistry()
        let telemetry = ComponentTelemetry(id: "k", type: "console", kind: .sink, registry: registry)
        let queue = BatchQueue(capacity: 4, producers: 1, telemetry: telemetry)
        try await queue.send(batch(1))
        try await queue.send(batch(2))
        #expect(telemetry.queueBatches.value == 2)
        #expect(telemetry.queueEvents.value == 2)
        _ = await queue.next()
        #expect(telemetry.queueBatches.value == 1)
    }
}
