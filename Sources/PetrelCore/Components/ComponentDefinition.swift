/// A component built from its configuration, ready to run.
public enum BuiltComponent: Sendable {
    /// A source and the signals it emits.
    case source(any Source, emits: SignalSet)
    /// A transform and the signals it takes; it emits what it takes of its inputs' signals.
    case transform(any Transform, accepts: SignalSet)
    /// A sink and the signals it takes.
    case sink(any Sink, accepts: SignalSet)

    public var kind: ComponentKind {
        switch self {
        case .source: .source
        case .transform: .transform
        case .sink: .sink
        }
    }
}

/// What every component may need from the configuration around it.
public struct ComponentBuildContext: Sendable {
    /// The component's id.
    public var id: String
    /// The top-level `data_dir`, where components keep state such as disk buffers.
    public var dataDirectory: String

    public init(id: String, dataDirectory: String) {
        self.id = id
        self.dataDirectory = dataDirectory
    }
}

/// A `type:` that can appear in the configuration, and how to build it.
public struct ComponentDefinition: Sendable {
    public let type: String
    public let kind: ComponentKind
    /// Reads the component's own keys from `reader` (reporting problems to it) and builds it;
    /// `nil` when the configuration has errors. `type` and `inputs` are read by the loader.
    public let build: @Sendable (ConfigReader, ComponentBuildContext) -> BuiltComponent?

    public init(
        type: String, kind: ComponentKind,
        build: @escaping @Sendable (ConfigReader, ComponentBuildContext) -> BuiltComponent?
    ) {
        self.type = type
        self.kind = kind
        self.build = build
    }
}
