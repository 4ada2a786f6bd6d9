import Synchronization

/// Every tap point of the running pipeline and every tap attached to them.
///
/// Points are created as the topology builds each `Output` and outlive it: a topology rebuilt by a reload gets the
/// same point back for the same output, and a tap attached before follows it. Which taps look at which point is
/// worked out here whenever a point, a tap or the graph changes, never per batch.
public final class TapHub: Sendable {
    private struct State {
        var points: [String: TapPoint] = [:]
        var subscriptions: [ObjectIdentifier: TapSubscription] = [:]
        /// Each component's inputs, for `inputs_of`.
        var inputs: [String: [String]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The point for a component's output (`port` for a named one), created on first use.
    public func point(componentID: String, port: String? = nil) -> TapPoint {
        let name = port.map { "\(componentID).\($0)" } ?? componentID
        return state.withLock { state in
            if let point = state.points[name] { return point }
            let point = TapPoint(componentID: componentID, port: port)
            state.points[name] = point
            Self.attach(point, state)
            return point
        }
    }

    /// Tells the hub each component's inputs (the topology does as it starts), for taps on `inputs_of`.
    public func setInputs(_ inputs: [String: [String]]) {
        state.withLock { state in
            state.inputs = inputs
            for point in state.points.values { Self.attach(point, state) }
        }
    }

    /// Attaches a tap to every point it wants; returns the names of those outputs, sorted.
    public func subscribe(_ subscription: TapSubscription) -> [String] {
        state.withLock { state in
            state.subscriptions[ObjectIdentifier(subscription)] = subscription
            var matched: [String] = []
            for (name, point) in state.points {
                if Self.attach(point, state).contains(where: { $0 === subscription }) { matched.append(name) }
            }
            return matched.sorted()
        }
    }

    /// Detaches a tap from every point.
    public func unsubscribe(_ subscription: TapSubscription) {
        state.withLock { state in
            guard state.subscriptions.removeValue(forKey: ObjectIdentifier(subscription)) != nil else { return }
            for point in state.points.values { Self.attach(point, state) }
        }
    }

    @discardableResult
    private static func attach(_ point: TapPoint, _ state: State) -> [TapSubscription] {
        let wanted = state.subscriptions.values.filter { $0.wants(point, inputs: state.inputs) }
        point.attach(wanted)
        return wanted
    }
}
