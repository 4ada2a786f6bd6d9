import PetrelComponents
import PetrelConfig
import PetrelCore
import Synchronization

/// A source that sends `count` one-series metric batches numbered from `start`, or keeps going until shutdown.
struct NumberedSource: Source {
    let start: Int
    let count: Int?
    let progress: Progress?

    func run(_ context: SourceContext) async throws {
        context.markReady()
        var number = start
        while count.map({ number < start + $0 }) ?? !context.shutdown.isTriggered {
            try await context.output.send(.metrics(numbered(number)))
            progress?.sent.add(1, ordering: .relaxed)
            number += 1
            if count == nil { await Task.yield() }
        }
    }
}

/// A metric batch of one series whose sample value is `number`.
func numbered(_ number: Int) -> MetricBatch {
    var batch = MetricBatch()
    batch.appendSeries(
        labels: [("__name__", "numbered"), ("parity", number % 2 == 0 ? "even" : "odd")],
        samples: [Sample(timestamp: Int64(number), value: Double(number))])
    return batch
}

/// Shared counters between a test and its components.
final class Progress: Sendable {
    let sent = Atomic<Int>(0)
    let consumed = Atomic<Int>(0)
    /// The largest number of batches sent but not yet consumed seen by the source.
    let maxInFlight = Atomic<Int>(0)
}

/// A sink that records the numbers it receives, optionally slowly.
final class RecordingSink: Sink {
    let delay: Duration?
    let progress: Progress?
    private let received = Mutex<[Int]>([])

    init(delay: Duration? = nil, progress: Progress? = nil) {
        self.delay = delay
        self.progress = progress
    }

    var numbers: [Int] { received.withLock { $0 } }

    func run(_ input: SinkInput, _ context: SinkContext) async throws {
        for await envelope in input {
            let batch = envelope.batch
            guard case .metrics(let metrics) = batch else { continue }
            if let progress {
                let inFlight = progress.sent.load(ordering: .relaxed) - progress.consumed.load(ordering: .relaxed)
                progress.maxInFlight.max(inFlight, ordering: .relaxed)
            }
            // Cancellation (the shutdown deadline) ends the sink mid-batch, as a real sink's request would.
            if let delay { try await Task.sleep(for: delay) }
            let numbers = metrics.series.indices.flatMap { metrics.samples(of: $0).map { Int($0.value) } }
            received.withLock { $0.append(contentsOf: numbers) }
            progress?.consumed.add(1, ordering: .relaxed)
            context.telemetry.sentEvents.increment(by: batch.eventCount)
            envelope.acknowledgement.acknowledge()
        }
    }
}

/// Builds a pipeline from YAML with test components registered beside the built-in ones.
struct TestPipeline {
    var sources: [String: NumberedSource] = [:]
    var sinks: [String: RecordingSink] = [:]

    func load(_ yaml: String) throws -> PipelineConfig {
        var definitions = BuiltinComponents.all
        let sources = self.sources
        let sinks = self.sinks
        definitions.append(
            ComponentDefinition(type: "numbered", kind: .source) { _, context in
                .source(sources[context.id]!, emits: .metrics)
            })
        definitions.append(
            ComponentDefinition(type: "recording", kind: .sink) { _, context in
                .sink(sinks[context.id]!, accepts: .all)
            })
        let loader = ConfigLoader(registry: ComponentRegistry(definitions), environment: [:])
        return try loader.parse(yaml, file: "test.yaml")
    }
}
