import PetrelCore
import PetrelNet

/// Ships spans and log records to an OTLP receiver (Grafana Tempo, an OpenTelemetry Collector) over
/// gRPC or HTTP.
///
/// The sink is its encoding and answer classification (an `OTLPExporter`) on the `RequestDriver`, which
/// batches by events, bytes and age, sends with `concurrency` senders and retries for as long as it takes (the
/// wait pushes back on the sources); a request refused for good is dropped and counted. The sink finishes once
/// every event it took has been delivered or dropped.
public struct OTLPSink: Sink {
    public let config: OTLPSinkConfig

    public init(config: OTLPSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "otlp", kind: .sink) { reader, _ in
        .sink(OTLPSink(config: OTLPSinkConfig(from: reader)), accepts: [.traces, .logs])
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        switch config.transport {
        case .grpc:
            let tls =
                config.endpoint.usesTLS
                ? try ReloadingTLSContext(config.request.tls, applicationProtocols: ["h2"], logger: context.logger)
                : nil
            try await run(input, context, exporter: OTLPGRPCExporter(config: config, tls: tls))
        case .http:
            let tls =
                config.endpoint.usesTLS ? try ReloadingClientTLS(config.request.tls, logger: context.logger) : nil
            try await run(input, context, exporter: OTLPHTTPExporter(config: config, tls: tls))
        }
    }

    private func run<Exporter: OTLPExporter>(
        _ input: SinkInput, _ context: SinkContext, exporter: Exporter
    ) async throws {
        let retries = context.telemetry.registry.counter(
            "petrel_otlp_retries_total", help: "Export requests retried after a retryable failure.",
            labels: [("component_id", context.id), ("endpoint", config.endpoint.description)])
        let driver = RequestDriver<PreparedExport<Exporter.Request>>(
            settings: config.request, context: context, destination: config.endpoint.description, retries: retries,
            attempt: { await exporter.export($0.message) })
        let settings = config.request
        try await withThrowingTaskGroup(of: Void.self) { connections in
            connections.addTask { try await exporter.run() }
            do {
                try await driver.run(
                    batcher: OTLPBatcher(
                        maxEvents: settings.maxEvents, maxBytes: settings.maxBytes, maxAge: settings.maxAge),
                    pull: { await input.next(until: $0) },
                    prepare: { PreparedExport(message: try exporter.prepare($0.batch), pending: $0) })
            } catch {
                await exporter.shutdown()
                throw error
            }
            await exporter.shutdown()
            try await connections.waitForAll()
        }
    }
}
