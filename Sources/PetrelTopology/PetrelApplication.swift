import Logging
import PetrelConfig
import PetrelCore
import ServiceLifecycle

/// A whole Petrel process: the pipeline and its API server under one service group.
public struct PetrelApplication: Sendable {
    public let topology: Topology
    public let apiServer: APIServer?
    private let logger: Logger

    /// `recordCodec` encodes the records of disk buffers (`BufferRecordCodec()`).
    public init(config: PipelineConfig, recordCodec: any BatchRecordCodec, logger: Logger) {
        let telemetry = TelemetryRegistry()
        let topology = Topology(config: config, telemetry: telemetry, recordCodec: recordCodec, logger: logger)
        self.topology = topology
        self.apiServer = config.apiAddress.map { address in
            APIServer(
                host: address.host, port: address.port, limits: config.apiLimits, security: config.apiSecurity,
                telemetry: telemetry,
                readiness: topology.readiness, logger: logger)
        }
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT (which drain the pipeline), or until every source has finished.
    public func run() async throws {
        var services = [
            ServiceGroupConfiguration.ServiceConfiguration(
                service: topology, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "pipeline")
        ]
        if let apiServer {
            // Listed first so that it shuts down last and `/metrics` stays up while the pipeline drains.
            services.insert(.init(service: apiServer, serviceName: "api"), at: 0)
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
