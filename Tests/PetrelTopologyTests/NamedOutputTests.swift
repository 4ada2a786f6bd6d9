import Logging
import PetrelCodecs
import PetrelComponents
import PetrelConfig
import PetrelCore
import PetrelTopology
import Synchronization
import Testing

/// Named outputs (`<id>.<name>` in `inputs`): `remap`'s `dropped` output carries the records it drops.
@Suite struct NamedOutputTests {
    /// A source that sends one batch of log records and returns once it is acknowledged.
    struct LogLinesSource: Source {
        let lines: [String]

        func run(_ context: SourceContext) async throws {
            context.markReady()
            let records = lines.enumerated().map { LogRecord(timestamp: Int64($0.offset), message: $0.element) }
            try await context.output.send(.logs(LogBatch(records: records)))
        }
    }

    /// A sink that keeps the log records it receives.
    final class LogRecordingSink: Sink {
        private let received = Mutex<[LogRecord]>([])

        var records: [LogRecord] { received.withLock { $0 } }

        func run(_ input: SinkInput, _ context: SinkContext) async throws {
            for await envelope in input {
                if case .logs(let logs) = envelope.batch { received.withLock { $0 += logs.records } }
                envelope.acknowledgement.acknowledge()
            }
        }
    }

    private func load(_ yaml: String, source: LogLinesSource, sinks: [String: LogRecordingSink]) throws(ConfigLoadError)
        -> PipelineConfig
    {
        var definitions = BuiltinComponents.all
        definitions.append(ComponentDefinition(type: "lines", kind: .source) { _, _ in .source(source, emits: .logs) })
        definitions.append(
            ComponentDefinition(type: "records", kind: .sink) { _, context in
                .sink(sinks[context.id] ?? LogRecordingSink(), accepts: .all)
            })
        return try ConfigLoader(registry: ComponentRegistry(definitions), environment: [:]).parse(
            yaml, file: "test.yaml")
    }

    @Test func droppedRecordsGoToTheDroppedOutput() async throws {
        let source = LogLinesSource(lines: [#"{"a":1}"#, "not json", #"{"a":2}"#, "also not json"])
        let parsed = LogRecordingSink()
        let rejects = LogRecordingSink()
        let config = try load(
            """
            api: { enabled: false }
            sources:
              in: { type: lines }
            transforms:
              shape:
                type: remap
                inputs: [in]
                drop_on_error: true
                reroute_dropped: true
                source: . |= object!(parse_json!(.message))
            sinks:
              parsed: { type: records, inputs: [shape] }
              rejects: { type: records, inputs: [shape.dropped] }
            """, source: source, sinks: ["parsed": parsed, "rejects": rejects])
        try await Topology(
            config: config, telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(),
            logger: Logger(label: "test")
        ).run()
        #expect(parsed.records.map { $0.fields["a"] } == [.int(1), .int(2)])
        #expect(rejects.records.map(\.message) == ["not json", "also not json"])
        #expect(rejects.records.map { $0.metadata["dropped.reason"] } == ["error", "error"])
        #expect(rejects.records.first?.metadata["dropped.component_id"] == "shape")
        #expect(rejects.records.first?.metadata["dropped.message"]?.contains("parse_json") == true)
    }

    @Test func unknownNamedOutputIsAnErrorWithASuggestion() throws {
        let yaml = """
            api: { enabled: false }
            sources:
              in: { type: lines }
            transforms:
              shape: { type: remap, inputs: [in], reroute_dropped: true, source: ".a = 1" }
              plain: { type: remap, inputs: [in], source: ".a = 1" }
            sinks:
              a: { type: records, inputs: [shape, plain] }
              b: { type: records, inputs: [shape.droped] }
              c: { type: records, inputs: [plain.dropped] }
            """
        do {
            _ = try load(yaml, source: LogLinesSource(lines: []), sinks: [:])
            Issue.record("the configuration was accepted")
        } catch {
            let messages = error.errors.map(\.description)
            #expect(
                messages.contains { $0.contains(#"unknown component "shape.droped"; did you mean "shape.dropped"?"#) })
            #expect(messages.contains { $0.contains(#"unknown component "plain.dropped""#) })
        }
    }
}
