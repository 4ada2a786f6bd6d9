import Synchronization

/// A bounded FIFO joining producers to consumers: the edge of the pipeline graph, and the
/// hand-off between a sink's batcher and its senders.
///
/// Its bound is the backpressure: `send` waits while the queue is full, so a slow consumer makes
/// its producers wait instead of letting memory grow. Waiting senders and receivers keep their
/// order. The queue ends once every producer has called `producerFinished()` and it is drained.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private struct Sender {
        var id: UInt64
        var element: Element
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct Receiver {
        var id: UInt64
        var continuation: CheckedContinuation<Element?, Never>
    }

    private struct State {
        var items: [Element?] = []
        var head = 0
        var reserved = 0
        var producers: Int
        var senders: [Sender] = []
        var receivers: [Receiver] = []
        var nextID: UInt64 = 0

        var count: Int { items.count - head }

        mutating func pop() -> Element? {
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

        mutating func makeID() -> UInt64 {
            nextID += 1
            return nextID
        }
    }

    /// Effects decided under the lock and carried out after it is released.
    private enum Wakeup {
        case none
        case receiver(CheckedContinuation<Element?, Never>, Element?)
        case sender(CheckedContinuation<Void, any Error>)
    }

    /// Called with +1/-1 and the element's weight whenever an element enters or leaves the queue.
    public typealias DepthObserver = @Sendable (_ elements: Int, _ weight: Int) -> Void

    public let capacity: Int
    private let state: Mutex<State>
    private let weigh: @Sendable (Element) -> Int
    private let observer: DepthObserver?

    /// A queue of `capacity` elements fed by `producers` producers; it ends when all of them finish.
    public init(
        capacity: Int, producers: Int, weigh: @escaping @Sendable (Element) -> Int = { _ in 1 },
        observer: DepthObserver? = nil
    ) {
        precondition(capacity > 0, "a queue holds at least one element")
        self.capacity = capacity
        self.state = Mutex(State(producers: producers))
        self.weigh = weigh
        self.observer = observer
    }

    /// Elements waiting, not counting senders parked on a full queue.
    public var count: Int { state.withLock { $0.count } }

    /// Adds an element, waiting while the queue is full. Throws `CancellationError` if cancelled while waiting.
    public func send(_ element: Element) async throws {
        let id: UInt64? = state.withLock { state in
            if state.count + state.reserved < capacity && state.senders.isEmpty { return nil }
            return state.makeID()
        }
        guard let id else {
            enqueue(element)
            return
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let accepted: Bool? = state.withLock { state in
                    if Task.isCancelled { return nil }
                    if state.count + state.reserved < capacity && state.senders.isEmpty { return true }
                    state.senders.append(Sender(id: id, element: element, continuation: continuation))
                    return false
                }
                switch accepted {
                case true?:
                    enqueue(element)
                    continuation.resume()
                case nil:
                    continuation.resume(throwing: CancellationError())
                case false?:
                    break
                }
            }
        } onCancel: {
            let sender: Sender? = state.withLock { state in
                guard let index = state.senders.firstIndex(where: { $0.id == id }) else { return nil }
                return state.senders.remove(at: index)
            }
            sender?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Reserves room for one element without waiting; pair with `commit` or `release`.
    public func tryReserve() -> Bool {
        state.withLock { state in
            guard state.count + state.reserved < capacity && state.senders.isEmpty else { return false }
            state.reserved += 1
            return true
        }
    }

    /// Puts an element into a reserved slot.
    public func commit(_ element: Element) {
        state.withLock { $0.reserved -= 1 }
        enqueue(element)
    }

    /// Gives a reserved slot back unused.
    public func release() {
        let wakeup: Wakeup = state.withLock { state in
            state.reserved -= 1
            return promoteSender(&state)
        }
        perform(wakeup)
    }

    /// Takes the next element, waiting for one; `nil` once every producer finished and the queue is empty.
    public func next() async -> Element? {
        let ready: (Element, Wakeup)? = state.withLock { state in
            guard let element = state.pop() else { return nil }
            return (element, promoteSender(&state))
        }
        if let (element, wakeup) = ready {
            perform(wakeup)
            observe(removed: element)
            return element
        }
        let id = state.withLock { $0.makeID() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let ready: (element: Element?, wakeup: Wakeup)? = state.withLock { state in
                    if let element = state.pop() { return (element, promoteSender(&state)) }
                    if state.producers == 0 || Task.isCancelled { return (nil, .none) }
                    state.receivers.append(Receiver(id: id, continuation: continuation))
                    return nil
                }
                if let ready {
                    perform(ready.wakeup)
                    if let element = ready.element { observe(removed: element) }
                    continuation.resume(returning: ready.element)
                }
            }
        } onCancel: {
            let receiver: Receiver? = state.withLock { state in
                guard let index = state.receivers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.receivers.remove(at: index)
            }
            receiver?.continuation.resume(returning: nil)
        }
    }

    /// Tells the queue one of its producers is done; after the last one the consumers drain it and end.
    public func producerFinished() {
        let receivers = state.withLock { state -> [Receiver] in
            state.producers -= 1
            guard state.producers == 0, state.count == 0 else { return [] }
            defer { state.receivers = [] }
            return state.receivers
        }
        for receiver in receivers { receiver.continuation.resume(returning: nil) }
    }

    private func enqueue(_ element: Element) {
        observe(added: element)
        let wakeup: Wakeup = state.withLock { state in
            if !state.receivers.isEmpty {
                return .receiver(state.receivers.removeFirst().continuation, element)
            }
            state.items.append(element)
            return .none
        }
        if case .receiver = wakeup { observe(removed: element) }
        perform(wakeup)
    }

    /// Moves the first parked sender's element into the freed slot.
    private func promoteSender(_ state: inout State) -> Wakeup {
        guard !state.senders.isEmpty, state.count + state.reserved < capacity else { return .none }
        let sender = state.senders.removeFirst()
        state.items.append(sender.element)
        observe(added: sender.element)
        return .sender(sender.continuation)
    }

    private func perform(_ wakeup: Wakeup) {
        switch wakeup {
        case .none: break
        case .receiver(let continuation, let element): continuation.resume(returning: element)
        case .sender(let continuation): continuation.resume()
        }
    }

    private func observe(added element: Element) {
        observer?(1, weigh(element))
    }

    private func observe(removed element: Element) {
        observer?(-1, -weigh(element))
    }
}

/// The input queue of a transform or sink, reporting its depth to the component's telemetry.
public typealias BatchQueue = BoundedQueue<EventBatch>

extension BoundedQueue where Element == EventBatch {
    /// A queue of batches whose depth shows as `petrel_component_queue_batches` and `..._events`.
    public convenience init(capacity: Int, producers: Int, telemetry: ComponentTelemetry? = nil) {
        var observer: DepthObserver?
        if let telemetry {
            observer = { batches, events in
                telemetry.queueBatches.add(batches)
                telemetry.queueEvents.add(events)
            }
        }
        self.init(capacity: capacity, producers: producers, weigh: { $0.eventCount }, observer: observer)
    }
}
