import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import PetrelCore
import PetrelNet
import Synchronization

/// Receives OpenTelemetry traces, metrics and logs over OTLP/gRPC and OTLP/HTTP (protobuf or JSON, plain or gzip),
/// and emits each Export request as one batch.
///
/// A request is acknowledged only once its batch is in every downstream queue. When a queue is full the sender is
/// told to retry (gRPC RESOURCE_EXHAUSTED with `RetryInfo`, HTTP 429 with `Retry-After`) and keeps the data; bad data
/// gets INVALID_ARGUMENT or 400, which senders do not retry; invalid spans and data points are dropped and reported
/// in the response's partial-success field.
public struct OTLPSource: Source {
    public let config: OTLPSourceConfig

    public init(config: OTLPSourceConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "otlp", kind: .source) { reader, _ in
        .source(OTLPSource(config: OTLPSourceConfig(from: reader)), emits: [.metrics, .logs, .traces])
    }

    public func run(_ context: SourceContext) async throws {
        let receiver = OTLPReceiver(
            output: context.output, telemetry: context.telemetry, metricOptions: config.metrics)
        let listening = Atomic(0)
        let servers = config.protocols.count
        let listeningOn: @Sendable () -> Void = {
            if listening.add(1, ordering: .relaxed).newValue == servers { context.markReady() }
        }
        // A server that fails (its port taken) throws out of the group, which cancels the other: it drains and ends.
        try await withThrowingTaskGroup(of: Void.self) { group in
            if config.serves(.grpc) {
                group.addTask { try await runGRPC(receiver, context, onListening: listeningOn) }
            }
            if config.serves(.http) {
                group.addTask { try await runHTTP(receiver, context, onListening: listeningOn) }
            }
            // next() rethrows the first failure at once, where waitForAll() would wait for the healthy server.
            while try await group.next() != nil {}
        }
    }

    private func runGRPC(
        _ receiver: OTLPReceiver, _ context: SourceContext, onListening: @Sendable () -> Void
    ) async throws {
        let transportLimit = OTLPGRPCServices.transportLimit(for: config.maxMessageSize)
        // TLS is Petrel's own handler, put on each accepted connection, rather than the transport's: it re-reads
        // certificates from disk and applies min_version, which the transport's TLS settings cannot.
        let tls = try config.security.makeTLS(applicationProtocols: ["h2"], logger: context.logger)
        let transport = HTTP2ServerTransport.Posix(
            address: try Self.grpcSocketAddress(config.grpcAddress), transportSecurity: .plaintext,
            config: .defaults {
                $0.rpc.maxRequestPayloadSize = transportLimit
                $0.compression.enabledAlgorithms = .gzip
                $0.connection.maxIdleTime = config.listener.idleTimeout
                $0.channelDebuggingCallbacks.onBindTCPListener = Self.guardListener(config.listener, tls: tls)
                $0.channelDebuggingCallbacks.onAcceptHTTP2Stream = Self.guardStream(
                    config.listener, memory: context.output.memory, retryAfter: config.retryAfter,
                    maxMessageSize: config.maxMessageSize, refusedMessage: { receiver.refused(wireBytes: $0) })
            })
        let server = GRPCServer(
            transport: transport,
            services: [
                OTLPGRPCServices(
                    receiver: receiver, maxMessageSize: config.maxMessageSize, retryAfter: config.retryAfter)
            ],
            interceptors: config.security.makeAuthenticator(logger: context.logger).map {
                [GRPCAuthInterceptor(authenticator: $0)]
            } ?? [])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            let address: GRPCNIOTransportCore.SocketAddress?
            do {
                address = try await server.listeningAddress
            } catch {
                // Not listening means serve() failed; its error says why (the address is in use...).
                try await group.waitForAll()
                throw error
            }
            let port = address?.ipv4?.port ?? address?.ipv6?.port ?? config.grpcAddress.port
            context.logger.info(
                "listening for OTLP/gRPC",
                metadata: ["address": "\(HostPort(host: config.grpcAddress.host, port: port))"])
            onListening()
            await context.shutdown.wait()
            // Stops accepting streams and lets the RPCs in flight finish; serve() returns once they have.
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }

