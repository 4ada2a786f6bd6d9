import PetrelCore

/// Receives syslog messages over TCP (optionally TLS) or UDP, RFC 5424 or RFC 3164, and emits them as log records.
///
/// Over TCP a full pipeline stops the reading of the connection (the sender is held back); over UDP what the
/// pipeline cannot take is dropped and counted. A message that parses as neither format is sent on with its raw
/// text as `message` and counted, never dropped.
public struct SyslogSource: Source {
    public let config: SyslogSourceConfig

    public init(config: SyslogSourceConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "syslog", kind: .source) { reader, _ in
        .source(SyslogSource(config: SyslogSourceConfig(from: reader)), emits: .logs)
    }

    public func run(_ context: SourceContext) async throws {
        let telemetry = SyslogTelemetry(context.telemetry)
        let config = self.config
        let onListening: @Sendable (Int) -> Void = { port in
            context.logger.info(
                "listening for syslog",
                metadata: [
                    "address": "\(HostPort(host: config.address.host, port: port))", "mode": "\(config.mode.rawValue)",
                    "tls": "\(config.security.tls != nil)",
                ])
            context.markReady()
        }
        switch config.mode {
        case .tcp:
            let server = SyslogTCPServer(
                config: config, output: context.output, telemetry: telemetry, logger: context.logger)
            try await server.run(
                tls: try config.security.makeTLS(applicationProtocols: [], logger: context.logger),
                shutdown: context.shutdown, onListening: onListening)
        case .udp:
            let receiver = SyslogUDPReceiver(config: config, output: context.output, telemetry: telemetry)
            try await receiver.run(shutdown: context.shutdown, onListening: onListening)
        }
    }
}
