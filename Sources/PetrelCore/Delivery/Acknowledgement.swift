import Synchronization

/// Counts who still holds a batch and calls back once nobody does.
///
/// It is how a source learns that every buffer it feeds holds its batch (so it may answer 2xx), and how a disk
/// buffer learns that its sink delivered a record (so the record may go). Each holder owns one count: `split()` makes
/// one more holder (a fan-out edge, a part of a batch sent on its own), and `acknowledge()` gives one back. A holder
/// that drops its batch without acknowledging it keeps the acknowledgement pending for good: a sink cancelled at
/// shutdown does that, and the disk buffer then keeps the record for the next run.
public struct Acknowledgement: Sendable {
    private final class Tracker: Sendable {
        let pending = Atomic<Int>(1)
        let untilDelivered: Bool
        let onAcknowledged: @Sendable () -> Void

        init(untilDelivered: Bool, _ onAcknowledged: @escaping @Sendable () -> Void) {
            self.untilDelivered = untilDelivered
            self.onAcknowledged = onAcknowledged
        }
    }

    private let tracker: Tracker?

    /// Nobody waits: splitting and acknowledging do nothing.
    public static let none = Acknowledgement(tracker: nil)

    private init(tracker: Tracker?) {
        self.tracker = tracker
    }

    /// One holder; `onAcknowledged` runs once, on the thread of the last `acknowledge()`.
    ///
    /// `untilDelivered`: a sink's memory buffer does not count as holding the batch; the sink acknowledges once it
    /// delivered it. A source that can read its input again after a crash (a file from its checkpoint) asks for
    /// that, so a crash re-sends what was in memory instead of losing it. A disk buffer still counts.
    public init(untilDelivered: Bool = false, onAcknowledged: @escaping @Sendable () -> Void) {
        self.tracker = Tracker(untilDelivered: untilDelivered, onAcknowledged)
    }

    /// Whether anyone waits for it.
    public var isTracked: Bool { tracker != nil }

    /// Whether only delivery (or a disk buffer) ends the wait, not a memory buffer.
    public var waitsForDelivery: Bool { tracker?.untilDelivered ?? false }

    /// One more holder of the same batch, who must acknowledge on its own.
    public func split() -> Acknowledgement {
        tracker?.pending.add(1, ordering: .relaxed)
        return self
    }

    /// This holder is done with the batch: delivered, safely buffered, or dropped on purpose.
    public func acknowledge() {
        guard let tracker else { return }
        let (_, remaining) = tracker.pending.subtract(1, ordering: .acquiringAndReleasing)
        precondition(remaining >= 0, "a batch was acknowledged more times than it was held")
        if remaining == 0 { tracker.onAcknowledged() }
    }
}

extension Acknowledgement {
    /// One hold standing for all of `holds`: acknowledging it acknowledges each of them once.
    ///
    /// A transform that merges records of several batches into one (`reduce`) sends it on with this, so every
    /// source waits for the merged record. It waits for delivery when any of them does.
    public static func combining(_ holds: [Acknowledgement]) -> Acknowledgement {
        let tracked = holds.filter(\.isTracked)
        if tracked.count <= 1 { return tracked.first ?? .none }
        return Acknowledgement(untilDelivered: tracked.contains(where: \.waitsForDelivery)) {
            for hold in tracked { hold.acknowledge() }
        }
    }
}

