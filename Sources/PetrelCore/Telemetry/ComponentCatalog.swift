import Synchronization

/// A component as the API describes it: its place in the graph and the bounds of its input queue.
public struct ComponentLayout: Sendable, Equatable {
    public var id: String
    public var type: String
    public var kind: ComponentKind
    public var inputs: [String]
    /// Batches the input queue holds (a transform's); `nil` when it has no such bound.
    public var queueCapacity: Int?
    /// Events the input queue holds (a sink's memory buffer, `max_events`).
    public var queueMaxEvents: Int?
    /// Bytes the sink's disk buffer may hold (`max_size`).
    public var diskBufferMaxBytes: Int?

    public init(
        id: String, type: String, kind: ComponentKind, inputs: [String], queueCapacity: Int? = nil,
        queueMaxEvents: Int? = nil, diskBufferMaxBytes: Int? = nil
    ) {
        self.id = id
        self.type = type
        self.kind = kind
        self.inputs = inputs
        self.queueCapacity = queueCapacity
        self.queueMaxEvents = queueMaxEvents
        self.diskBufferMaxBytes = diskBufferMaxBytes
    }
}

/// The running components as the API lists them (`/components`, `petrel top`): each one's layout and telemetry.
public final class ComponentCatalog: Sendable {
    private struct State {
        var layouts: [ComponentLayout] = []
        var telemetries: [String: ComponentTelemetry] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Keeps a component's telemetry; a newer one for the same id (a reload) replaces it.
    func register(_ telemetry: ComponentTelemetry) {
        state.withLock { $0.telemetries[telemetry.id] = telemetry }
    }

    /// Replaces the layout (the topology publishes it as it starts).
    func publish(_ layouts: [ComponentLayout]) {
        state.withLock { $0.layouts = layouts }
    }

    /// Every component of the layout, in its order, with its telemetry.
    public var components: [(layout: ComponentLayout, telemetry: ComponentTelemetry?)] {
        state.withLock { state in state.layouts.map { ($0, state.telemetries[$0.id]) } }
    }
}

extension TelemetryRegistry {
    /// Publishes the running graph: to the catalog for `/components`, to the tap hub for taps on `inputs_of`.
    public func publish(_ layouts: [ComponentLayout]) {
        catalog.publish(layouts)
        taps.setInputs(Dictionary(layouts.map { ($0.id, $0.inputs) }, uniquingKeysWith: { _, last in last }))
    }
}
