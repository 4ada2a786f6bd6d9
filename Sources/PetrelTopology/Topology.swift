import Logging
import PetrelConfig
import PetrelCore
import ServiceLifecycle
import Synchronization

/// Runs the graph of a pipeline: one task per component, joined by bounded queues, each sink behind its buffer.
///
/// Shutdown follows the data: on graceful shutdown the sources stop accepting and return; a
/// queue ends once all of its producers have finished and it is drained, so each transform
/// finishes after its inputs and each sink flushes last. Sinks still busy after `shutdown_timeout`
/// are cancelled: what their memory buffers held is counted as dropped, disk buffers keep theirs.
/// `stopNow()` (a second signal) cuts the wait short the same way.
///
/// `reload(to:file:)` applies a new configuration while it runs, rebuilding only the components whose configuration
/// changed: a replaced component stops the way shutdown stops it (its inputs are rewired to its successor, it drains
/// what it holds and ends), and its successor starts beside it. One controller task does every change to the graph, in
/// turn, so reloads never race with each other or with shutdown.
public final class Topology: Service {
    /// Batches each edge queue holds before it pushes back on its producers.
    public static let defaultQueueCapacity = 16

    /// The configuration running: the one it started with, or the last one a reload applied.
    public var config: PipelineConfig { current.withLock { $0 } }
    public let telemetry: TelemetryRegistry
    public let readiness: Readiness
    private let logger: Logger
    private let queueCapacity: Int
    private let recordCodec: any BatchRecordCodec
    /// `memory_limit`, which a reload cannot change.
    private let memory: MemoryLimit?
    private let current: Mutex<PipelineConfig>
    /// The components running now, by id; the controller replaces them.
    private let running = Mutex<[String: RunningComponent]>([:])
    /// Reload requests, the end of each component and shutdown, for the controller, in the order they happen.
    private let control = AsyncStream<ControlEvent>.makeStream()
    let shutdown = ShutdownSignal()
    /// Fired by `stopNow()`: the shutdown deadline is now.
    private let cutShort = ShutdownSignal()
    /// Fired when the deadline passes: sources stop waiting for their batches to be buffered and answer "retry later".
    private let gaveUp = ShutdownSignal()

