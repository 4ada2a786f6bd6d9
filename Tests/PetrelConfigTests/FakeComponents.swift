import PetrelCore
import Testing

@testable import PetrelConfig

/// A source that does nothing but remember what it was built with.
struct FakeSource: Source {
    var id: String
    var dataDirectory: String
    var address: String?

    func run(_ context: SourceContext) async throws {}
}

/// A transform that passes batches through.
struct FakeTransform: Transform {
    var label: String?

    mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? { batch }
}

/// A sink that drops what it reads.
struct FakeSink: Sink {
    var batchSize: Int

    func run(_ input: SinkInput, _ context: SinkContext) async throws {}
}

/// A registry of small fake components with the shapes of the real ones.
enum Fakes {
    static let registry = ComponentRegistry([
        source("metrics_gen", emits: .metrics),
        source("logs_gen", emits: .logs),
        source("otlp", emits: .all),
        transform("pass", accepts: .all),
        transform("metrics_filter", accepts: .metrics),
        sink("metrics_sink", accepts: .metrics),
        sink("console", accepts: .all),
        sink("otlp", accepts: [.metrics, .traces]),
    ])

    static func loader(_ environment: [String: String] = [:]) -> ConfigLoader {
        ConfigLoader(registry: registry, environment: environment)
    }

    private static func source(_ type: String, emits: SignalSet) -> ComponentDefinition {
        ComponentDefinition(type: type, kind: .source) { reader, context in
            let address = reader.string("address")
            return .source(
                FakeSource(id: context.id, dataDirectory: context.dataDirectory, address: address), emits: emits)
        }
    }

    private static func transform(_ type: String, accepts: SignalSet) -> ComponentDefinition {
        ComponentDefinition(type: type, kind: .transform) { reader, _ in
            .transform(FakeTransform(label: reader.string("label")), accepts: accepts)
        }
    }

    private static func sink(_ type: String, accepts: SignalSet) -> ComponentDefinition {
        ComponentDefinition(type: type, kind: .sink) { reader, _ in
            let before = reader.diagnostics.errors.count
            let batchSize = reader.int("batch_size", default: 100, range: 1...10_000)
            guard reader.diagnostics.errors.count == before else { return nil }
            return .sink(FakeSink(batchSize: batchSize), accepts: accepts)
        }
    }
}

/// The errors a user would read for `yaml`, one description per error; empty when it loads.
func errors(
    _ yaml: String, environment: [String: String] = [:], file: String = "petrel.yaml"
) -> [String] {
    do {
        _ = try Fakes.loader(environment).parse(yaml, file: file)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

/// A pipeline every test can extend: one metrics source read by one metrics sink.
let minimalPipeline = """
    sources:
      in:
        type: metrics_gen
    sinks:
      out:
        type: metrics_sink
        inputs: [in]
    """
