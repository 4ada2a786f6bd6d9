import Logging
import PetrelConfig
import PetrelCore
import ServiceLifecycle

/// Runs the graph of a pipeline: one task per component, joined by bounded queues, each sink behind its buffer.
///
/// Shutdown follows the data: on graceful shutdown the sources stop accepting and return; a
/// queue ends once all of its producers have finished and it is drained, so each transform
/// finishes after its inputs and each sink flushes last. Sinks still busy after `shutdown_timeout`
/// are cancelled: what their memory buffers held is counted as dropped, disk buffers keep theirs.
/// `stopNow()` (a second signal) cuts the wait short the same way.
public final class Topology: Service {
    /// Batches each edge queue holds before it pushes back on its producers.
    public static let defaultQueueCapacity = 16

    public let config: PipelineConfig
    public let telemetry: TelemetryRegistry
    public let readiness: Readiness
    private let logger: Logger
    private let queueCapacity: Int
    private let recordCodec: any BatchRecordCodec
    let shutdown = ShutdownSignal()
    /// Fired by `stopNow()`: the shutdown deadline is now.
    private let cutShort = ShutdownSignal()
    /// Fired when the deadline passes: sources stop waiting for their batches to be buffered and answer "retry later".
    private let gaveUp = ShutdownSignal()

    public init(
        config: PipelineConfig, telemetry: TelemetryRegistry, recordCodec: any BatchRecordCodec, logger: Logger,
        queueCapacity: Int = Topology.defaultQueueCapacity
    ) {
        self.config = config
        self.recordCodec = recordCodec
        self.telemetry = telemetry
        self.logger = logger
        self.queueCapacity = queueCapacity
        self.readiness = Readiness(componentIDs: config.components.map(\.id))
    }

    /// Asks the sources to stop; the graph then drains and `run` returns.
    public func stop() {
        shutdown.trigger()
    }

    /// Stops without waiting for the sinks: what they have not delivered is dropped from memory buffers (counted,
    /// `reason="shutdown_forced"`) and stays in disk buffers; `run` returns as soon as every task has stopped.
    public func stopNow() {
        shutdown.trigger()
        cutShort.trigger()
    }

