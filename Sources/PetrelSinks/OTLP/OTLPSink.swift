import PetrelCore
import PetrelNet

/// Ships spans and log records to an OTLP receiver (Grafana Tempo, an OpenTelemetry Collector) over
/// gRPC or HTTP.
///
/// A batcher turns queued batches into requests bounded by events, bytes and age; `concurrency`
/// sender tasks convert, encode and deliver them. A request that fails with a retryable error is
/// retried with exponential backoff and jitter, honouring the delay the receiver asks for, for as long
/// as it takes (the wait pushes back on the sources); one refused for good is dropped and counted. The
/// sink finishes once every event it took has been delivered or dropped.
public struct OTLPSink: Sink {
    public let config: OTLPSinkConfig

    public init(config: OTLPSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "otlp", kind: .sink) { reader, _ in
        .sink(OTLPSink(config: OTLPSinkConfig(from: reader)), accepts: [.traces, .logs])
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let tls =
            config.endpoint.usesTLS
            ? try ReloadingTLSContext.client(
                config.tls, applicationProtocols: config.transport == .grpc ? ["h2"] : ["http/1.1"],
                logger: context.logger)
            : nil
        switch config.transport {
        case .grpc: try await run(input, context, exporter: OTLPGRPCExporter(config: config, tls: tls))
        case .http: try await run(input, context, exporter: OTLPHTTPExporter(config: config, tls: tls))
        }
    }

    private func run(_ input: SinkInput, _ context: SinkContext, exporter: some OTLPExporter) async throws {
        let retries = context.telemetry.registry.counter(
            "petrel_otlp_retries_total", help: "Export requests retried after a retryable failure.",
            labels: [("component_id", context.id), ("endpoint", config.endpoint.description)])
        let requests = BoundedQueue<PendingExport>(capacity: config.concurrency, producers: 1)
        try await withThrowingTaskGroup(of: Void.self) { connections in
            connections.addTask { try await exporter.run() }
            do {
                try await withThrowingTaskGroup(of: Void.self) { senders in
                    for _ in 0..<config.concurrency {
                        senders.addTask {
                            while let batch = await requests.next() {
                                try await deliver(batch, exporter: exporter, context: context, retries: retries)
                            }
                        }
                    }
                    try await batch(input, into: requests)
                    try await senders.waitForAll()
                }
            } catch {
                exporter.shutdown()
                throw error
            }
            exporter.shutdown()
            try await connections.waitForAll()
        }
    }

    /// Feeds the senders until the input ends, then hands over what is pending.
    private func batch(_ input: SinkInput, into requests: BoundedQueue<PendingExport>) async throws {
        defer { requests.producerFinished() }
        var batcher = OTLPBatcher(maxEvents: config.maxEvents, maxBytes: config.maxBytes, maxAge: config.maxAge)
        while true {
            switch await input.next(until: batcher.deadline) {
            case .ended:
                for request in batcher.flush() { try await requests.send(request) }
                return
            case .timedOut:
                for request in batcher.flushExpired() { try await requests.send(request) }
            case .element(let envelope):
                for request in batcher.add(envelope.batch, acknowledgement: envelope.acknowledgement) {
                    try await requests.send(request)
                }
            }
        }
    }

    /// Sends a request until it is delivered or refused for good, then acknowledges its batches; throws only when
    /// cancelled, leaving them unacknowledged.
    private func deliver<Exporter: OTLPExporter>(
        _ pending: PendingExport, exporter: Exporter, context: SinkContext, retries: Counter
    ) async throws {
        let batch = pending.batch
        let events = batch.eventCount
        let destination = exporter.destination(of: batch.signal)
        let request: Exporter.Request
        do {
            request = try exporter.prepare(batch)
        } catch {
            context.telemetry.error(.processing)
            context.telemetry.discarded(events, reason: "encoding_failed")
            context.logger.warning(
                "cannot encode an export request; dropping it",
                metadata: ["endpoint": "\(destination)", "error": "\(error)", "events": "\(events)"])
            pending.acknowledge()
            return
        }
        var backoff = config.initialBackoff
        while true {
            try Task.checkCancellation()
            switch await exporter.export(request) {
            case .delivered(let wireBytes, let rejected, let message):
                let refused = min(max(rejected, 0), events)
                context.telemetry.sentEvents.increment(by: events - refused)
                context.telemetry.sentBytes.increment(by: wireBytes)
                if refused > 0 {
                    context.telemetry.discarded(refused, reason: "rejected_by_receiver")
                    context.logger.warning(
                        "receiver rejected part of a request",
                        metadata: [
                            "endpoint": "\(destination)", "rejected": "\(refused)", "events": "\(events)",
                            "response": "\(Self.firstLine(message))",
                        ])
                } else if !message.isEmpty {
                    context.logger.info(
                        "receiver accepted a request with a warning",
                        metadata: ["endpoint": "\(destination)", "response": "\(Self.firstLine(message))"])
                }
                pending.acknowledge()
                return
            case .rejected(let reason, let message):
                context.telemetry.error(.sending)
                context.telemetry.discarded(events, reason: reason)
                context.logger.warning(
                    "receiver refused a request; dropping it",
                    metadata: [
                        "endpoint": "\(destination)", "reason": "\(reason)", "response": "\(Self.firstLine(message))",
                        "events": "\(events)",
                    ])
                pending.acknowledge()
                return
            case .retryable(let reason, let retryAfter):
                context.telemetry.error(.sending)
                retries.increment()
                context.logger.debug(
                    "export failed; will retry", metadata: ["endpoint": "\(destination)", "reason": "\(reason)"])
                let jittered = backoff * Double.random(in: 0.5...1.0)
                try await Task.sleep(for: max(jittered, retryAfter ?? .zero))
                backoff = min(backoff * 2, config.maxBackoff)
            }
        }
    }

    private static func firstLine(_ text: String) -> Substring {
        text.prefix { $0 != "\n" && $0 != "\r" }.prefix(512)
    }
}
