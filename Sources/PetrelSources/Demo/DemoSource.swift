import PetrelCore

/// Generates synthetic metrics, logs and spans at a fixed pace, like Vector's `demo_logs`.
public struct DemoSource: Source {
    public let config: DemoSourceConfig

    public init(config: DemoSourceConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "demo", kind: .source) { reader, _ in
        let config = DemoSourceConfig(from: reader)
        return .source(DemoSource(config: config), emits: config.signals)
    }

    public func run(_ context: SourceContext) async throws {
        context.markReady()
        var generator = DemoGenerator(batchSize: config.batchSize, origin: context.id)
        var rounds = 0
        while !context.shutdown.isTriggered {
            let now = WallClock.nowNanoseconds()
            for signal in Signal.allCases where config.signals.contains(signal) {
                let batch = generator.batch(of: signal, nowNanoseconds: now)
                context.telemetry.receivedEvents.increment(by: batch.eventCount)
                context.telemetry.receivedBytes.increment(by: batch.estimatedBytes)
                try await context.output.send(batch)
            }
            rounds += 1
            if config.count > 0 && rounds >= config.count { break }
            if await context.shutdown.sleep(for: config.interval) { break }
        }
    }
}
