import Foundation
import Logging
import PetrelCodecs
import PetrelCore
import PetrelSinks
import Synchronization
import Testing

/// The `file` sink: its settings, and that it acknowledges a batch only once its lines are in the file.
@Suite struct FileSinkTests {
    private func build(_ node: ConfigNode) -> (config: FileSinkConfig?, errors: [String]) {
        let outcome = buildComponent(FileSink.definition, at: "sinks.out", node)
        guard case .sink(let sink, let accepts)? = outcome.built else { return (nil, outcome.errors) }
        #expect(accepts == SignalSet.all.union(.alerts))
        return ((sink as? FileSink)?.config, outcome.errors)
    }

    // MARK: Configuration

    @Test func defaults() throws {
        #expect(FileSink.definition.type == "file")
        #expect(FileSink.definition.kind == .sink)
        let result = build(componentConfig(["path": "/var/log/petrel/out.ndjson"]))
        #expect(result.errors == [])
        let config = try #require(result.config)
        #expect(config.path.description == "/var/log/petrel/out.ndjson")
        #expect(config.path.isStatic)
        #expect(config.encoding == .ndjson)
        #expect(config.fsync == .batch)
        #expect(config.maxOpenFiles == 64)
        #expect(config.idleTimeout == .seconds(30))
    }

    @Test func everyKey() throws {
        let result = build(
            componentConfig([
                "path": "/data/%Y/%m/%d/%H.ndjson", "encoding": "ndjson", "fsync": "250ms", "max_open_files": 8,
                "idle_timeout": "5m", "retry": ["initial_backoff": "1s", "max_backoff": "1m"],
            ]))
        #expect(result.errors == [])
        let config = try #require(result.config)
        #expect(config.fsync == .interval(.milliseconds(250)))
        #expect(config.maxOpenFiles == 8)
        #expect(config.idleTimeout == .seconds(300))
        #expect(config.initialBackoff == .seconds(1))
        #expect(config.maxBackoff == .seconds(60))
        #expect(!config.path.isStatic)
        // 2024-01-02T03:00Z is hour 473,379 since the epoch.
        #expect(config.path.render(hour: 473_379) == "/data/2024/01/02/03.ndjson")
    }

