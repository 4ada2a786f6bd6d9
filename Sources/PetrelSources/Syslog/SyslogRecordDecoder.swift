import PetrelCodecs
import PetrelCore

/// Turns the bytes of one TCP connection, or single datagrams, into log records, counting as it goes.
///
/// Counts are gathered per call and added to the metrics once, not per message.
struct SyslogRecordDecoder {
    private var framer: SyslogFramer
    private let parser: SyslogParser
    private let telemetry: SyslogTelemetry
    /// The metadata of every record: `source_type` and the sender's address, `source_ip`.
    private let metadata: [String: String]
    private var counts = Counts()

    private struct Counts {
        var messages = 0
        var failures = 0
        var cut = 0
        var bytes = 0
    }

    init(maxMessageBytes: Int, parser: SyslogParser, telemetry: SyslogTelemetry, peer: String?) {
        framer = SyslogFramer(maxMessageBytes: maxMessageBytes)
        self.parser = parser
        self.telemetry = telemetry
        var metadata = ["source_type": "syslog"]
        if let peer { metadata["source_ip"] = peer }
        self.metadata = metadata
    }

    /// Appends the records of every frame that `bytes`, the next bytes of a stream, complete.
    mutating func decodeStream(_ bytes: UnsafeRawBufferPointer, into records: inout [LogRecord]) {
        let receivedAt = WallClock.nowNanoseconds()
        counts.bytes += bytes.count
        let (parser, metadata) = (self.parser, self.metadata)
        var counts = self.counts
        framer.consume(bytes) { frame, end in
            Self.append(frame, end, receivedAt, parser, metadata, &counts, &records)
        }
        self.counts = counts
        flushCounts()
    }

    /// Appends the record of one datagram, cut to `max_message_bytes`.
    mutating func decodeDatagram(_ bytes: UnsafeRawBufferPointer, receivedAt: Int64, into records: inout [LogRecord]) {
        counts.bytes += bytes.count
        let limit = framer.maxMessageBytes
        if bytes.count > limit {
            Self.append(
                UnsafeRawBufferPointer(rebasing: bytes[..<limit]), .cut, receivedAt, parser, metadata, &counts,
                &records)
        } else {
            Self.append(bytes, .complete, receivedAt, parser, metadata, &counts, &records)
        }
    }

    /// The stream ended: appends what is left of a frame, counting a counted frame the sender cut off.
    mutating func finishStream(into records: inout [LogRecord]) {
        let receivedAt = WallClock.nowNanoseconds()
        let (parser, metadata) = (self.parser, self.metadata)
        var counts = self.counts
        let cutOff = framer.finish { frame, end in
            Self.append(frame, end, receivedAt, parser, metadata, &counts, &records)
        }
        self.counts = counts
        if cutOff { telemetry.cutOffFrames.increment() }
        flushCounts()
    }

    private static func append(
        _ frame: UnsafeRawBufferPointer, _ end: SyslogFrameEnd, _ receivedAt: Int64, _ parser: SyslogParser,
        _ metadata: [String: String], _ counts: inout Counts, _ records: inout [LogRecord]
    ) {
        var (record, format) = parser.parse(frame, receivedAt: receivedAt)
        record.metadata = metadata
        records.append(record)
        counts.messages += 1
        if format == .unparsed { counts.failures += 1 }
        if end == .cut { counts.cut += 1 }
    }

    /// Adds what was counted since the last call to the metrics.
    mutating func flushCounts() {
        if counts.messages > 0 {
            telemetry.messages.increment(by: counts.messages)
            telemetry.component.receivedEvents.increment(by: counts.messages)
        }
        if counts.failures > 0 { telemetry.parseFailures.increment(by: counts.failures) }
        if counts.cut > 0 { telemetry.cutMessages.increment(by: counts.cut) }
        if counts.bytes > 0 { telemetry.component.receivedBytes.increment(by: counts.bytes) }
        counts = Counts()
    }
}
