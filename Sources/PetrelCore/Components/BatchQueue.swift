import Synchronization

/// A bounded FIFO of batches joining producers to one consumer: the edge of the pipeline graph.
///
/// Its bound is the backpressure: `send` waits while the queue is full, so a slow sink makes its
/// sources wait instead of letting memory grow. Waiting senders keep their order.
public final class BatchQueue: Sendable {
    private struct Waiter {
        var id: UInt64
        var batch: EventBatch
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var items: [EventBatch?] = []
        var head = 0
        var reserved = 0
        var producers: Int
        var senders: [Waiter] = []
        var receiver: CheckedContinuation<EventBatch?, Never>?
        var nextID: UInt64 = 0

        var count: Int { items.count - head }

        mutating func pop() -> EventBatch? {
            guard head < items.count else { return nil }
            let item = items[head]
            items[head] = nil
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64 && head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }
    }

    /// Effects decided under the lock and carried out after it is released.
    private enum Wakeup {
        case none
        case receiver(CheckedContinuation<EventBatch?, Never>, EventBatch?)
        case sender(CheckedContinuation<Void, any Error>)
    }

    public let capacity: Int
    private let state: Mutex<State>
    private let telemetry: ComponentTelemetry?

    /// A queue of `capacity` batches fed by `producers` upstream components; it ends when all of them finish.
    public init(capacity: Int, producers: Int, telemetry: ComponentTelemetry? = nil) {
        precondition(capacity > 0, "a queue holds at least one batch")
        self.capacity = capacity
        self.state = Mutex(State(producers: producers))
        self.telemetry = telemetry
    }

    /// Batches waiting, not counting senders parked on a full queue.
    public var count: Int { state.withLock { $0.count } }

    /// Adds a batch, waiting while the queue is full. Throws `CancellationError` if cancelled while waiting.
    public func send(_ batch: EventBatch) async throws {
        let id: UInt64? = state.withLock { state in
            if state.count + state.reserved < capacity && state.senders.isEmpty {
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else {
            enqueue(batch)
            return
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let accepted: Bool = state.withLock { state in
                    if Task.isCancelled { return false }
                    if state.count + state.reserved < capacity && state.senders.isEmpty {
                        return true
                    }
                    state.senders.append(Waiter(id: id, batch: batch, continuation: continuation))
                    return false
                }
                if accepted {
                    enqueue(batch)
                    continuation.resume()
                } else if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                guard let index = state.senders.firstIndex(where: { $0.id == id }) else { return nil }
                return state.senders.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Reserves room for one batch without waiting; pair with `commit` or `release`.
    public func tryReserve() -> Bool {
        state.withLock { state in
            guard state.count + state.reserved < capacity && state.senders.isEmpty else { return false }
            state.reserved += 1
            return true
        }
    }

    /// Puts a batch into a reserved slot.
    public func commit(_ batch: EventBatch) {
        state.withLock { $0.reserved -= 1 }
        enqueue(batch)
    }

    /// Gives a reserved slot back unused.
    public func release() {
        let wakeup: Wakeup = state.withLock { state in
            state.reserved -= 1
            return promoteSender(&state)
        }
        perform(wakeup)
    }

    /// Takes the next batch, waiting for one; `nil` once every producer finished and the queue is empty.
    public func next() async -> EventBatch? {
        if let batch = takeIfReady() { return batch }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<EventBatch?, Never>) in
                let ready: (batch: EventBatch?, wakeup: Wakeup)? = state.withLock { state in
                    if let batch = state.pop() {
                        return (batch, promoteSender(&state))
                    }
                    if state.producers == 0 || Task.isCancelled { return (nil, .none) }
                    state.receiver = continuation
                    return nil
                }
                if let ready {
                    perform(ready.wakeup)
                    if let batch = ready.batch { account(removed: batch) }
                    continuation.resume(returning: ready.batch)
                }
            }
        } onCancel: {
            let receiver = state.withLock { state -> CheckedContinuation<EventBatch?, Never>? in
                defer { state.receiver = nil }
                return state.receiver
            }
            receiver?.resume(returning: nil)
        }
    }

    /// Tells the queue one of its producers is done; after the last one the consumer drains and ends.
    public func producerFinished() {
        let receiver = state.withLock { state -> CheckedContinuation<EventBatch?, Never>? in
            state.producers -= 1
            guard state.producers == 0, state.count == 0 else { return nil }
            defer { state.receiver = nil }
            return state.receiver
        }
        receiver?.resume(returning: nil)
    }

    private func takeIfReady() -> EventBatch? {
        let ready: (EventBatch, Wakeup)? = state.withLock { state in
            guard let batch = state.pop() else { return nil }
            return (batch, promoteSender(&state))
        }
        guard let (batch, wakeup) = ready else { return nil }
        perform(wakeup)
        account(removed: batch)
        return batch
    }

    private func enqueue(_ batch: EventBatch) {
        account(added: batch)
        let wakeup: Wakeup = state.withLock { state in
            if let receiver = state.receiver {
                state.receiver = nil
                return .receiver(receiver, batch)
            }
            state.items.append(batch)
            return .none
        }
        if case .receiver = wakeup { account(removed: batch) }
        perform(wakeup)
    }

    /// Moves the first parked sender's batch into the freed slot.
    private func promoteSender(_ state: inout State) -> Wakeup {
        guard !state.senders.isEmpty, state.count + state.reserved < capacity else { return .none }
        let waiter = state.senders.removeFirst()
        state.items.append(waiter.batch)
        account(added: waiter.batch)
        return .sender(waiter.continuation)
    }

    private func perform(_ wakeup: Wakeup) {
        switch wakeup {
        case .none: break
        case .receiver(let continuation, let batch): continuation.resume(returning: batch)
        case .sender(let continuation): continuation.resume()
        }
    }

    private func account(added batch: EventBatch) {
        guard let telemetry else { return }
        telemetry.queueBatches.add(1)
        telemetry.queueEvents.add(batch.eventCount)
    }

    private func account(removed batch: EventBatch) {
        guard let telemetry else { return }
        telemetry.queueBatches.add(-1)
        telemetry.queueEvents.add(-batch.eventCount)
    }
}
