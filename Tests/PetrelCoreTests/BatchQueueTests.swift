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
        #expect(marker(await queue.nextBatch()) == 1)
        #expect(marker(await queue.nextBatch()) == 2)
        #expect(marker(await queue.nextBatch()) == 3)
        #expect(await queue.nextBatch() == nil)
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
        while let next = await queue.nextBatch() {
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
        #expect(output.trySend(batch(1)) != nil)
        #expect(output.trySend(batch(2)) == nil, "the second queue is full")
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
        #expect(marker(await queue.nextBatch()) == 1)
        #expect(await queue.nextBatch() == nil, "the cancelled batch was never queued")
    }

    @Test func receiverWaitsForFirstBatch() async throws {
        let queue = BatchQueue(capacity: 1, producers: 1)
        let receiver = Task { await queue.nextBatch() }
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
        _ = await queue.nextBatch()
        #expect(telemetry.queueBatches.value == 1)
    }

    @Test func aSourceIsAcknowledgedOnlyOnceEveryReaderHoldsItsBatch() async throws {
        let buffer = BatchQueue(capacity: 4, producers: 1)
        let transform = BatchQueue(capacity: 4, producers: 1)
        let telemetry = ComponentTelemetry(id: "s", type: "test", kind: .source, registry: TelemetryRegistry())
        let output = Output(
            edges: [.init(queue: buffer, accepts: .all), .init(queue: transform, accepts: .all, buffers: false)],
            telemetry: telemetry)
        let acknowledged = Atomic<Bool>(false)
        let sender = Task {
            try await output.send(batch(1))
            acknowledged.store(true, ordering: .relaxed)
        }
        try await Task.sleep(for: .milliseconds(50))
        let early = acknowledged.load(ordering: .relaxed)
        #expect(!early, "the transform still holds its copy")
        #expect(buffer.count == 1 && transform.count == 1)
        let held = await transform.next()
        #expect(held?.acknowledgement.isTracked == true)
        let (first, second) = (held!.acknowledgement, held!.acknowledgement.split())
        first.acknowledge()
        try await Task.sleep(for: .milliseconds(20))
        let partly = acknowledged.load(ordering: .relaxed)
        #expect(!partly, "one part of the batch is still out")
        second.acknowledge()
        try await sender.value
        let done = acknowledged.load(ordering: .relaxed)
        #expect(done)
        #expect(await buffer.next()?.acknowledgement.isTracked == false, "a buffer's copy carries nothing to answer")
    }

    /// A file's batch: the memory buffer hands the hold to its sink, and only delivery gives it back.
    @Test func aBatchThatWaitsForDeliveryIsAcknowledgedByTheSinkNotTheMemoryBuffer() async throws {
        let memoryBuffer = BatchQueue(capacity: 4, producers: 1)
        let telemetry = ComponentTelemetry(id: "s", type: "test", kind: .source, registry: TelemetryRegistry())
        let output = Output(edges: [.init(queue: memoryBuffer, accepts: .all, buffers: true)], telemetry: telemetry)
        let acknowledged = Atomic<Bool>(false)
        let acknowledgement = Acknowledgement(untilDelivered: true) { acknowledged.store(true, ordering: .relaxed) }
        try await output.send(Envelope(batch(1), acknowledgement: acknowledgement))
        let buffered = acknowledged.load(ordering: .relaxed)
        #expect(!buffered, "in the memory buffer is not delivered")
        let taken = await memoryBuffer.next()
        #expect(taken?.acknowledgement.waitsForDelivery == true)
        taken?.acknowledgement.acknowledge()
        let delivered = acknowledged.load(ordering: .relaxed)
        #expect(delivered)
    }

    @Test func aBatchNoReaderTakesIsAcknowledgedAtOnce() async throws {
        let metricsOnly = BatchQueue(capacity: 2, producers: 1)
        let telemetry = ComponentTelemetry(id: "s", type: "test", kind: .source, registry: TelemetryRegistry())
        let output = Output(edges: [.init(queue: metricsOnly, accepts: .metrics)], telemetry: telemetry)
        let wait = try #require(output.trySend(batch(1)))
        #expect(await wait.wait(timeout: .seconds(5)), "acknowledged, not timed out")
        #expect(metricsOnly.count == 0)
    }

    @Test func maxEventsBoundsByWeightButAnEmptyQueueTakesAnything() async throws {
        let queue = BatchQueue(capacity: Int.max, maxEvents: 3, producers: 1, telemetry: nil)
        let twoEvents = EventBatch.logs(
            LogBatch(records: Array(repeating: LogRecord(timestamp: 1, message: "x"), count: 2)))
        #expect(queue.tryReserve(weight: 2))
        queue.commit(Envelope(twoEvents))
        #expect(!queue.tryReserve(weight: 2), "2 + 2 events exceed max_events 3")
        #expect(queue.tryReserve(weight: 1))
        queue.release(weight: 1)
        _ = await queue.next()
        #expect(queue.tryReserve(weight: 10), "an empty queue takes a batch larger than its bound")
        queue.release(weight: 10)
    }

    @Test func theMemoryLimitRefusesNewBatchesWhileTheQueuesHoldIt() async throws {
        let memory = MemoryLimit(limit: 1000)
        let queue = BatchQueue(capacity: 100, producers: 1, telemetry: nil, memory: memory)
        let telemetry = ComponentTelemetry(id: "s", type: "test", kind: .source, registry: TelemetryRegistry())
        let output = Output(edges: [.init(queue: queue, accepts: .all)], telemetry: telemetry, memory: memory)
        let large = EventBatch.logs(
            LogBatch(records: [LogRecord(timestamp: 1, message: String(repeating: "x", count: 700))]))
        #expect(output.trySend(large) != nil, "an empty pipeline takes a batch")
        #expect(memory.bytes > 700)
        #expect(output.trySend(large) == nil, "a second one would exceed the limit")
        _ = await queue.next()
        #expect(memory.bytes == 0, "a batch taken out of the queue no longer counts")
        #expect(output.trySend(large) != nil)
    }

    @Test func aWaitThatOutlivesItsTimeoutEndsWithFalseAndALateAcknowledgementIsHarmless() async {
        let wait = AcknowledgementWait()
        let acknowledgement = wait.makeAcknowledgement()
        #expect(await wait.wait(timeout: .milliseconds(300)) == false)
        acknowledgement.acknowledge()
        let acknowledgedFirst = AcknowledgementWait()
        acknowledgedFirst.makeAcknowledgement().acknowledge()
        #expect(await acknowledgedFirst.wait(timeout: .milliseconds(300)), "acknowledged before the wait began")
    }

    /// At the shutdown deadline a source must not wait out its timeout for a batch a cancelled component dropped.
    @Test func aWaitEndsWithFalseWhenAbandonedOrCancelled() async {
        let abandon = ShutdownSignal()
        let abandoned = AcknowledgementWait(abandonedBy: abandon)
        let hold = abandoned.makeAcknowledgement()
        async let answered = abandoned.wait(timeout: .seconds(600))
        abandon.trigger()
        #expect(await answered == false)
        hold.acknowledge()
        #expect(await AcknowledgementWait(abandonedBy: abandon).wait() == false, "abandoned before the wait began")

        let cancelled = AcknowledgementWait()
        let task = Task { await cancelled.wait() }
        task.cancel()
        #expect(await task.value == false)
    }
}