    private func runHTTP(
        _ receiver: OTLPReceiver, _ context: SourceContext, onListening: @Sendable () -> Void
    ) async throws {
        let handler = OTLPHTTPHandler(
            receiver: receiver, maxMessageSize: config.maxMessageSize, retryAfter: config.retryAfter)
        let settings = HTTPServerSettings(
            host: config.httpAddress.host, port: config.httpAddress.port, maxBodySize: config.maxMessageSize,
            limits: config.listener, retryAfter: config.retryAfter)
        let server = HTTPIngestServer(
            settings: settings,
            tls: try config.security.makeTLS(applicationProtocols: ["http/1.1"], logger: context.logger),
            authenticator: config.security.makeAuthenticator(logger: context.logger), memory: context.output.memory,
            logger: context.logger, tooLarge: { handler.tooLarge($0) }, busy: { handler.busy($0) },
            handler: { await handler.handle($0) })
        let host = config.httpAddress.host
        try await server.run(shutdown: context.shutdown) { port in
            context.logger.info(
                "listening for OTLP/HTTP", metadata: ["address": "\(HostPort(host: host, port: port))"])
            onListening()
        }
    }

    /// The gRPC listener's share of the HTTP listeners' limits: connections past `max_connections` are closed as
    /// they are accepted, and one that has not sent its HTTP/2 preface within `request_header_timeout` is closed
    /// (grpc-swift waits for it for ever; `maxIdleTime` only starts once it is there). With `tls`, each connection
    /// gets Petrel's TLS handler first, before the preface timeout, so a stalled handshake is cut off by it too.
    static func guardListener(
        _ limits: HTTPListenerLimits, tls: ReloadingTLSContext?
    ) -> @Sendable (any Channel) -> EventLoopFuture<Void> {
        { channel in
            channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                try pipeline.addHandler(ConnectionLimiter(maxConnections: limits.maxConnections), position: .first)
                try pipeline.addHandler(
                    AcceptedChannelInitializer { child in
                        let pipeline = child.pipeline.syncOperations
                        try pipeline.addHandler(
                            FirstBytesTimeoutHandler(
                                bytes: FirstBytesTimeoutHandler.http2PrefaceLength,
                                timeout: limits.requestHeaderTimeout),
                            position: .first)
                        if let tls { try pipeline.addHandler(tls.makeServerHandler(), position: .first) }
                    })
            }
        }
    }

    /// Each request stream's share of the limits: its bytes count against `memory_limit` while it is read, it is
    /// reset when it sends nothing for `request_body_timeout` before its end, and a message declared over
    /// `max_message_size` (or flagged compressed without a `grpc-encoding`) is answered with its status at once.
    static func guardStream(
        _ limits: HTTPListenerLimits, memory: MemoryLimit?, retryAfter: Duration, maxMessageSize: Int,
        refusedMessage: @escaping @Sendable (Int) -> Void
    ) -> @Sendable (any Channel) -> EventLoopFuture<Void> {
        { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(
                    GRPCStreamGuard(
                        memory: memory, stallTimeout: limits.requestBodyTimeout, retryAfter: retryAfter,
                        maxMessageSize: maxMessageSize, refusedMessage: refusedMessage),
                    position: .first)
            }
        }
    }

    /// grpc-swift binds IP addresses only, so a host name is resolved first.
    static func grpcSocketAddress(_ address: HostPort) throws -> GRPCNIOTransportCore.SocketAddress {
        let resolved: NIOCore.SocketAddress
        do {
            resolved = try NIOCore.SocketAddress(ipAddress: address.host, port: address.port)
        } catch {
            resolved = try NIOCore.SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
        }
        switch resolved {
        case .v6: return .ipv6(host: resolved.ipAddress ?? address.host, port: address.port)
        default: return .ipv4(host: resolved.ipAddress ?? address.host, port: address.port)
        }
    }
}
