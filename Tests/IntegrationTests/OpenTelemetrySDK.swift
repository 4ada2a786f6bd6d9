import Foundation
import Logging
import PetrelCodecs
import PetrelComponents
import PetrelConfig
import PetrelCore
import PetrelTestSupport
import PetrelTopology
import Synchronization

/// The OpenTelemetry Python SDK (from PyPI, in the `.venv-otel` that `make test-deps` creates),
/// a real OTLP client nobody here wrote.
enum OpenTelemetrySDK {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var python: URL {
        if let path = ProcessInfo.processInfo.environment["PETREL_OTEL_PYTHON"] { return URL(fileURLWithPath: path) }
        return packageRoot.appendingPathComponent(".venv-otel/bin/python")
    }

    /// Runs one of the scripts in `otel/` and returns its standard output lines.
    static func run(_ script: String, _ arguments: [String], environment: [String: String] = [:]) async throws
        -> [String]
    {
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw TestSupportError("no OpenTelemetry SDK venv at \(python.path); `make test-deps` creates it")
        }
        let process = Process()
        process.executableURL = python
        process.arguments =
            [packageRoot.appendingPathComponent("Tests/IntegrationTests/otel/\(script)").path] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try process.run()
        let (text, problems) = await offload {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (text, problems)
        }
        guard process.terminationStatus == 0 else {
            throw TestSupportError("\(script) failed (\(process.terminationStatus)): \(problems)")
        }
        return text.split(separator: "\n").map(String.init)
    }

    /// A span as the SDK reports it sent.
    struct SentSpan: Decodable {
        var traceID: String
        var spanID: String
        var parentSpanID: String
        var name: String
        var kind: String
        var start: UInt64
        var end: UInt64
        var events: [SentEvent]
        var links: [SentLink]
        var status: String
        var statusMessage: String

        enum CodingKeys: String, CodingKey {
            case traceID = "trace_id"
            case spanID = "span_id"
            case parentSpanID = "parent_span_id"
            case name, kind, start, end, events, links, status
            case statusMessage = "status_message"
        }
    }

    struct SentEvent: Decodable {
        var name: String
        var time: UInt64
    }

    struct SentLink: Decodable {
        var traceID: String
        var spanID: String

        enum CodingKeys: String, CodingKey {
            case traceID = "trace_id"
            case spanID = "span_id"
        }
    }

    static func exportSpans(
        protocol transport: String, endpoint: String, traces: Int, environment: [String: String] = [:]
    ) async throws -> [SentSpan] {
        try await run("export_spans.py", [transport, endpoint, String(traces)], environment: environment).map {
            try JSONDecoder().decode(SentSpan.self, from: Data($0.utf8))
        }
    }
}

/// A sink that keeps every batch it receives, for tests to look at.
final class CapturingSink: Sink {
    private let batches = Mutex<[EventBatch]>([])

    var received: [EventBatch] { batches.withLock { $0 } }

    var spans: [(resource: Resource, span: Span)] {
        received.flatMap { batch -> [(resource: Resource, span: Span)] in
            guard case .traces(let traces) = batch else { return [] }
            return traces.resourceSpans.flatMap { group in
                group.scopeSpans.flatMap { $0.spans.map { (group.resource, $0) } }
            }
        }
    }

    func run(_ input: SinkInput, _ context: SinkContext) async throws {
        for await envelope in input {
            batches.withLock { $0.append(envelope.batch) }
            context.telemetry.sentEvents.increment(by: envelope.batch.eventCount)
            envelope.acknowledgement.acknowledge()
        }
    }
}

/// A pipeline from YAML with the built-in components and a `capture` sink.
final class CapturePipeline: @unchecked Sendable {
    let topology: Topology
    let sink = CapturingSink()
    private var task: Task<Void, any Error>?

    init(_ yaml: String) throws {
        let sink = self.sink
        let registry = ComponentRegistry(
            BuiltinComponents.all + [
                ComponentDefinition(type: "capture", kind: .sink) { _, _ in .sink(sink, accepts: .all) }
            ])
        let config = try ConfigLoader(registry: registry, environment: [:]).parse(yaml, file: "test.yaml")
        topology = Topology(
            config: config, telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(),
            logger: Logger(label: "test"))
    }

    func start() async throws {
        let topology = self.topology
        task = Task { try await topology.run() }
        for _ in 0..<500 where !topology.readiness.isReady {
            try await Task.sleep(for: .milliseconds(10))
        }
        guard topology.readiness.isReady else { throw TestSupportError("the pipeline did not become ready") }
    }

    func stop() async throws {
        topology.stop()
        try await task?.value
        task = nil
    }
}
