import Synchronization

/// A bounded FIFO joining producers to consumers: the edge of the pipeline graph, and the
/// hand-off between a sink's batcher and its senders.
///
/// Its bound is the backpressure: `send` waits while the queue is full, so a slow consumer makes
/// its producers wait instead of letting memory grow. The bound is a number of elements and,
/// optionally, a total weight (a sink's `max_events`); an empty queue takes any one element, however
/// heavy. Waiting senders and receivers keep their order. The queue ends once every producer has
/// called `producerFinished()` and it is drained.
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
        /// The weight of the queued elements and of the reserved slots.
        var weight = 0
        /// Set while the consumer cannot make progress: reservations fail even with room left.
        var refusing = false
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

    /// Called with +1 and the element when it enters the queue, and with -1 and the element when it leaves.
    public typealias DepthObserver = @Sendable (_ delta: Int, _ element: Element) -> Void

    public let capacity: Int
    /// The most weight the queue holds; `nil` for no bound but `capacity`.
    public let maxWeight: Int?
    private let state: Mutex<State>
    private let weigh: @Sendable (Element) -> Int
    private let observer: DepthObserver?

    /// A queue of `capacity` elements (and of `maxWeight` total weight, if given) fed by `producers`
    /// producers; it ends when all of them finish.
    public init(
        capacity: Int, maxWeight: Int? = nil, producers: Int, weigh: @escaping @Sendable (Element) -> Int = { _ in 1 },
        observer: DepthObserver? = nil
    ) {
        precondition(capacity > 0, "a queue holds at least one element")
        precondition((maxWeight ?? 1) > 0, "a queue holds some weight")
        self.capacity = capacity
        self.maxWeight = maxWeight
        self.state = Mutex(State(producers: producers))
        self.weigh = weigh
        self.observer = observer
    }

    /// Elements waiting, not counting senders parked on a full queue.
    public var count: Int { state.withLock { $0.count } }

    /// Adds an element, waiting while the queue is full. Throws `CancellationError` if cancelled while waiting.
    public func send(_ element: Element) async throws {
        let weight = weigh(element)
        let id: UInt64? = state.withLock { state in
            if state.senders.isEmpty && hasRoom(state, for: weight) {
                state.weight += weight
                return nil
            }
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
                    if state.senders.isEmpty && hasRoom(state, for: weight) {
                        state.weight += weight
                        return true
                    }
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

    /// Reserves room for one element of `weight` without waiting; pair with `commit` or `release`.
    public func tryReserve(weight: Int = 1) -> Bool {
        state.withLock { state in
            guard !state.refusing && state.senders.isEmpty && hasRoom(state, for: weight) else { return false }
            state.reserved += 1
            state.weight += weight
            return true
        }
    }

    /// Puts an element into a slot reserved for its weight.
    public func commit(_ element: Element) {
        state.withLock { $0.reserved -= 1 }
        enqueue(element)
    }

    /// Makes `tryReserve` fail (or work again) whatever the room: for a consumer that is stuck (a full disk buffer),
    /// so that senders who cannot wait are refused at once instead of queueing behind it. `send` still waits.
    public func refuseReservations(_ refuse: Bool) {
        state.withLock { $0.refusing = refuse }
    }

    /// Gives a slot reserved for `weight` back unused.
    public func release(weight: Int = 1) {
        let wakeup: Wakeup = state.withLock { state in
            state.reserved -= 1
            state.weight -= weight
            return promoteSender(&state)
        }
        perform(wakeup)
    }

    /// Takes the next element, waiting for one; `nil` once every producer finished and the queue is empty.
    public func next() async -> Element? {
        if let element = tryNext() { return element }
        let id = state.withLock { $0.makeID() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let ready: (element: Element?, wakeup: Wakeup)? = state.withLock { state in
                    if let element = pop(&state) { return (element, promoteSender(&state)) }
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

    /// Takes the next element if one is queued, without waiting.
    public func tryNext() -> Element? {
        let ready: (Element, Wakeup)? = state.withLock { state in
            guard let element = pop(&state) else { return nil }
            return (element, promoteSender(&state))
        }
        guard let (element, wakeup) = ready else { return nil }
        perform(wakeup)
        observe(removed: element)
        return element
    }

    /// Counts one more producer: a reload wires a new component to a queue that is already running. Call it before
    /// that producer's first `send`, and while another producer still holds the queue open.
    public func producerAdded() {
        state.withLock { $0.producers += 1 }
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
                state.weight -= weigh(element)
                return .receiver(state.receivers.removeFirst().continuation, element)
            }
            state.items.append(element)
            return .none
        }
        if case .receiver = wakeup { observe(removed: element) }
        perform(wakeup)
    }

    /// Whether an element of `weight` fits now (counting reserved slots); an empty queue takes anything.
    private func hasRoom(_ state: State, for weight: Int) -> Bool {
        guard state.count + state.reserved < capacity else { return false }
        guard let maxWeight, state.weight > 0 else { return true }
        return state.weight + weight <= maxWeight
    }

    private func pop(_ state: inout State) -> Element? {
        guard let element = state.pop() else { return nil }
        state.weight -= weigh(element)
        return element
    }

    /// Moves the first parked sender's element into the freed room.
    private func promoteSender(_ state: inout State) -> Wakeup {
        guard let sender = state.senders.first else { return .none }
        let weight = weigh(sender.element)
        guard hasRoom(state, for: weight) else { return .none }
        state.senders.removeFirst()
        state.weight += weight
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
        observer?(1, element)
    }

    private func observe(removed element: Element) {
        observer?(-1, element)
    }
}

/// The input queue of a transform or sink, reporting its depth to the component's telemetry and the bytes it holds
/// to the pipeline's memory limit.
public typealias BatchQueue = BoundedQueue<Envelope>

extension BoundedQueue where Element == Envelope {
    /// A queue of batches whose depth shows as `petrel_component_queue_batches` and `..._events`; with `maxEvents`
    /// it is bounded by events as well as batches.
    public convenience init(
        capacity: Int, maxEvents: Int? = nil, producers: Int, telemetry: ComponentTelemetry?,
        memory: MemoryLimit? = nil
    ) {
        var observer: DepthObserver?
        if telemetry != nil || memory != nil {
            observer = { delta, envelope in
                telemetry?.queueBatches.add(delta)
                telemetry?.queueEvents.add(delta * envelope.batch.eventCount)
                telemetry?.queueBytes.add(delta * envelope.bytes)
                memory?.add(delta * envelope.bytes)
            }
        }
        self.init(
            capacity: capacity, maxWeight: maxEvents, producers: producers, weigh: { $0.batch.eventCount },
            observer: observer)
    }
}
