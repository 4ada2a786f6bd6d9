import Synchronization

/// The pipeline's `memory_limit`: the bytes of the batches held in its queues and of request bodies being read, and
/// the most it admits.
///
/// Every graph queue reports what it holds. Sources ask `admits` before they accept a batch and refuse it (HTTP 429,
/// `RESOURCE_EXHAUSTED`) while the queues hold the limit; batches already accepted always move on, so the queues may
/// exceed the limit by what was in flight between two hops, never by more than one batch per producer.
public final class MemoryLimit: Sendable {
    /// The bound in bytes; `Int.max` for none.
    public let limit: Int
    private let held = Atomic<Int>(0)

    public init(limit: Int) {
        self.limit = limit
    }

    /// Bytes the queues hold now.
    public var bytes: Int { held.load(ordering: .relaxed) }

    /// Whether a batch of `bytes` may come in now. An empty pipeline takes any one batch, however large.
    public func admits(_ bytes: Int) -> Bool {
        let current = held.load(ordering: .relaxed)
        return current == 0 || current + bytes <= limit
    }

    /// Counts `bytes` more of a request body being read, unless that would pass the limit while anything but the
    /// `held` bytes this same body already counts is held: the first body, like the first batch, always comes in.
    /// Returns whether it counted them; the reader gives them back with `add(-bytes)` once the body is handled.
    public func reserve(_ bytes: Int, holding held: Int) -> Bool {
        var current = self.held.load(ordering: .relaxed)
        while current == held || current + bytes <= limit {
            let (exchanged, original) = self.held.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Counts bytes entering (positive) or leaving (negative) a queue.
    public func add(_ bytes: Int) {
        held.add(bytes, ordering: .relaxed)
    }
}
