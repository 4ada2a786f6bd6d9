import Synchronization

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

    /// The readers batches go to now; a reload may change them (`rewire(to:)`).
    public var edges: [Edge] { routing.edges }
    private let routing: OutputRouting
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
        self.routing = OutputRouting(edges: edges)
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
        let (edges, epoch) = routing.enter()
        defer { routing.leave(epoch) }
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
        let (edges, epoch) = routing.enter()
        defer { routing.leave(epoch) }
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

    /// Sends to `edges` from now on, as a reload that replaced readers asks; `complete()` on the result then tells the
    /// queues left behind that this producer is done, once no send that took the old edges is under way, so that such
    /// a queue gets nothing after it was told so.
    ///
    /// The output counts as a producer of each queue it feeds: a new queue hears of it before a batch can go there.
    /// Nothing changes once `finish()` was called.
    public func rewire(to edges: [Edge]) -> Rewiring {
        let added = edges.filter { edge in !self.edges.contains { $0.queue === edge.queue } }
        for edge in added { edge.queue.producerAdded() }
        guard let (old, epoch) = routing.replace(with: edges) else {
            for edge in added { edge.queue.producerFinished() }
            return Rewiring(routing: routing, epoch: 0, left: [])
        }
        let left = old.filter { edge in !edges.contains { $0.queue === edge.queue } }
        return Rewiring(routing: routing, epoch: epoch, left: left.map(\.queue))
    }

    /// The end of a `rewire(to:)`: the queues the output no longer feeds, told once the sends to them are done.
    public struct Rewiring: Sendable {
        fileprivate let routing: OutputRouting
        fileprivate let epoch: UInt64
        fileprivate let left: [BatchQueue]

        /// Waits for the sends that took the old edges (or for cancellation), then finishes this producer on the
        /// queues left behind.
        public func complete() async {
            guard !left.isEmpty else { return }
            await routing.waitForSends(before: epoch)
            for queue in left { queue.producerFinished() }
        }
    }

    /// Tells every reader's queue that this producer is done; once, when the component that sends here ends.
    public func finish() {
        for edge in routing.finish() { edge.queue.producerFinished() }
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

/// The edges of an output and the sends under way on them, counted by the edges' generation (epoch): a reload swaps
/// the edges and then waits for the sends that took the old ones.
final class OutputRouting: Sendable {
    private struct State {
        var edges: [Output.Edge]
        var epoch: UInt64 = 0
        /// Sends under way, per epoch of the edges they took.
        var sending: [UInt64: Int] = [:]
        var waiters: [(id: UInt64, epoch: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        var nextWaiterID: UInt64 = 0
        var finished = false

        /// Whether no send that took edges older than `epoch` is under way.
        func drained(before epoch: UInt64) -> Bool {
            !sending.keys.contains { $0 < epoch }
        }
    }

    private let state: Mutex<State>

    init(edges: [Output.Edge]) {
        state = Mutex(State(edges: edges))
    }

    var edges: [Output.Edge] { state.withLock { $0.edges } }

    /// The edges to send to, and the epoch to give back to `leave` when the send is done.
    func enter() -> ([Output.Edge], UInt64) {
        state.withLock { state in
            state.sending[state.epoch, default: 0] += 1
            return (state.edges, state.epoch)
        }
    }

    func leave(_ epoch: UInt64) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.sending[epoch]! -= 1
            if state.sending[epoch] == 0 { state.sending[epoch] = nil }
            let (ready, waiting) = split(state.waiters) { state.drained(before: $0.epoch) }
            state.waiters = waiting
            return ready.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    /// Swaps in `edges`; returns the old ones and the new epoch, or nil once finished.
    func replace(with edges: [Output.Edge]) -> ([Output.Edge], UInt64)? {
        state.withLock { state in
            guard !state.finished else { return nil }
            let old = state.edges
            state.edges = edges
            state.epoch += 1
            return (old, state.epoch)
        }
    }

    func waitForSends(before epoch: UInt64) async {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let drained = state.withLock { state in
                    if state.drained(before: epoch) || Task.isCancelled { return true }
                    state.waiters.append((id, epoch, continuation))
                    return false
                }
                if drained { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
            }
            waiter?.continuation.resume()
        }
    }

    /// The edges to tell that the producer is done; empty after the first call.
    func finish() -> [Output.Edge] {
        state.withLock { state in
            guard !state.finished else { return [] }
            state.finished = true
            return state.edges
        }
    }

    private func split<T>(_ items: [T], by belongs: (T) -> Bool) -> (matching: [T], rest: [T]) {
        var matching: [T] = []
        var rest: [T] = []
        for item in items {
            if belongs(item) { matching.append(item) } else { rest.append(item) }
        }
        return (matching, rest)
    }
}