/// A wait for one batch's acknowledgement, for a source that answers its sender only once its batch is buffered.
public final class AcknowledgementWait: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Bool, Never>)
        case acknowledged
        case expired
    }

    /// How long a push source waits before it answers "retry later": long enough for a full queue to move, short
    /// enough that a sender's own timeout (Prometheus: 30 s) does not fire first.
    public static let defaultTimeout = Duration.seconds(10)

    private let state = Mutex<State>(.pending)
    private let abandon: ShutdownSignal?

    /// A wait that also ends, unacknowledged, once `abandon` fires: the pipeline gave up on its sinks (the shutdown
    /// deadline passed), so a batch not yet buffered never will be, and the source should answer now.
    public init(abandonedBy abandon: ShutdownSignal? = nil) {
        self.abandon = abandon
    }

    /// Whether the pipeline gave up on what this wait is for.
    var isAbandoned: Bool { abandon?.isTriggered ?? false }

    /// The acknowledgement whose last holder ends the wait.
    public func makeAcknowledgement() -> Acknowledgement {
        Acknowledgement { [self] in
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                switch state {
                case .waiting(let continuation):
                    state = .acknowledged
                    return continuation
                case .pending:
                    state = .acknowledged
                    return nil
                case .acknowledged, .expired:
                    return nil
                }
            }
            guard let waiter else { return }
            AcknowledgementDeadlines.shared.remove(self)
            waiter.resume(returning: true)
        }
    }

    /// Returns true once the batch is acknowledged, or false if `timeout` passed first, the wait was abandoned or
    /// the task cancelled (the batch may still be buffered and delivered later).
    public func wait(timeout: Duration? = nil) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let outcome = state.withLock { state -> Bool? in
                    if case .acknowledged = state { return true }
                    if Task.isCancelled || isAbandoned {
                        state = .expired
                        return false
                    }
                    state = .waiting(continuation)
                    return nil
                }
                if let outcome {
                    continuation.resume(returning: outcome)
                } else if timeout != nil || abandon != nil {
                    AcknowledgementDeadlines.shared.add(self, deadline: timeout.map { .now + $0 })
                }
            }
        } onCancel: {
            AcknowledgementDeadlines.shared.remove(self)
            expire()
        }
    }

    /// Ends a wait that is still waiting with false.
    fileprivate func expire() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard case .waiting(let continuation) = state else { return nil }
            state = .expired
            return continuation
        }
        waiter?.resume(returning: false)
    }
}

/// Expires the acknowledgement waits that outlive their timeout or are abandoned. One task sweeps for the whole
/// process, four times a second, instead of a task and a timer per request: most batches are acknowledged within
/// milliseconds, and a timer each would cost more than the wait.
private final class AcknowledgementDeadlines: Sendable {
    static let shared = AcknowledgementDeadlines()

    private struct State {
        var waits: [ObjectIdentifier: (deadline: ContinuousClock.Instant?, wait: AcknowledgementWait)] = [:]
        var sweeping = false
    }

    private let state = Mutex(State())

    /// Watches `wait` until `deadline` (none: until it is abandoned).
    func add(_ wait: AcknowledgementWait, deadline: ContinuousClock.Instant?) {
        let startSweeping = state.withLock { state -> Bool in
            state.waits[ObjectIdentifier(wait)] = (deadline, wait)
            defer { state.sweeping = true }
            return !state.sweeping
        }
        if startSweeping { Task.detached { await self.sweep() } }
    }

    func remove(_ wait: AcknowledgementWait) {
        _ = state.withLock { $0.waits.removeValue(forKey: ObjectIdentifier(wait)) }
    }

    private func sweep() async {
        while true {
            try? await Task.sleep(for: .milliseconds(250))
            let now = ContinuousClock.now
            let expired = state.withLock { state -> [AcknowledgementWait] in
                let due = state.waits.filter { entry in
                    entry.value.deadline.map { $0 <= now } ?? false || entry.value.wait.isAbandoned
                }
                for key in due.keys { state.waits.removeValue(forKey: key) }
                return due.values.map(\.wait)
            }
            for wait in expired { wait.expire() }
        }
    }
}

/// A batch on its way through the graph, with the acknowledgement its source waits for.
public struct Envelope: Sendable {
    public let batch: EventBatch
    public let acknowledgement: Acknowledgement
    /// `batch.estimatedBytes`, worked out once: queues and the memory limit count it at every hop.
    public let bytes: Int

    public init(_ batch: EventBatch, acknowledgement: Acknowledgement = .none) {
        self.batch = batch
        self.acknowledgement = acknowledgement
        self.bytes = batch.estimatedBytes
    }

    /// The same batch with another acknowledgement.
    public func with(_ acknowledgement: Acknowledgement) -> Envelope {
        Envelope(batch: batch, acknowledgement: acknowledgement, bytes: bytes)
    }

    private init(batch: EventBatch, acknowledgement: Acknowledgement, bytes: Int) {
        self.batch = batch
        self.acknowledgement = acknowledgement
        self.bytes = bytes
    }
}