    public init(
        config: PipelineConfig, telemetry: TelemetryRegistry, recordCodec: any BatchRecordCodec, logger: Logger,
        queueCapacity: Int = Topology.defaultQueueCapacity
    ) {
        self.current = Mutex(config)
        self.recordCodec = recordCodec
        self.telemetry = telemetry
        self.logger = logger
        self.queueCapacity = queueCapacity
        self.memory = config.memoryLimit.map(MemoryLimit.init(limit:))
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

    /// Applies `config` to the running pipeline, rebuilding only the components whose configuration changed, and
    /// returns what changed; or refuses it (it changes a setting that needs a restart, or the pipeline is stopping),
    /// and the pipeline runs on as it was. `file` names the configuration in errors.
    ///
    /// It returns once the new graph is wired: replaced components may still be handing on what they hold.
    public func reload(to config: PipelineConfig, file: String) async -> ReloadOutcome {
        await withCheckedContinuation { reply in
            if case .terminated = control.continuation.yield(.reload(config, file: file, reply)) {
                reply.resume(returning: .refused(Self.notRunning(file)))
            }
        }
    }

    private static func notRunning(_ file: String) -> ConfigLoadError {
        ConfigLoadError(errors: [
            ConfigError(
                file: file, line: 0, path: "", message: "the pipeline is stopping; the configuration is not reloaded")
        ])
    }

    public func run() async throws {
        do {
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.runGraph() }
                    group.addTask { [shutdown, cutShort, gaveUp] in
                        await shutdown.wait()
                        let forced = await cutShort.sleep(for: self.config.shutdownTimeout)
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
            reportUndelivered(deadline)
        }
        logger.info("pipeline stopped")
    }

    /// The controller: starts the configured graph, then applies reloads and shutdown as they come, until every
    /// component has ended (or one failed, which stops the pipeline).
    private func runGraph() async throws {
        var events = control.stream.makeAsyncIterator()
        var controller = GraphController(topology: self)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [shutdown, control] in
                    await shutdown.wait()
                    control.continuation.yield(.shutdown)
                }
                let initial = config
                controller.apply(initial, ConfigChange(started: Set(initial.components.map(\.id))), group: &group)
                while controller.live > 0, let event = await events.next() {
                    switch event {
                    case .reload(let config, let file, let reply):
                        reply.resume(returning: controller.reload(to: config, file: file, group: &group))
                    case .ended(let failure):
                        controller.live -= 1
                        if let failure { throw failure }
                    case .shutdown:
                        controller.stopAll()
                    }
                }
                group.cancelAll()
            }
        } catch {
            await refuseWaitingReloads(&events)
            throw error
        }
        await refuseWaitingReloads(&events)
    }

    /// Answers the reloads asked for while the graph was ending: it takes no more.
    private func refuseWaitingReloads(_ events: inout AsyncStream<ControlEvent>.Iterator) async {
        control.continuation.finish()
        while let event = await events.next() {
            if case .reload(_, let file, let reply) = event { reply.resume(returning: .refused(Self.notRunning(file))) }
        }
    }

    /// What the controller task owns: which components run, and how many of their tasks have not ended.
    private struct GraphController {
        let topology: Topology
        var live = 0
        var stopping = false
        /// Each component's telemetry, kept across reloads so that its counters go on.
        var telemetries: [String: ComponentTelemetry] = [:]

        init(topology: Topology) {
            self.topology = topology
        }

        mutating func reload(
            to config: PipelineConfig, file: String, group: inout ThrowingTaskGroup<Void, any Error>
        ) -> ReloadOutcome {
            guard !stopping else { return .refused(Topology.notRunning(file)) }
            switch ConfigChange.between(topology.config, config, file: file) {
            case .failure(let errors):
                return .refused(errors)
            case .success(let change):
                apply(config, change, group: &group)
                return .applied(change)
            }
        }

        /// Stops every source (and every disk buffer handing out records): the graph drains and ends.
        mutating func stopAll() {
            stopping = true
            for component in topology.running.withLock({ Array($0.values) }) { component.stop.trigger() }
        }

        /// Starts what `change` starts, wires every output to its readers of `config`, and stops what it stops.
        ///
        /// Order matters: a new queue counts its producers before its reader starts, so that it does not end at once;
        /// every queue counts its new producers before any queue left behind may hear that an old one finished, as
        /// the last old producer of a kept queue finishing first would end that queue (a kept sink behind a replaced
        /// transform); and a queue left behind hears it only after the sends already under way reached it.
        mutating func apply(
            _ config: PipelineConfig, _ change: ConfigChange, group: inout ThrowingTaskGroup<Void, any Error>
        ) {
            let previous = topology.running.withLock { $0 }
            var components = previous.filter { change.kept.contains($0.key) }
            var started: [RunningComponent] = []
            for component in config.components where change.started.contains(component.id) {
                let running = make(component)
                components[component.id] = running
                started.append(running)
            }
            topology.current.withLock { $0 = config }
            topology.running.withLock { $0 = components }
            topology.telemetry.publish(config.layout(queueCapacity: topology.queueCapacity))
            topology.readiness.forget(change.stopped.subtracting(change.started))
            topology.readiness.expect(change.started)

            var rewirings: [Output.Rewiring] = []
            for component in components.values {
                for (outputID, output) in component.outputs {
                    let edges = config.readers(of: outputID).map { reader in
                        Output.Edge(
                            queue: components[reader.id]!.input!, accepts: reader.accepts,
                            buffers: reader.kind == .sink && !reader.buffer.isDisk)
                    }
                    guard !Self.same(edges, output.edges) else { continue }
                    rewirings.append(output.rewire(to: edges))
                }
            }
            for rewiring in rewirings { group.addTask { await rewiring.complete() } }
            for id in change.stopped {
                previous[id]!.replaced.trigger()
                previous[id]!.stop.trigger()
                topology.logger(for: previous[id]!.config).info(
                    change.started.contains(id) ? "replaced by a reload" : "removed by a reload")
            }
            for component in started {
                let predecessor = previous[component.config.id]
                live += 1
                group.addTask { [topology] in
                    var failure: (any Error)?
                    do {
                        try await topology.run(component, after: predecessor)
                    } catch is CancellationError {
                    } catch {
                        failure = error
                    }
                    component.ended.trigger()
                    topology.control.continuation.yield(.ended(failure))
                }
            }
        }

        /// A component of `config` with its queue and outputs, not yet wired or running.
        private mutating func make(_ component: ComponentConfig) -> RunningComponent {
            var componentTelemetry = telemetries[component.id]
            if componentTelemetry?.type != component.type || componentTelemetry?.kind != component.kind {
                componentTelemetry = ComponentTelemetry(
                    id: component.id, type: component.type, kind: component.kind, registry: topology.telemetry)
                telemetries[component.id] = componentTelemetry
            }
            let telemetry = componentTelemetry!
            let memory = topology.memory
            var input: BatchQueue?
            // Each output with its port: nil for the main one, the name for a named one (`petrel tap` shows it).
            var outputIDs: [(id: String, port: String?)] = []
            switch (component.component, component.buffer) {
            case (.source, _):
                outputIDs = [(component.id, nil)]
            case (.sink, .memory(let maxEvents)):
                input = BatchQueue(
                    capacity: Int.max, maxEvents: maxEvents, producers: 0, telemetry: telemetry, memory: memory)
            case (.sink, .disk):
                input = BatchQueue(
                    capacity: topology.queueCapacity, producers: 0, telemetry: telemetry, memory: memory)
            case (.transform(let transform, _), _):
                input = BatchQueue(capacity: topology.queueCapacity, producers: 0, telemetry: telemetry, memory: memory)
                outputIDs = [(component.id, nil)] + transform.namedOutputs.map { ("\(component.id).\($0)", $0) }
            }
            var outputs: [String: Output] = [:]
            for (id, port) in outputIDs {
                outputs[id] = Output(
                    edges: [], telemetry: telemetry, memory: memory, abandon: topology.gaveUp, port: port)
            }
            return RunningComponent(config: component, telemetry: telemetry, input: input, outputs: outputs)
        }

        private static func same(_ edges: [Output.Edge], _ other: [Output.Edge]) -> Bool {
            edges.count == other.count
                && zip(edges, other).allSatisfy { $0.queue === $1.queue && $0.accepts == $1.accepts }
        }
    }

    /// Runs one component until it ends; a source or disk-buffered sink that replaces `predecessor` starts once that
    /// one has ended, as they would otherwise share a port or a buffer directory.
    private func run(_ running: RunningComponent, after predecessor: RunningComponent?) async throws {
        let component = running.config
        let logger = logger(for: component)
        let readiness = readiness
        switch component.component {
        case .source(let source, _):
            defer { for output in running.outputs.values { output.finish() } }
            if let predecessor { await predecessor.ended.wait() }
            let context = SourceContext(
                id: component.id, output: running.outputs[component.id]!, telemetry: running.telemetry,
                logger: logger, shutdown: running.stop, onReady: { readiness.markReady(component.id) })
            try await Topology.run(component) { try await source.run(context) }
        case .transform(let transform, _):
            defer { for output in running.outputs.values { output.finish() } }
            var named: [String: Output] = [:]
            for name in transform.namedOutputs { named[name] = running.outputs["\(component.id).\(name)"] }
            let context = TransformContext(id: component.id, telemetry: running.telemetry, logger: logger)
            readiness.markReady(component.id)
            try await Topology.run(component) {
                try await Self.runTransform(
                    transform, input: running.input!, output: running.outputs[component.id]!, named: named,
                    context: context)
            }
        case .sink(let sink, _):
            let context = SinkContext(id: component.id, telemetry: running.telemetry, logger: logger)
            guard case .disk(let settings) = component.buffer else {
                readiness.markReady(component.id)
                let input = SinkInput(queue: running.input!, telemetry: running.telemetry)
                try await Topology.run(component) { try await sink.run(input, context) }
                return
            }
            if let predecessor { await predecessor.ended.wait() }
            let stage = try await DiskBufferStage(
                sinkID: component.id, settings: settings, codec: recordCodec, dataDirectory: config.dataDirectory,
                input: running.input!, telemetry: running.telemetry, memory: memory, stop: running.stop,
                logger: logger)
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await Topology.run(component) { try await stage.runWriter() } }
                    let input = SinkInput(queue: stage.output, telemetry: running.telemetry)
                    readiness.markReady(component.id)
                    group.addTask {
                        try await self.deliver(from: stage, to: sink, input: input, context: context, running)
                    }
                    try await group.waitForAll()
                }
            } catch {
                await stage.close()
                throw error
            }
            await stage.close()
        }
    }

    /// Feeds a disk-buffered sink from its buffer until both end. Once a reload replaced the sink it has
    /// `shutdown_timeout` to deliver what it took; then it is cancelled, as its successor waits for the buffer, which
    /// keeps what the sink had not acknowledged for it.
    private func deliver(
        from stage: DiskBufferStage, to sink: any Sink, input: SinkInput, context: SinkContext,
        _ running: RunningComponent
    ) async throws {
        let component = running.config
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await Topology.run(component) { try await stage.runReader() }
                return true
            }
            group.addTask {
                try await Topology.run(component) { try await sink.run(input, context) }
                return true
            }
            group.addTask { [timeout = config.shutdownTimeout] in
                await running.replaced.wait()
                try await Task.sleep(for: timeout)
                return false
            }
            var ended = 0
            while ended < 2, let finished = try await group.next() {
                guard finished else {
                    logger(for: component).warning(
                        "the replaced sink did not deliver within shutdown_timeout; the rest stays in its disk buffer")
                    break
                }
                ended += 1
            }
            group.cancelAll()
        }
    }

    /// Names what the sinks still held when the shutdown deadline (or a second signal) cut them off.
    private func reportUndelivered(_ deadline: ShutdownDeadlineExceeded) {
        let cause = deadline.forced ? "a second signal stopped the pipeline" : "shutdown_timeout passed"
        let sinks = running.withLock { $0.values.filter { $0.config.kind == .sink } }
        for sink in sinks.sorted(by: { $0.config.id < $1.config.id }) {
            let sinkTelemetry = sink.telemetry
            var metadata: Logger.Metadata = ["component_id": "\(sink.config.id)"]
            if sink.config.buffer.isDisk {
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

    func logger(for component: ComponentConfig) -> Logger {
        var logger = self.logger
        logger[metadataKey: "component_id"] = "\(component.id)"
        logger[metadataKey: "component_kind"] = "\(component.kind.rawValue)"
        logger[metadataKey: "component_type"] = "\(component.type)"
        return logger
    }

    /// Runs a transform over its queue; its output goes on with the acknowledgement its input came with, and an input
    /// it drops whole is acknowledged (a filtered batch is done with). What it sends to named outputs goes on holding
    /// a share of the same acknowledgement.
    private static func runTransform(
        _ transform: any Transform, input: BatchQueue, output: Output, named: [String: Output],
        context: TransformContext
    ) async throws {
        if let holding = transform as? any HoldingTransform {
            try await runHoldingTransform(holding, input: input, output: output, context: context)
            return
        }
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

    /// Runs a transform that holds events across batches: it gets each envelope whole (it keeps or passes on the
    /// acknowledgement itself) and a `flush` every `flushInterval` while waiting for input, and a final one once
    /// the input ended, so what it still holds goes on before its readers are told it finished.
    private static func runHoldingTransform<T: HoldingTransform>(
        _ transform: T, input: BatchQueue, output: Output, context: TransformContext
    ) async throws {
        var transform = transform
        let clock = ContinuousClock()
        var nextFlush = clock.now + transform.flushInterval
        // Cancelled (the shutdown deadline passed), it stops where it is: what it holds stays unacknowledged.
        while !Task.isCancelled {
            if clock.now >= nextFlush {
                nextFlush = clock.now + transform.flushInterval
                if let due = transform.flush(final: false, context) { try await output.send(due) }
            }
            let arrival = await Self.next(from: input, until: nextFlush, clock: clock)
            switch arrival {
            case .ended:
                if let rest = transform.flush(final: true, context) { try await output.send(rest) }
                return
            case .timedOut:
                continue
            case .envelope(let envelope):
                context.telemetry.receivedEvents.increment(by: envelope.batch.eventCount)
                context.telemetry.receivedBytes.increment(by: envelope.bytes)
                if let result = transform.process(envelope, context) { try await output.send(result) }
            }
        }
    }

    private enum Arrival: Sendable {
        case envelope(Envelope)
        case timedOut
        case ended
    }

    /// The next envelope, or `.timedOut` at `deadline` if none came by then.
    private static func next(from input: BatchQueue, until deadline: ContinuousClock.Instant, clock: ContinuousClock)
        async -> Arrival
    {
        if let envelope = input.tryNext() { return .envelope(envelope) }
        return await withTaskGroup(of: Arrival?.self) { group in
            group.addTask {
                let envelope = await input.next()
                // A wait cancelled by the deadline also returns nil; the queue ends only for a wait that was not.
                if let envelope { return .envelope(envelope) }
                return Task.isCancelled ? nil : .ended
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: clock)
                return .timedOut
            }
            // The first to finish decides; an envelope taken just as the deadline passed is still delivered.
            var result: Arrival = .timedOut
            var first = true
            for await arrival in group {
                if first { group.cancelAll() }
                first = false
                guard let arrival else { continue }
                if case .timedOut = arrival { continue }
                result = arrival
            }
            return result
        }
    }
}

/// What a reload did: the change it applied, or why it refused the configuration (which then did not change).
public enum ReloadOutcome: Sendable {
    case applied(ConfigChange)
    case refused(ConfigLoadError)
}

/// What the controller hears, in order.
private enum ControlEvent: Sendable {
    case reload(PipelineConfig, file: String, CheckedContinuation<ReloadOutcome, Never>)
    /// A component's task ended, with the error that stops the pipeline if it failed.
    case ended((any Error)?)
    /// Graceful shutdown began.
    case shutdown
}

/// One running instance of a component: what the graph holds of it while it runs. A reload that replaces the
/// component makes a new instance with the same id; the old one drains and ends beside it.
private final class RunningComponent: Sendable {
    let config: ComponentConfig
    let telemetry: ComponentTelemetry
    /// What its inputs send to: a transform's queue, a sink's memory buffer or its disk buffer's writer queue.
    let input: BatchQueue?
    /// A source's or transform's outputs by the id readers list: its own id, and `<id>.<name>` for named outputs.
    let outputs: [String: Output]
    /// Stops a source accepting, and a disk buffer handing out records: at shutdown, or when a reload removes it.
    let stop = ShutdownSignal()
    /// Fired when a reload replaces or removes it.
    let replaced = ShutdownSignal()
    /// Fired once every task of it has returned (and its disk buffer is closed).
    let ended = ShutdownSignal()

    init(config: ComponentConfig, telemetry: ComponentTelemetry, input: BatchQueue?, outputs: [String: Output]) {
        self.config = config
        self.telemetry = telemetry
        self.input = input
        self.outputs = outputs
    }
}

extension BufferConfig {
    fileprivate var isDisk: Bool {
        if case .disk = self { return true }
        return false
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