    public func run() async throws {
        let components = config.components
        let memory = config.memoryLimit.map(MemoryLimit.init(limit:))
        var telemetries: [String: ComponentTelemetry] = [:]
        var queues: [String: BatchQueue] = [:]
        var diskBuffers: [String: DiskBufferStage] = [:]
        for component in components {
            let componentTelemetry = ComponentTelemetry(
                id: component.id, type: component.type, kind: component.kind, registry: telemetry)
            telemetries[component.id] = componentTelemetry
            switch (component.kind, component.buffer) {
            case (.source, _):
                break
            case (.sink, .memory(let maxEvents)):
                queues[component.id] = BatchQueue(
                    capacity: Int.max, maxEvents: maxEvents, producers: component.inputs.count,
                    telemetry: componentTelemetry, memory: memory)
            case (.sink, .disk(let settings)):
                let stage = try await DiskBufferStage(
                    sinkID: component.id, settings: settings, codec: recordCodec, dataDirectory: config.dataDirectory,
                    producers: component.inputs.count, queueCapacity: queueCapacity, telemetry: componentTelemetry,
                    memory: memory, shutdown: shutdown, logger: logger(for: component))
                diskBuffers[component.id] = stage
                queues[component.id] = stage.input
            case (.transform, _):
                queues[component.id] = BatchQueue(
                    capacity: queueCapacity, producers: component.inputs.count, telemetry: componentTelemetry,
                    memory: memory)
            }
        }
        telemetry.publish(config.layout(queueCapacity: queueCapacity))
        var outputs: [String: Output] = [:]
        for component in components where component.kind != .sink {
            let edges = config.readers(of: component.id).map { reader in
                Output.Edge(
                    queue: queues[reader.id]!, accepts: reader.accepts,
                    buffers: reader.kind == .sink && diskBuffers[reader.id] == nil)
            }
            outputs[component.id] = Output(
                edges: edges, telemetry: telemetries[component.id]!, memory: memory, abandon: gaveUp)
            guard case .transform(let transform, _) = component.component else { continue }
            for name in transform.namedOutputs {
                let id = "\(component.id).\(name)"
                let namedEdges = config.readers(of: id).map { reader in
                    Output.Edge(
                        queue: queues[reader.id]!, accepts: reader.accepts,
                        buffers: reader.kind == .sink && diskBuffers[reader.id] == nil)
                }
                outputs[id] = Output(
                    edges: namedEdges, telemetry: telemetries[component.id]!, memory: memory, abandon: gaveUp,
                    port: name)
            }
        }

        let tasks = ComponentTasks(topology: self, telemetries: telemetries, diskBuffers: diskBuffers)
        do {
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { [outputs, queues] in try await tasks.run(outputs: outputs, queues: queues) }
                    group.addTask { [shutdown, cutShort, gaveUp, timeout = config.shutdownTimeout] in
                        await shutdown.wait()
                        let forced = await cutShort.sleep(for: timeout)
                        try Task.checkCancellation()
                        // Requests to sources still waiting for their batch would hold the sources (and so the
                        // exit) for up to `AcknowledgementWait.defaultTimeout`; they are answered now instead.
                        gaveUp.trigger()
                        throw ShutdownDeadlineExceeded(forced: forced)
                    }
                    // Whichever ends first ends the other: the graph drained, or the deadline passed.
                    try await group.next()
                    group.cancelAll()
                }
            } onGracefulShutdown: { [shutdown] in
                shutdown.trigger()
            }
        } catch let deadline as ShutdownDeadlineExceeded {
            reportUndelivered(
                deadline, telemetries: telemetries, queues: queues, diskBuffers: diskBuffers)
        }
        for stage in diskBuffers.values { await stage.close() }
        logger.info("pipeline stopped")
    }

    /// Names what the sinks still held when the shutdown deadline (or a second signal) cut them off.
    private func reportUndelivered(
        _ deadline: ShutdownDeadlineExceeded, telemetries: [String: ComponentTelemetry], queues: [String: BatchQueue],
        diskBuffers: [String: DiskBufferStage]
    ) {
        let cause = deadline.forced ? "a second signal stopped the pipeline" : "shutdown_timeout passed"
        for component in config.components where component.kind == .sink {
            let sinkTelemetry = telemetries[component.id]!
            var metadata: Logger.Metadata = ["component_id": "\(component.id)"]
            if diskBuffers[component.id] != nil {
                logger.warning(
                    "\(cause); what the sink had not delivered stays in its disk buffer for the next run",
                    metadata: metadata)
                continue
            }
            let undelivered =
                Int(sinkTelemetry.queueEvents.value) + Int(sinkTelemetry.receivedEvents.value)
                - Int(sinkTelemetry.sentEvents.value) - sinkTelemetry.discardedEvents
            guard undelivered > 0 else { continue }
            sinkTelemetry.discarded(undelivered, reason: deadline.forced ? "shutdown_forced" : "shutdown_timeout")
            metadata["events"] = "\(undelivered)"
            logger.error(
                "\(cause) before the sink delivered everything; its memory buffer is dropped", metadata: metadata)
        }
    }

    /// Runs one component, naming it in the error that stops the pipeline.
    static func run(_ component: ComponentConfig, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ComponentFailure(id: component.id, kind: component.kind, underlying: error)
        }
    }

    /// Tells every reader of a finished component that one of its producers is done.
    static func finish(_ output: Output) {
        for edge in output.edges { edge.queue.producerFinished() }
    }

    func logger(for component: ComponentConfig) -> Logger {
        var logger = self.logger
        logger[metadataKey: "component_id"] = "\(component.id)"
        logger[metadataKey: "component_kind"] = "\(component.kind.rawValue)"
        logger[metadataKey: "component_type"] = "\(component.type)"
        return logger
    }
}

