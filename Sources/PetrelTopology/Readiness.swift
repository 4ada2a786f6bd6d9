import Synchronization

/// Tracks which components have started, for `/ready`.
public final class Readiness: Sendable {
    private let pending: Mutex<Set<String>>

    public init(componentIDs: some Sequence<String>) {
        pending = Mutex(Set(componentIDs))
    }

    public func markReady(_ id: String) {
        _ = pending.withLock { $0.remove(id) }
    }

    /// Whether every component has started.
    public var isReady: Bool { pending.withLock { $0.isEmpty } }

    /// Components not yet started, for the `/ready` body.
    public var waitingFor: [String] { pending.withLock { $0.sorted() } }
}
