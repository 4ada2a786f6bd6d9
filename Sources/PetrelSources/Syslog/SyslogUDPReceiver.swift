import NIOCore
import NIOPosix
import PetrelCore

/// The UDP listener of the `syslog` source: one message per datagram (RFC 5426).
///
/// UDP has no way to hold a sender back, so the records of each burst of reads are offered to the pipeline with
/// `trySend`; when it is full they are dropped and counted (`petrel_syslog_udp_dropped_messages_total`) rather than
/// left to overflow the socket's buffer unseen.
struct SyslogUDPReceiver: Sendable {
    let config: SyslogSourceConfig
    let output: Output
    let telemetry: SyslogTelemetry

    func run(shutdown: ShutdownSignal, onListening: @Sendable (Int) -> Void) async throws {
        let config = self.config
        let output = self.output
        let telemetry = self.telemetry
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.maxMessagesPerRead, value: 64)
            // The largest UDP payload; a longer message is cut to max_message_bytes by the decoder.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SyslogDatagramHandler(config: config, output: output, telemetry: telemetry))
                }
            }
            .bind(host: config.address.host, port: config.address.port).get()
        onListening(channel.localAddress?.port ?? config.address.port)
        await shutdown.wait()
        try? await channel.close()
    }
}

/// Parses each datagram and offers the records of a burst of reads to the pipeline as one batch.
private final class SyslogDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private var decoder: SyslogRecordDecoder
    private let output: Output
    private let telemetry: SyslogTelemetry
    private var records: [LogRecord] = []

    init(config: SyslogSourceConfig, output: Output, telemetry: SyslogTelemetry) {
        decoder = SyslogRecordDecoder(
            maxMessageBytes: config.maxMessageBytes, parser: config.parser, telemetry: telemetry, peer: nil)
        self.output = output
        self.telemetry = telemetry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let start = records.count
        envelope.data.withUnsafeReadableBytes {
            decoder.decodeDatagram($0, receivedAt: WallClock.nowNanoseconds(), into: &records)
        }
        if let address = envelope.remoteAddress.ipAddress {
            for index in start..<records.count { records[index].metadata["source_ip"] = address }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        decoder.flushCounts()
        guard !records.isEmpty else { return }
        let count = records.count
        if output.trySend(.logs(LogBatch(records: records))) == nil {
            telemetry.udpDropped.increment(by: count)
            telemetry.component.discarded(count, reason: "queue_full")
        }
        records.removeAll(keepingCapacity: true)
    }
}

@available(*, unavailable)
extension SyslogDatagramHandler: Sendable {}
