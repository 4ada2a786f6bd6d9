import Logging
import PetrelConfig
import PetrelCore
import ServiceLifecycle
import UnixSignals

/// A whole Petrel process: the pipeline and its API server under one service group.
public struct PetrelApplication: Sendable {
    public let topology: Topology
    public let apiServer: APIServer?
    /// Reloads the configuration on SIGHUP, `POST /reload` and (with `watchInterval`) when the file changes; `nil`
    /// when the configuration has no file to reload from.
    public let reloader: ConfigReloader?
    private let logger: Logger

    /// `recordCodec` encodes the records of disk buffers (`BufferRecordCodec()`); `reloadFrom` is where reloads read
    /// the configuration.
    public init(
        config: PipelineConfig, recordCodec: any BatchRecordCodec, logger: Logger,
        reloadFrom source: ConfigReloader.Source? = nil
    ) {
        let telemetry = TelemetryRegistry()
        let topology = Topology(config: config, telemetry: telemetry, recordCodec: recordCodec, logger: logger)
        let reloader = source.map { ConfigReloader(source: $0, topology: topology, logger: logger) }
        self.topology = topology
        self.reloader = reloader
        self.apiServer = config.apiAddress.map { address in
            APIServer(
                host: address.host, port: address.port, limits: config.apiLimits, security: config.apiSecurity,
                telemetry: telemetry,
                readiness: topology.readiness, reloader: reloader, logger: logger)
        }
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT (which drain the pipeline), or until every source has finished. SIGHUP reloads the
    /// configuration when there is a `reloader`.
    ///
    /// A second SIGTERM or SIGINT during the drain stops at once (`Topology.stopNow()`); `run` then throws
    /// `StoppedBySecondSignal` once everything has stopped, so that the exit status tells it apart from a drain.
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
        // The group gets no signals of its own: it watches a graceful-shutdown signal once and then ignores the
        // same signal, so a second one would never reach the pipeline.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, logger: logger))
        // SIGHUP keeps its default (ending the process) when there is nothing to reload.
        let signals =
            reloader == nil
            ? await UnixSignalsSequence(trapping: .sigterm, .sigint)
            : await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        let secondSignal = try await withThrowingTaskGroup(of: UnixSignal?.self) { tasks in
            if let reloader {
                tasks.addTask {
                    await reloader.watch()
                    return nil
                }
            }
            tasks.addTask { [topology, logger, reloader] in
                var received = 0
                for await signal in signals {
                    if signal == .sighup, let reloader {
                        guard received == 0 else {
                            logger.info("SIGHUP received while draining; nothing to reload")
                            continue
                        }
                        logger.info("SIGHUP received; reloading the configuration")
                        _ = await reloader.reload(trigger: "SIGHUP")
                        continue
                    }
                    received += 1
                    guard received > 1 else {
                        logger.info(
                            "\(signal) received; draining the pipeline (a second SIGTERM or SIGINT stops at once)")
                        await group.triggerGracefulShutdown()
                        continue
                    }
                    logger.warning("second signal \(signal) received; stopping at once")
                    topology.stopNow()
                    return signal
                }
                return nil
            }
            try await group.run()
            tasks.cancelAll()
            return try await tasks.reduce(nil) { $0 ?? $1 }
        }
        if let secondSignal { throw StoppedBySecondSignal(signal: secondSignal.rawValue) }
    }
}

/// A second SIGTERM or SIGINT stopped the process without waiting for the sinks to drain.
public struct StoppedBySecondSignal: Error, CustomStringConvertible {
    /// The signal's number: the process exits with 128 plus it, as a shell reports a process killed by it.
    public let signal: Int32

    public var description: String { "stopped at once by a second signal (\(signal))" }
}
