import PetrelCodecs
import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Prints every event as one JSON line on standard output (or standard error).
public struct ConsoleSink: Sink {
    public let config: ConsoleSinkConfig

    public init(config: ConsoleSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "console", kind: .sink) { reader, _ in
        .sink(ConsoleSink(config: ConsoleSinkConfig(from: reader)), accepts: SignalSet.all.union(.alerts))
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let descriptor = config.target == .stdout ? STDOUT_FILENO : STDERR_FILENO
        var encoder = EventJSONEncoder()
        for await envelope in input {
            // A write that fails is dropped and counted, never retried: the console is a debugging aid.
            defer { envelope.acknowledgement.acknowledge() }
            let batch = envelope.batch
            let bytes = encoder.encode(batch)
            if Self.writeAll(bytes, to: descriptor) {
                context.telemetry.sentEvents.increment(by: batch.eventCount)
                context.telemetry.sentBytes.increment(by: bytes.count)
            } else {
                context.telemetry.error(.sending)
                context.telemetry.discarded(batch.eventCount, reason: "write_failed")
            }
        }
    }

    /// Writes every byte, retrying short writes; false when the stream is closed or failing.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}
