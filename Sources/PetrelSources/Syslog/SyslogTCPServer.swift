import Logging
import NIOCore
import NIOPosix
import PetrelCore
import PetrelNet
import Synchronization

/// The TCP (and TLS) listener of the `syslog` source: one task per connection reads, frames, parses and sends.
///
/// Backpressure: a connection's task sends each read's records and reads on only once the pipeline took them, and
/// NIO stops reading the socket while the task is behind, so a sender facing a full pipeline is held by TCP's flow
/// control instead of losing messages.
struct SyslogTCPServer: Sendable {
    let config: SyslogSourceConfig
    let output: Output
    let telemetry: SyslogTelemetry
    let logger: Logger

    func run(tls: ReloadingTLSContext?, shutdown: ShutdownSignal, onListening: @Sendable (Int) -> Void) async throws {
        let maxConnections = config.maxConnections
        let idleTimeout = config.idleTimeout.map { duration in
            let (seconds, attoseconds) = duration.components
            return TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionLimiter(maxConnections: maxConnections))
                }
            }
            .bind(host: config.address.host, port: config.address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(tls.makeServerHandler()) }
                    if let idleTimeout {
                        try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try pipeline.addHandler(IdleConnectionCloser())
                    }
                    // Read now: a sender that closes at once leaves no address on the channel by the time it is served.
                    let peer = channel.remoteAddress?.ipAddress
                    return (try NIOAsyncChannel<ByteBuffer, Never>(wrappingChannelSynchronously: channel), peer)
                }
            }
        onListening(server.channel.localAddress?.port ?? config.address.port)
        let open = OpenConnections()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                await shutdown.wait()
                // Stop accepting, then end every connection; each sends on what it has read before its task ends.
                try? await server.channel.close()
                open.closeAll()
            }
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { serving in
                    for try await (connection, peer) in connections {
                        guard open.insert(connection.channel) else {
                            connection.channel.close(promise: nil)
                            continue
                        }
                        serving.addTask {
                            await serve(connection, peer: peer, shutdown: shutdown)
                            open.remove(connection.channel)
                        }
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Reads one connection to its end, sending each read's records before reading on.
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, Never>, peer: String?, shutdown: ShutdownSignal)
        async
    {
        telemetry.connections.add(1)
        defer { telemetry.connections.add(-1) }
        var decoder = SyslogRecordDecoder(
            maxMessageBytes: config.maxMessageBytes, parser: config.parser, telemetry: telemetry, peer: peer)
        var records: [LogRecord] = []
        do {
            try await connection.executeThenClose { inbound, _ in
                for try await buffer in inbound {
                    buffer.withUnsafeReadableBytes { decoder.decodeStream($0, into: &records) }
                    if !records.isEmpty {
                        try await output.send(.logs(LogBatch(records: records)))
                        records.removeAll(keepingCapacity: true)
                    }
                }
            }
        } catch {
            // A reset connection or a failed TLS handshake; what was read is still sent on below.
            logger.debug("syslog connection ended", metadata: ["peer": "\(peer ?? "?")", "error": "\(error)"])
            // Closing the connections at shutdown is no receiving error.
            if !(error is CancellationError), !shutdown.isTriggered { telemetry.component.error(.receiving) }
        }
        decoder.finishStream(into: &records)
        if !records.isEmpty { try? await output.send(.logs(LogBatch(records: records))) }
    }
}

/// The connections open now, so that shutdown can end them; refuses new ones once it has.
private final class OpenConnections: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// Adds a connection; false once shutdown began.
    func insert(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func closeAll() {
        let channels = state.withLock { state in
            state.closed = true
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}

/// Closes a connection on which nothing arrived for `idle_timeout` (an `IdleStateHandler` read event).
private final class IdleConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

@available(*, unavailable)
extension IdleConnectionCloser: Sendable {}
