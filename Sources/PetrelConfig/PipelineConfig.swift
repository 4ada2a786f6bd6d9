import PetrelCore
import PetrelNet

/// A validated pipeline: its settings and its components, ready for the topology to wire and run.
public struct PipelineConfig: Sendable {
    /// The top-level `data_dir`, where components keep state such as disk buffers.
    public var dataDirectory: String
    /// Where the API (`/metrics`, `/health`, `/ready`) listens; `nil` when it is disabled.
    ///
    /// An IPv6 host is given without its brackets (`::1`).
    public var apiAddress: (host: String, port: Int)?
    /// The API's `tls` and `auth`.
    public var apiSecurity = ListenerSecurity()
    /// The API listener's connection limit and timeouts (`api.max_connections`...).
    public var apiLimits = HTTPListenerLimits()
    /// In topological order: sources first, and every component after all of its inputs.
    public var components: [ComponentConfig]
    /// The top-level `memory_limit`: the most bytes of batches the pipeline's queues hold before its sources refuse
    /// more; `nil` for no limit but the queues' own.
    public var memoryLimit: Int?
    /// The top-level `shutdown_timeout`: how long sinks may take to deliver what they hold once the sources stopped.
    public var shutdownTimeout: Duration
    /// The parsed file (after `${VAR}` interpolation), kept so that a reload can tell which components changed;
    /// `nil` for a configuration built in code, whose components a reload always rebuilds.
    public var document: ConfigNode?
    /// A hash of the file's text (`petrel_config_hash`); 0 for a configuration built in code.
    public var contentHash: Int = 0

    public static let defaultShutdownTimeout = Duration.seconds(30)

    public init(
        dataDirectory: String, apiAddress: (host: String, port: Int)?, components: [ComponentConfig],
        memoryLimit: Int? = nil, shutdownTimeout: Duration = PipelineConfig.defaultShutdownTimeout
    ) {
        self.dataDirectory = dataDirectory
        self.apiAddress = apiAddress
        self.components = components
        self.memoryLimit = memoryLimit
        self.shutdownTimeout = shutdownTimeout
    }

    /// The component with `id`.
    public func component(_ id: String) -> ComponentConfig? {
        components.first { $0.id == id }
    }

    /// The components that list `id` among their inputs, in topological order.
    public func readers(of id: String) -> [ComponentConfig] {
        components.filter { $0.inputs.contains(id) }
    }
}

/// One component of a validated pipeline.
public struct ComponentConfig: Sendable {
    public var id: String
    /// The `type:` it was configured with.
    public var type: String
    public var kind: ComponentKind
    /// The ids it reads from, as configured; empty for a source.
    public var inputs: [String]
    public var component: BuiltComponent
    /// The signals it takes from its inputs; empty for a source, which takes nothing.
    public var accepts: SignalSet
    /// The signals it sends on: a source's own, a transform's inputs' that it takes; empty for a sink.
    public var emits: SignalSet
    /// Where a sink's batches wait for it (`buffer:`); a memory buffer for anything else.
    public var buffer: BufferConfig

    public init(
        id: String, type: String, kind: ComponentKind, inputs: [String], component: BuiltComponent,
        accepts: SignalSet, emits: SignalSet, buffer: BufferConfig = .default
    ) {
        self.buffer = buffer
        self.id = id
        self.type = type
        self.kind = kind
        self.inputs = inputs
        self.component = component
        self.accepts = accepts
        self.emits = emits
    }
}
