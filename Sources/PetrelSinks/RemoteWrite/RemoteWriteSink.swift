import PetrelCore
import PetrelNet

/// Ships metric batches to remote-write receivers (VictoriaMetrics, Prometheus, vmagent...).
///
/// One `EndpointWriter` per endpoint batches, encodes and compresses, and sends on the `RequestDriver`; the
/// `SeriesRouter` decides which endpoints get which series (all of them, or one by consistent
/// hash). A sink finishes once every series it accepted has been delivered or dropped for a reason.
public struct RemoteWriteSink: Sink {
    public let config: RemoteWriteSinkConfig

    public init(config: RemoteWriteSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "prometheus_remote_write", kind: .sink) {
        reader, _ in
        .sink(RemoteWriteSink(config: RemoteWriteSinkConfig(from: reader)), accepts: .metrics)
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let tls =
            config.endpoints.contains(where: \.usesTLS)
            ? try ReloadingClientTLS(config.request.tls, logger: context.logger)
            : nil
        let writers = config.endpoints.map { endpoint in
            EndpointWriter(endpoint: endpoint, config: config, tls: tls, context: context)
        }
        let router = SeriesRouter(writers: writers, mode: config.mode)
        do {
            try await run(input, writers: writers, router: router)
        } catch {
            for writer in writers { await writer.close() }
            throw error
        }
        for writer in writers { await writer.close() }
    }

    private func run(_ input: SinkInput, writers: [EndpointWriter], router: SeriesRouter) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in writers {
                group.addTask { try await writer.run(router: router) }
            }
            for await envelope in input {
                guard case .metrics(let metrics) = envelope.batch else {
                    envelope.acknowledgement.acknowledge()
                    continue
                }
                try await router.route(metrics, envelope.acknowledgement)
            }
            await router.finish()
            try await group.waitForAll()
        }
    }
}
