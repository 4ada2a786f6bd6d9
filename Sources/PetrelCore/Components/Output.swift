/// Where a component's batches go: the input queues of every component reading from it.
public struct Output: Sendable {
    /// One edge of the graph: a downstream queue and the signals its reader takes.
    public struct Edge: Sendable {
        public let queue: BatchQueue
        public let accepts: SignalSet

        public init(queue: BatchQueue, accepts: SignalSet) {
            self.queue = queue
            self.accepts = accepts
        }
    }

    public let edges: [Edge]
    private let telemetry: ComponentTelemetry

    public init(edges: [Edge], telemetry: ComponentTelemetry) {
        self.edges = edges
        self.telemetry = telemetry
    }

    /// Sends a batch to every reader that takes its signal, waiting while any of their queues is full.
    ///
    /// Returns once every such queue holds the batch: the point at which a source may acknowledge.
    public func send(_ batch: EventBatch) async throws {
        var delivered = false
        for edge in edges where edge.accepts.contains(batch.signal) {
            try await edge.queue.send(batch)
            delivered = true
        }
        if delivered { count(batch) }
    }

    /// Sends a batch only if every reader's queue has room right now; all or nothing.
    ///
    /// A source that must answer at once (an HTTP request) uses this and answers 429 on `false`.
    public func trySend(_ batch: EventBatch) -> Bool {
        var reserved: [BatchQueue] = []
        for edge in edges where edge.accepts.contains(batch.signal) {
            guard edge.queue.tryReserve() else {
                for queue in reserved { queue.release() }
                return false
            }
            reserved.append(edge.queue)
        }
        for queue in reserved { queue.commit(batch) }
        if !reserved.isEmpty { count(batch) }
        return true
    }

    private func count(_ batch: EventBatch) {
        telemetry.sentEvents.increment(by: batch.eventCount)
        telemetry.sentBytes.increment(by: batch.estimatedBytes)
    }
}