    static let badConfigs: [(ComponentConfigValue, [String])] = [
        (["encoding": "ndjson"], ["sinks.out.path: is required"]),
        (["path": ""], ["sinks.out.path: must not be empty"]),
        (["path": "/x/%Y-%M.log"], ["sinks.out.path: supports %Y, %m, %d, %H and %%, found %M"]),
        (["path": "/x/100%"], ["sinks.out.path: supports %Y, %m, %d, %H and %%, found a lone % at the end"]),
        (
            ["path": "/x", "fsync": "sometimes"],
            [#"sinks.out.fsync: expected a duration such as 500ms, 30s, 5m or 1h, found "sometimes""#]
        ),
        (["path": "/x", "fsync": "0s"], ["sinks.out.fsync: expected `batch` or a positive duration such as 100ms"]),
        (["path": "/x", "encoding": "json"], [#"sinks.out.encoding: expected one of ndjson, found "json""#]),
        (["path": "/x", "max_open_files": 0], ["sinks.out.max_open_files: must be between 1 and 65536, found 0"]),
        (["path": "/x", "idle_timeout": "0s"], ["sinks.out.idle_timeout: must be longer than zero"]),
        (
            ["path": "/x", "retry": ["initial_backoff": "2s", "max_backoff": "1s"]],
            ["sinks.out.retry.max_backoff: must not be shorter than initial_backoff"]
        ),
        (["path": "/x", "fsyn": "1s"], [#"sinks.out.fsyn: unknown key; did you mean "fsync"?"#]),
        // A bad path still has the other keys read and checked.
        (
            ["path": "%Q", "max_open_files": -1],
            [
                "sinks.out.path: supports %Y, %m, %d, %H and %%, found %Q",
                "sinks.out.max_open_files: must be between 1 and 65536, found -1",
            ]
        ),
    ]

    @Test(arguments: badConfigs)
    func invalidSettingsAreLocated(value: ComponentConfigValue, expected: [String]) {
        let result = build(value.configNode())
        #expect(result.errors == expected.map { "petrel.yaml: \($0)" })
    }

    // MARK: Running

    /// A temporary directory of this test's own.
    private static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-file-sink-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private static func contents(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    private static func log(_ message: String, at nanoseconds: Int64 = 1_704_067_200 * 1_000_000_000) -> EventBatch {
        .logs(LogBatch(records: [LogRecord(timestamp: nanoseconds, message: message)]))
    }

    private static func json(_ batch: EventBatch) -> String {
        var encoder = EventJSONEncoder()
        return String(decoding: encoder.encode(batch), as: UTF8.self)
    }

    /// Acknowledgements that record, when they fire, what the file held then.
    private final class AcknowledgementLog: Sendable {
        private let seen = Mutex<[(batch: Int, fileAtAcknowledgement: String)]>([])

        func acknowledgement(for batch: Int, reading path: String) -> Acknowledgement {
            Acknowledgement { [self] in
                let text = FileSinkTests.contents(path)
                seen.withLock { $0.append((batch, text)) }
            }
        }

        var entries: [(batch: Int, fileAtAcknowledgement: String)] { seen.withLock { $0 } }

        func waitFor(_ count: Int) async -> Bool {
            for _ in 0..<2_000 where entries.count < count { try? await Task.sleep(for: .milliseconds(10)) }
            return entries.count >= count
        }
    }

    private struct Running {
        let queue: BatchQueue
        let task: Task<Void, any Error>
        let telemetry: ComponentTelemetry
        let logs: LogLines
    }

    /// Log lines the sink writes, for tests that check it says what failed.
    private final class LogLines: Sendable, LogHandler {
        private let lines = Mutex<[String]>([])
        var metadata: Logger.Metadata {
            get { [:] }
            set {}
        }
        var logLevel: Logger.Level {
            get { .trace }
            set {}
        }
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { nil }
            set {}
        }
        func log(event: LogEvent) {
            let metadata = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            lines.withLock { $0.append("\(event.level) \(event.message) \(metadata.joined(separator: " "))") }
        }
        var all: [String] { lines.withLock { $0 } }
    }

    private func start(_ config: FileSinkConfig) -> Running {
        let telemetry = componentTestTelemetry(id: "out", type: "file", kind: .sink)
        let queue = BatchQueue(capacity: 64, producers: 1)
        let logs = LogLines()
        let logger = Logger(label: "test.file") { _ in logs }
        let sink = FileSink(config: config)
        let task = Task {
            try await sink.run(
                SinkInput(queue: queue, telemetry: telemetry),
                SinkContext(id: "out", telemetry: telemetry, logger: logger))
        }
        return Running(queue: queue, task: task, telemetry: telemetry, logs: logs)
    }

    private func config(_ path: String, _ configure: (inout FileSinkConfig) -> Void = { _ in }) throws -> FileSinkConfig
    {
        var config = FileSinkConfig(path: try TimeTemplate.parse(path).get())
        configure(&config)
        return config
    }

    @Test func batchesAreWrittenWholeInOrderOnceAndAcknowledgedOnlyAfterTheWrite() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/nested/dirs/out.ndjson"
        let running = start(try config(path))
        let acknowledgements = AcknowledgementLog()
        var batches: [EventBatch] = []
        for index in 0..<20 {
            let records = (0..<5).map {
                LogRecord(timestamp: Int64(index) * 1_000, message: "batch \(index) line \($0)")
            }
            batches.append(.logs(LogBatch(records: records)))
        }
        for (index, batch) in batches.enumerated() {
            try await running.queue.send(
                Envelope(batch, acknowledgement: acknowledgements.acknowledgement(for: index, reading: path)))
        }
        running.queue.producerFinished()
        try await running.task.value

        let expected = batches.map(Self.json)
        #expect(Self.contents(path) == expected.joined(), "every batch once, whole, in order")
        let entries = acknowledgements.entries
        #expect(entries.map(\.batch) == Array(0..<20))
        for entry in entries {
            #expect(
                entry.fileAtAcknowledgement.hasPrefix(expected[...entry.batch].joined()),
                "batch \(entry.batch) was in the file when it was acknowledged")
        }
        #expect(running.telemetry.sentEvents.value == 100)
        var attributes = stat()
        #expect(stat(path, &attributes) == 0)
        #expect(attributes.st_mode & 0o777 == 0o640)
    }

    @Test func metricsSpansAndLogsInTheConsoleShape() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/out.ndjson"
        var metrics = MetricBatch()
        metrics.appendSeries(
            labels: [("__name__", "up"), ("job", "api")],
            samples: [Sample(timestamp: 1_000, value: 1), Sample(timestamp: 2_000, value: 0)])
        let spans = SpanBatch(resourceSpans: [
            ResourceSpans(scopeSpans: [
                ScopeSpans(spans: [
                    Span(
                        traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), name: "GET /", startTimeUnixNano: 5,
                        endTimeUnixNano: 9)
                ])
            ])
        ])
        let batches: [EventBatch] = [.metrics(metrics), .traces(spans), Self.log("hello")]
        let running = start(try config(path))
        for batch in batches { try await running.queue.send(batch) }
        running.queue.producerFinished()
        try await running.task.value
        #expect(Self.contents(path) == batches.map(Self.json).joined())
    }

    @Test func pathFollowsTheEventHourAcrossMidnight() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hour: Int64 = 3_600 * 1_000_000_000
        // 2024-01-01T23:30Z, 2024-01-02T00:10Z and 2024-01-01T23:59Z, in one batch, then 2024-01-02T01:00Z.
        let midnight: Int64 = 1_704_153_600 * 1_000_000_000
        let mixed = EventBatch.logs(
            LogBatch(records: [
                LogRecord(timestamp: midnight - hour / 2, message: "a"),
                LogRecord(timestamp: midnight + hour / 6, message: "b"),
                LogRecord(timestamp: midnight - 60_000_000_000, message: "c"),
            ]))
        let later = Self.log("d", at: midnight + hour)
        // One open file at a time: the hours take turns evicting each other.
        let running = start(try config(directory + "/%Y/%m/%d/%H.ndjson") { $0.maxOpenFiles = 1 })
        try await running.queue.send(mixed)
        try await running.queue.send(later)
        running.queue.producerFinished()
        try await running.task.value
        let lines = Self.json(mixed).split(separator: "\n").map { $0 + "\n" }
        #expect(Self.contents(directory + "/2024/01/01/23.ndjson") == lines[0] + lines[2])
        #expect(Self.contents(directory + "/2024/01/02/00.ndjson") == lines[1])
        #expect(Self.contents(directory + "/2024/01/02/01.ndjson") == Self.json(later))
    }

