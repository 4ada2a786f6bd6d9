import Logging

/// The three roles a component can play in the graph.
public enum ComponentKind: String, Sendable, CaseIterable {
    case source
    case transform
    case sink
}

/// Takes data in from the outside world and emits batches.
public protocol Source: Sendable {
    /// Runs until `context.shutdown` is triggered (or the source runs out of input), then returns
    /// once everything it accepted has been sent on.
    func run(_ context: SourceContext) async throws
}

/// Turns one batch into another, synchronously, on whole batches.
public protocol Transform: Sendable {
    /// Returns the batch to send on, or `nil` when nothing is left of it.
    ///
    /// The batch is handed over (`consuming`): when nobody else holds it, a transform that changes it in place does
    /// so without first copying its storage.
    mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch?

    /// The signals it sends on, given those it receives and takes; the graph checks its readers against them.
    func emits(from received: SignalSet) -> SignalSet

    /// The names of its outputs beside the main one, which readers list as `<id>.<name>` (`remap`'s `dropped`).
    var namedOutputs: [String] { get }

    /// The batches the last `process` sent to named outputs, handed over: the transform keeps none of them.
    mutating func takeNamedOutputBatches() -> [(output: String, batch: EventBatch)]

    /// For a transform that emits on time as well as on input (the `alert` transform resolves alerts no event
    /// mentions any more): the topology hands it an empty batch this often, whether or not input arrives. Nil for
    /// never.
    var tickInterval: Duration? { get }
}

extension Transform {
    /// Most transforms send on the signals they receive.
    public func emits(from received: SignalSet) -> SignalSet { received }

    /// Most transforms have only their main output.
    public var namedOutputs: [String] { [] }

    public mutating func takeNamedOutputBatches() -> [(output: String, batch: EventBatch)] { [] }

    /// Most transforms act on input only.
    public var tickInterval: Duration? { nil }
}

/// Takes batches out of the graph to a backend.
public protocol Sink: Sendable {
    /// Consumes `input` until it ends, then flushes what it holds and returns.
    func run(_ input: SinkInput, _ context: SinkContext) async throws
}

/// What a source is given to run.
public struct SourceContext: Sendable {
    public let id: String
    public let output: Output
    public let telemetry: ComponentTelemetry
    public let logger: Logger
    public let shutdown: ShutdownSignal
    private let onReady: @Sendable () -> Void

    public init(
        id: String, output: Output, telemetry: ComponentTelemetry, logger: Logger, shutdown: ShutdownSignal,
        onReady: @escaping @Sendable () -> Void
    ) {
        self.id = id
        self.output = output
        self.telemetry = telemetry
        self.logger = logger
        self.shutdown = shutdown
        self.onReady = onReady
    }

    /// Tells the topology the source is accepting input (its port is bound, its files are open).
    public func markReady() { onReady() }
}

/// What a transform is given with every batch.
public struct TransformContext: Sendable {
    public let id: String
    public let telemetry: ComponentTelemetry
    public let logger: Logger

    public init(id: String, telemetry: ComponentTelemetry, logger: Logger) {
        self.id = id
        self.telemetry = telemetry
        self.logger = logger
    }
}

/// What a sink is given to run.
public struct SinkContext: Sendable {
    public let id: String
    public let telemetry: ComponentTelemetry
    public let logger: Logger

    public init(id: String, telemetry: ComponentTelemetry, logger: Logger) {
        self.id = id
        self.telemetry = telemetry
        self.logger = logger
    }
}

/// The batches arriving at a sink, counted as received as they are taken.
///
/// A sink acknowledges each envelope once its batch is delivered or dropped for a reason that retrying cannot fix
/// (splitting the acknowledgement if parts of the batch travel separately): a disk buffer deletes a record only then.
/// Behind a memory buffer the acknowledgement is `.none` and acknowledging it does nothing, except for batches of a
/// source that waits for delivery (a file's checkpoint).
public struct SinkInput: Sendable, AsyncSequence {
    public typealias Element = Envelope
    private let queue: BatchQueue
    private let telemetry: ComponentTelemetry

    public init(queue: BatchQueue, telemetry: ComponentTelemetry) {
        self.queue = queue
        self.telemetry = telemetry
    }

    /// The next batch, or `nil` once every input has finished and the queue is drained.
    public func next() async -> Envelope? {
        guard let envelope = await queue.next() else { return nil }
        telemetry.receivedEvents.increment(by: envelope.batch.eventCount)
        telemetry.receivedBytes.increment(by: envelope.bytes)
        return envelope
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let input: SinkInput

        public mutating func next() async -> Envelope? { await input.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(input: self) }
}
