import PetrelCore

extension BoundedQueue where Element == Envelope {
    /// The next batch, for tests that look at what a source sent and have no use for its acknowledgement.
    func nextBatch() async -> EventBatch? {
        await next()?.batch
    }

    /// Queues a batch nobody waits for, as a test feeding a sink directly.
    func send(_ batch: EventBatch) async throws {
        try await send(Envelope(batch))
    }
}