    @Test func samplesAndSpansGoToTheFileOfTheirOwnHour() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 2024-01-01T10:59:59.999Z and 11:00:00Z, in milliseconds; a span that starts at 11:30Z.
        let eleven: Int64 = 1_704_106_800_000
        var metrics = MetricBatch()
        metrics.appendSeries(
            labels: [("__name__", "up")],
            samples: [Sample(timestamp: eleven - 1, value: 1), Sample(timestamp: eleven, value: 2)])
        metrics.appendSeries(labels: [("__name__", "down")], samples: [Sample(timestamp: eleven - 1, value: 3)])
        let spans = SpanBatch(resourceSpans: [
            ResourceSpans(scopeSpans: [
                ScopeSpans(spans: [
                    Span(
                        traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), name: "GET /",
                        startTimeUnixNano: UInt64(eleven + 1_800_000) * 1_000_000,
                        endTimeUnixNano: UInt64(eleven + 1_800_001) * 1_000_000)
                ])
            ])
        ])
        let running = start(try config(directory + "/%H.ndjson"))
        try await running.queue.send(.metrics(metrics))
        try await running.queue.send(.traces(spans))
        running.queue.producerFinished()
        try await running.task.value
        let lines = Self.json(.metrics(metrics)).split(separator: "\n").map { $0 + "\n" }
        #expect(Self.contents(directory + "/10.ndjson") == lines[0] + lines[2])
        #expect(Self.contents(directory + "/11.ndjson") == lines[1] + Self.json(.traces(spans)))
    }

    @Test func unwritablePathIsLoggedRetriedAndNeverAcknowledgedUntilWritten() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A regular file where the directory should be: open fails (ENOTDIR) whoever runs the test, root included.
        let blocker = directory + "/blocked"
        FileManager.default.createFile(atPath: blocker, contents: Data("not a directory".utf8))
        let path = blocker + "/out.ndjson"
        let running = start(
            try config(path) {
                $0.initialBackoff = .milliseconds(10)
                $0.maxBackoff = .milliseconds(50)
            })
        let acknowledgements = AcknowledgementLog()
        try await running.queue.send(
            Envelope(Self.log("kept"), acknowledgement: acknowledgements.acknowledgement(for: 0, reading: path)))

        var logged = false
        for _ in 0..<1_000 where !logged {
            try await Task.sleep(for: .milliseconds(10))
            logged = running.logs.all.contains { $0.contains("cannot write a file") && $0.contains("path=\(path)") }
        }
        #expect(logged, "the failure is logged with the path: \(running.logs.all)")
        #expect(running.logs.all.contains { $0.contains("Not a directory") })
        #expect(acknowledgements.entries.isEmpty, "nothing unwritten is acknowledged")
        #expect(running.telemetry.sentEvents.value == 0)

        try FileManager.default.removeItem(atPath: blocker)
        #expect(await acknowledgements.waitFor(1), "written once the directory can be made")
        #expect(acknowledgements.entries.first?.fileAtAcknowledgement == Self.json(Self.log("kept")))
        running.queue.producerFinished()
        try await running.task.value
        #expect(Self.contents(path) == Self.json(Self.log("kept")), "written once, not once per attempt")
    }

    @Test func intervalFsyncAcknowledgesAfterTheNextFsync() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/out.ndjson"
        let running = start(try config(path) { $0.fsync = .interval(.milliseconds(50)) })
        let acknowledgements = AcknowledgementLog()
        for index in 0..<3 {
            try await running.queue.send(
                Envelope(
                    Self.log("line \(index)"),
                    acknowledgement: acknowledgements.acknowledgement(for: index, reading: path)))
        }
        // Acknowledged by the periodic fsync while the input is still open.
        #expect(await acknowledgements.waitFor(3))
        #expect(
            acknowledgements.entries.allSatisfy {
                $0.fileAtAcknowledgement == (0..<3).map { Self.json(Self.log("line \($0)")) }.joined()
            })
        running.queue.producerFinished()
        try await running.task.value
    }

    @Test func cancelledWhileFailingAcknowledgesNothing() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let blocker = directory + "/blocked"
        FileManager.default.createFile(atPath: blocker, contents: Data())
        let running = start(try config(blocker + "/out.ndjson") { $0.initialBackoff = .milliseconds(10) })
        let acknowledgements = AcknowledgementLog()
        try await running.queue.send(
            Envelope(Self.log("x"), acknowledgement: acknowledgements.acknowledgement(for: 0, reading: blocker)))
        for _ in 0..<1_000 where running.telemetry.sentEvents.value == 0 && running.logs.all.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        running.task.cancel()
        await #expect(throws: CancellationError.self) { try await running.task.value }
        #expect(acknowledgements.entries.isEmpty)
    }
}
