import Synchronization

/// One client's tap: the outputs it asked to see, at most `rate` events per second of them, handed over as rendered
/// lines without ever waiting.
///
/// The sampling happens at the tap point, before anything is rendered, so the pipeline's cost of a tap is bounded by
/// its rate, not by the pipeline's. What the client has not read yet waits in a small buffer; what does not fit is
/// dropped and counted, so a slow client loses lines instead of slowing the pipeline.
public final class TapSubscription: Sendable {
    /// Turns the first `events` events of a batch sent by a tap point into lines (one per event, each ending in `\n`).
    public typealias Render = @Sendable (_ batch: EventBatch, _ point: TapPoint, _ events: Int) -> [UInt8]

    /// What the client reads.
    public enum Item: Sendable {
        /// Rendered lines of `events` events.
        case lines([UInt8], events: Int)
        /// A second went by: a moment to tell the client what was sampled out or dropped.
        case tick
    }

    /// What became of the events offered to this tap.
    public struct Counts: Sendable, Equatable {
        /// Handed to the client's buffer.
        public var passed = 0
        /// Left out to keep to the rate.
        public var sampledOut = 0
        /// Lost because the client did not read fast enough.
        public var dropped = 0

        public init() {}
    }

    /// Items the client may fall behind by before new ones are dropped.
    public static let bufferedItems = 64

    public let outputsOf: [IDPattern]
    public let inputsOf: [IDPattern]
    /// Events per second at most.
    public let rate: Int
    public let items: AsyncStream<Item>
    private let continuation: AsyncStream<Item>.Continuation
    private let render: Render
    private let state: Mutex<State>
    /// Rendered items the client has not taken yet: at the bound, events are dropped before they are rendered.
    private let unread = Atomic<Int>(0)

    private struct State {
        var tokens: Double
        var refilledAt: ContinuousClock.Instant
        var counts = Counts()
    }

    /// With neither `outputsOf` nor `inputsOf`, the tap sees every output (`*`).
    public init(outputsOf: [IDPattern], inputsOf: [IDPattern], rate: Int, render: @escaping Render) {
        self.outputsOf = outputsOf.isEmpty && inputsOf.isEmpty ? [IDPattern("*")] : outputsOf
        self.inputsOf = inputsOf
        self.rate = max(1, rate)
        self.render = render
        // Room for the ticks beside the lines, which `unread` bounds.
        (items, continuation) = AsyncStream.makeStream(
            of: Item.self, bufferingPolicy: .bufferingOldest(Self.bufferedItems * 2))
        // A full bucket at the start: the first second shows up to `rate` events at once.
        state = Mutex(State(tokens: Double(max(1, rate)), refilledAt: .now))
    }

    public var counts: Counts { state.withLock { $0.counts } }

    /// Whether this tap looks at `point`, given each component's inputs.
    func wants(_ point: TapPoint, inputs: [String: [String]]) -> Bool {
        if outputsOf.contains(where: { $0.matches(point.componentID) || $0.matches(point.outputName) }) { return true }
        guard !inputsOf.isEmpty else { return false }
        return inputs.contains { reader, readerInputs in
            readerInputs.contains(point.outputName) && inputsOf.contains { $0.matches(reader) }
        }
    }

    /// Takes what the rate allows of a batch; never waits.
    func offer(_ batch: EventBatch, from point: TapPoint) {
        let count = batch.eventCount
        guard count > 0 else { return }
        let taken = state.withLock { state -> Int in
            let now = ContinuousClock.now
            let elapsed = now - state.refilledAt
            state.refilledAt = now
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            state.tokens = min(Double(rate), state.tokens + seconds * Double(rate))
            let taken = min(count, Int(state.tokens))
            state.tokens -= Double(taken)
            state.counts.sampledOut += count - taken
            return taken
        }
        guard taken > 0 else { return }
        guard unread.add(1, ordering: .relaxed).newValue <= Self.bufferedItems else {
            unread.subtract(1, ordering: .relaxed)
            state.withLock { $0.counts.dropped += taken }
            return
        }
        let lines = render(batch, point, taken)
        switch continuation.yield(.lines(lines, events: taken)) {
        case .enqueued: state.withLock { $0.counts.passed += taken }
        default:
            unread.subtract(1, ordering: .relaxed)
            state.withLock { $0.counts.dropped += taken }
        }
    }

    /// The client took an item of lines off `items`.
    public func took() {
        unread.subtract(1, ordering: .relaxed)
    }

    /// Wakes the client once a second, even when nothing matched.
    public func tick() {
        continuation.yield(.tick)
    }

    /// Ends the client's stream (shutdown, or the client is done).
    public func finish() {
        continuation.finish()
    }
}
