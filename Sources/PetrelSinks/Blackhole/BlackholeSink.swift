import PetrelCore

/// Counts and discards everything: the far end of benchmarks, and a way to measure a pipeline alone.
public struct BlackholeSink: Sink {
    public init() {}

    public static let definition = ComponentDefinition(type: "blackhole", kind: .sink) { _, _ in
        .sink(BlackholeSink(), accepts: .all)
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        for await envelope in input {
            context.telemetry.sentEvents.increment(by: envelope.batch.eventCount)
            context.telemetry.sentBytes.increment(by: envelope.bytes)
            envelope.acknowledgement.acknowledge()
        }
    }
}
