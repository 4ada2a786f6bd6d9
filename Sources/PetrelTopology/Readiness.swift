import Synchronization

/// Tracks which components have started, for `/ready`.
public final class Readiness: Sendable {
    private let pending: Mutex<Set<String>>

    public init(componentIDs: some Sequence<String>) {
        pending = Mutex(Set(componentIDs))
    }

    /// Waits for these components too: a reload started them.
    public func expect(_ ids: some Sequence<String>) {
        pending.withLock { $0.formUnion(ids) }
    }

    /// Stops waiting for these components: a reload removed them.
    public func forget(_ ids: some Sequence<String>) {
        pending.withLock { $0.subtract(ids) }
    }

    public func markReady(_ id: String) {
        _ = pending.withLock { $0.remove(id) }
    }

    /// Whether every component has started.
    public var isReady: Bool { pending.withLock { $0.isEmpty } }

    /// Components not yet started, for the `/ready` body.
    public var waitingFor: [String] { pending.withLock { $0.sorted() } }
}