/// A component stopped with an error, which stops the pipeline.
public struct ComponentFailure: Error, CustomStringConvertible {
    public let id: String
    public let kind: ComponentKind
    public let underlying: any Error

    public var description: String { "\(kind.rawValue) \"\(id)\" failed: \(underlying)" }
}

/// The shutdown deadline (`shutdown_timeout`) passed before the graph drained, or `stopNow()` brought it forward.
struct ShutdownDeadlineExceeded: Error {
    var forced: Bool
}

/// One task per component of the graph, plus each disk buffer's writer and reader.
private struct ComponentTasks: Sendable {
    let topology: Topology
    let telemetries: [String: ComponentTelemetry]
    let diskBuffers: [String: DiskBufferStage]

    func run(outputs: [String: Output], queues: [String: BatchQueue]) async throws {
        let readiness = topology.readiness
        let shutdown = topology.shutdown
        try await withThrowingTaskGroup(of: Void.self) { group in
            for component in topology.config.components {
                let componentTelemetry = telemetries[component.id]!
                let logger = topology.logger(for: component)
                switch component.component {
                case .source(let source, _):
                    let output = outputs[component.id]!
                    let context = SourceContext(
                        id: component.id, output: output, telemetry: componentTelemetry, logger: logger,
                        shutdown: shutdown, onReady: { readiness.markReady(component.id) })
                    group.addTask {
                        defer { Topology.finish(output) }
                        try await Topology.run(component) { try await source.run(context) }
                    }
                case .transform(let transform, _):
                    let output = outputs[component.id]!
                    var named: [String: Output] = [:]
                    for name in transform.namedOutputs { named[name] = outputs["\(component.id).\(name)"] }
                    let input = queues[component.id]!
                    let context = TransformContext(id: component.id, telemetry: componentTelemetry, logger: logger)
                    readiness.markReady(component.id)
                    group.addTask { [named] in
                        defer {
                            Topology.finish(output)
                            for namedOutput in named.values { Topology.finish(namedOutput) }
                        }
                        try await Topology.run(component) {
                            try await Self.runTransform(
                                transform, input: input, output: output, named: named, context: context)
                        }
                    }
                case .sink(let sink, _):
                    var sinkQueue = queues[component.id]!
                    if let stage = diskBuffers[component.id] {
                        sinkQueue = stage.output
                        group.addTask { try await Topology.run(component) { try await stage.runWriter() } }
                        group.addTask { try await Topology.run(component) { try await stage.runReader() } }
                    }
                    let input = SinkInput(queue: sinkQueue, telemetry: componentTelemetry)
                    let context = SinkContext(id: component.id, telemetry: componentTelemetry, logger: logger)
                    readiness.markReady(component.id)
                    group.addTask {
                        try await Topology.run(component) { try await sink.run(input, context) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Runs a transform over its queue; its output goes on with the acknowledgement its input came with, and an input
    /// it drops whole is acknowledged (a filtered batch is done with). What it sends to named outputs goes on holding
    /// a share of the same acknowledgement.
    private static func runTransform(
        _ transform: any Transform, input: BatchQueue, output: Output, named: [String: Output],
        context: TransformContext
    ) async throws {
        var transform = transform
        while true {
            guard let envelope = await input.next() else { return }
            context.telemetry.receivedEvents.increment(by: envelope.batch.eventCount)
            context.telemetry.receivedBytes.increment(by: envelope.bytes)
            let acknowledgement = envelope.acknowledgement
            // The envelope lets go of the batch, so a transform that changes it need not copy it first.
            let batch = (consume envelope).batch
            let result = transform.process(consume batch, context)
            for (name, namedBatch) in named.isEmpty ? [] : transform.takeNamedOutputBatches() {
                guard let namedOutput = named[name] else { continue }
                try await namedOutput.send(Envelope(namedBatch, acknowledgement: acknowledgement.split()))
            }
            if let result {
                try await output.send(Envelope(result, acknowledgement: acknowledgement))
            } else {
                acknowledgement.acknowledge()
            }
        }
    }
}
