import Synchronization

/// One output of one component, where a tap looks: its `Output` offers it every batch it sends.
///
/// With no tap attached an offer is one relaxed atomic load; with taps attached it hands the batch to each of them
/// without waiting (`TapSubscription.offer`), so a tap never holds up the pipeline.
public final class TapPoint: Sendable {
    public let componentID: String
    /// The named output (a route's), `nil` for the component's own output.
    public let port: String?
    @usableFromInline
    let attachedCount = Atomic<Int>(0)
    private let subscriptions = Mutex<[TapSubscription]>([])

    init(componentID: String, port: String?) {
        self.componentID = componentID
        self.port = port
    }

    /// The name readers list among their `inputs`: `id`, or `id.port` for a named output.
    public var outputName: String { port.map { "\(componentID).\($0)" } ?? componentID }

    /// Shows a batch being sent to the taps attached here, if any.
    @inlinable
    public func offer(_ batch: EventBatch) {
        guard isAttached else { return }
        deliver(batch)
    }

    /// Whether any tap looks here.
    @inlinable
    public var isAttached: Bool { attachedCount.load(ordering: .relaxed) > 0 }

    @usableFromInline
    func deliver(_ batch: EventBatch) {
        let attached = subscriptions.withLock { $0 }
        for subscription in attached { subscription.offer(batch, from: self) }
    }

    /// Sets the taps attached here (the hub decides which match).
    func attach(_ attached: [TapSubscription]) {
        subscriptions.withLock { $0 = attached }
        attachedCount.store(attached.count, ordering: .relaxed)
    }
}
