/// Where a component's batches go: the input queues of every component reading from it.
public struct Output: Sendable {
    /// One edge of the graph: a downstream queue and the signals its reader takes.
    public struct Edge: Sendable {
        public let queue: BatchQueue
        public let accepts: SignalSet
        /// The queue is its reader's buffer (a sink's memory buffer): a batch in it counts as buffered, so its
        /// acknowledgement is given as it goes in, unless it waits for delivery. Otherwise the reader passes the
        /// acknowledgement on.
        public let buffers: Bool

        public init(queue: BatchQueue, accepts: SignalSet, buffers: Bool = true) {
            self.queue = queue
            self.accepts = accepts
            self.buffers = buffers
        }
    }

    public let edges: [Edge]
    private let telemetry: ComponentTelemetry
    /// The pipeline's memory limit, which a push source's server also counts request bodies against.
    public let memory: MemoryLimit?
    private let abandon: ShutdownSignal?
    /// Where `petrel tap` sees what this output sends.
    public let tap: TapPoint

    /// `abandon` ends the acknowledgement waits of `send` and `trySend` early, unacknowledged: the topology fires it
    /// when it stops waiting for its sinks (the shutdown deadline), so that no source waits for a batch that a
    /// cancelled component dropped. `port` names a named output (a route's), for taps.
    public init(
        edges: [Edge], telemetry: ComponentTelemetry, memory: MemoryLimit? = nil, abandon: ShutdownSignal? = nil,
        port: String? = nil
    ) {
        self.edges = edges
        self.telemetry = telemetry
        self.memory = memory
        self.abandon = abandon
        self.tap = telemetry.registry.taps.point(componentID: telemetry.id, port: port)
    }

    /// Sends a batch and returns once every buffer downstream holds it: the point at which a source may
    /// acknowledge. Waits while any reader's queue is full.
    public func send(_ batch: EventBatch) async throws {
        let wait = AcknowledgementWait(abandonedBy: abandon)
        try await send(Envelope(batch, acknowledgement: wait.makeAcknowledgement()))
        _ = await wait.wait()
    }

    /// Sends a batch on with the acknowledgement it came with, waiting while any reader's queue is full.
    ///
    /// Each reader gets its own hold on the acknowledgement; a batch no reader takes is acknowledged here.
    public func send(_ envelope: Envelope) async throws {
        tap.offer(envelope.batch)
        let targets = edges.filter { $0.accepts.contains(envelope.batch.signal) }
        let holds = acknowledgements(for: envelope, count: targets.count)
        for (edge, acknowledgement) in zip(targets, holds) {
            if edge.buffers && !envelope.acknowledgement.waitsForDelivery {
                try await edge.queue.send(envelope.with(.none))
                acknowledgement.acknowledge()
            } else {
                try await edge.queue.send(envelope.with(acknowledgement))
            }
        }
        if !targets.isEmpty { count(envelope) }
    }

    /// Sends a batch only if every reader's queue has room right now and the memory limit admits it; all or
    /// nothing. Returns the wait for its acknowledgement, or `nil` when it was refused.
    ///
    /// A source that must answer at once (an HTTP request) uses this, answers 429 on `nil`, and otherwise answers
    /// once the wait ends.
    public func trySend(_ batch: EventBatch) -> AcknowledgementWait? {
        let wait = AcknowledgementWait(abandonedBy: abandon)
        let envelope = Envelope(batch, acknowledgement: wait.makeAcknowledgement())
        if let memory, !memory.admits(envelope.bytes) { return nil }
        let weight = batch.eventCount
        let targets = edges.filter { $0.accepts.contains(batch.signal) }
        for (index, edge) in targets.enumerated() where !edge.queue.tryReserve(weight: weight) {
            for reserved in targets[..<index] { reserved.queue.release(weight: weight) }
            return nil
        }
        let holds = acknowledgements(for: envelope, count: targets.count)
        for (edge, acknowledgement) in zip(targets, holds) {
            if edge.buffers && !envelope.acknowledgement.waitsForDelivery {
                edge.queue.commit(envelope.with(.none))
                acknowledgement.acknowledge()
            } else {
                edge.queue.commit(envelope.with(acknowledgement))
            }
        }
        tap.offer(batch)
        if !targets.isEmpty { count(envelope) }
        return wait
    }

    /// One hold per reader, all taken before any reader can give its back; none when no reader takes the batch.
    private func acknowledgements(for envelope: Envelope, count: Int) -> [Acknowledgement] {
        guard count > 0 else {
            envelope.acknowledgement.acknowledge()
            return []
        }
        return [envelope.acknowledgement] + (1..<count).map { _ in envelope.acknowledgement.split() }
    }

    private func count(_ envelope: Envelope) {
        telemetry.sentEvents.increment(by: envelope.batch.eventCount)
        telemetry.sentBytes.increment(by: envelope.bytes)
    }
}
