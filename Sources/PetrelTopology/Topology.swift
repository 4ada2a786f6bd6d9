import Logging
import PetrelConfig
import PetrelCore
import ServiceLifecycle

/// Runs the graph of a pipeline: one task per component, joined by bounded queues.
///
/// Shutdown follows the data: on graceful shutdown the sources stop accepting and return; a
/// queue ends once all of its producers have finished and it is drained, so each transform
/// finishes after its inputs and each sink flushes last. Nothing queued is dropped.
public final class Topology: Service {
    /// Batches each edge queue holds before it pushes back on its producers.
    public static let defaultQueueCapacity = 64

    public let config: PipelineConfig
    public let telemetry: TelemetryRegistry
    public let readiness: Readiness
    private let logger: Logger
    private let queueCapacity: Int
    private let shutdown = ShutdownSignal()

    public init(
        config: PipelineConfig, telemetry: TelemetryRegistry, logger: Logger,
        queueCapacity: Int = Topology.defaultQueueCapacity
    ) {
        self.config = config
        self.telemetry = telemetry
        self.logger = logger
        self.queueCapacity = queueCapacity
        self.readiness = Readiness(componentIDs: config.components.map(\.id))
    }

    /// Asks the sources to stop; the graph then drains and `run` returns.
    public func stop() {
        shutdown.trigger()
    }

    public func run() async throws {
        let components = config.components
        var telemetries: [String: ComponentTelemetry] = [:]
        var queues: [String: BatchQueue] = [:]
        for component in components {
            let componentTelemetry = ComponentTelemetry(
                id: component.id, type: component.type, kind: component.kind, registry: telemetry)
            telemetries[component.id] = componentTelemetry
            if component.kind != .source {
                queues[component.id] = BatchQueue(
                    capacity: queueCapacity, producers: component.inputs.count, telemetry: componentTelemetry)
            }
        }
        func output(of id: String) -> Output {
            let edges = config.readers(of: id).map { reader in
                Output.Edge(queue: queues[reader.id]!, accepts: reader.accepts)
            }
            return Output(edges: edges, telemetry: telemetries[id]!)
        }

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for component in components {
                    let componentTelemetry = telemetries[component.id]!
                    let logger = self.logger(for: component)
                    switch component.component {
                    case .source(let source, _):
                        let output = output(of: component.id)
                        let context = SourceContext(
                            id: component.id, output: output, telemetry: componentTelemetry, logger: logger,
                            shutdown: shutdown, onReady: { [readiness] in readiness.markReady(component.id) })
                        group.addTask {
                            defer { Self.finish(output) }
                            try await Self.run(component) { try await source.run(context) }
                        }
                    case .transform(let transform, _):
                        let output = output(of: component.id)
                        let input = queues[component.id]!
                        let context = TransformContext(id: component.id, telemetry: componentTelemetry, logger: logger)
                        readiness.markReady(component.id)
                        group.addTask {
                            defer { Self.finish(output) }
                            try await Self.run(component) {
                                try await Self.runTransform(transform, input: input, output: output, context: context)
                            }
                        }
                    case .sink(let sink, _):
                        let input = SinkInput(queue: queues[component.id]!, telemetry: componentTelemetry)
                        let context = SinkContext(id: component.id, telemetry: componentTelemetry, logger: logger)
                        readiness.markReady(component.id)
                        group.addTask {
                            try await Self.run(component) { try await sink.run(input, context) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: { [shutdown] in
            shutdown.trigger()
        }
        logger.info("pipeline stopped")
    }

    private static func runTransform(
        _ transform: any Transform, input: BatchQueue, output: Output, context: TransformContext
    ) async throws {
        var transform = transform
        while let batch = await input.next() {
            context.telemetry.receivedEvents.increment(by: batch.eventCount)
            context.telemetry.receivedBytes.increment(by: batch.estimatedBytes)
            if let result = transform.process(batch, context) {
                try await output.send(result)
            }
        }
    }

    /// Runs one component, naming it in the error that stops the pipeline.
    private static func run(_ component: ComponentConfig, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ComponentFailure(id: component.id, kind: component.kind, underlying: error)
        }
    }

    /// Tells every reader of a finished component that one of its producers is done.
    private static func finish(_ output: Output) {
        for edge in output.edges { edge.queue.producerFinished() }
    }

    private func logger(for component: ComponentConfig) -> Logger {
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
