import Logging
import PetrelCore
import Synchronization
import Testing

@testable import PetrelSources

#if canImport(Glibc)
import Glibc
#endif

/// The `file` source on a real directory, with a queue whose batches the test acknowledges when it chooses, as a
/// sink buffer would: discovery, rotation, truncation, checkpoints, restart and backpressure.
@Suite struct FileSourceTests {
    /// A tailer over `<directory>/*.log` wired to one queue that passes acknowledgements on to the test.
    final class Harness: Sendable {
        let directory: String
        let queue = BatchQueue(capacity: 100_000, producers: 1)
        let telemetry = componentTestTelemetry(id: "files", type: "file", kind: .source)
        let shutdown = ShutdownSignal()
        let settings: TailerSettings
        let multiline: MultilineConfig?
        let ready = Atomic<Bool>(false)

        init(
            directory: String, multiline: MultilineConfig? = nil, configure: (inout TailerSettings) -> Void = { _ in }
        ) {
            self.directory = directory
            self.multiline = multiline
            var settings = TailerSettings(checkpointDirectory: directory + "/data/checkpoints/files")
            settings.globMinimumCooldown = .milliseconds(100)
            settings.checkpointInterval = .milliseconds(50)
            settings.shutdownAcknowledgementWait = .milliseconds(300)
            configure(&settings)
            self.settings = settings
        }

        func run() async throws {
            let output = Output(edges: [.init(queue: queue, accepts: .all, buffers: false)], telemetry: telemetry)
            let context = SourceContext(
                id: "files", output: output, telemetry: telemetry, logger: Logger(label: "test.file"),
                shutdown: shutdown, onReady: { self.ready.store(true, ordering: .relaxed) })
            var tailer = FileTailer(
                discovery: GlobDiscovery(include: [directory + "/*.log"], exclude: []), settings: settings,
                context: context
            ) { [multiline] _ in FileLineDecoder(host: "test-host", multiline: multiline) }
            try await tailer.run()
            queue.producerFinished()
        }

        /// Starts the tailer; returns once it is ready.
        func start() async -> Task<Void, any Error> {
            let task = Task { try await run() }
            _ = await componentEventually { ready.load(ordering: .relaxed) }
            return task
        }

        /// The next envelope, or nil if none came within `timeout`.
        func next(timeout: Duration = .seconds(20)) async -> Envelope? {
            await withTaskGroup(of: Envelope?.self) { group in
                group.addTask { await self.queue.next() }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }

        /// Receives (and acknowledges) envelopes until `count` messages came; returns them in order.
        func receive(_ count: Int, acknowledge: Bool = true) async -> [String] {
            var messages: [String] = []
            while messages.count < count, let envelope = await next() {
                messages += Self.messages(envelope)
                if acknowledge { envelope.acknowledgement.acknowledge() }
            }
            return messages
        }

        static func messages(_ envelope: Envelope) -> [String] {
            guard case .logs(let logs) = envelope.batch else { return [] }
            return logs.records.map(\.message)
        }

        func counter(_ name: String, reason: String? = nil) -> UInt64 {
            let labels =
                [("component_id", "files"), ("component_type", "file")] + (reason.map { [("reason", $0)] } ?? [])
            return telemetry.registry.counter(name, help: "", labels: labels).value
        }

        func gauge(_ name: String) -> Int64 {
            telemetry.registry.gauge(name, help: "", labels: [("component_id", "files"), ("component_type", "file")])
                .value
        }

        func stop(_ task: Task<Void, any Error>) async throws {
            shutdown.trigger()
            try await task.value
        }

        func checkpoints() throws -> [FileCheckpoint] {
            try CheckpointStore(directory: settings.checkpointDirectory).load()
        }
    }

    private func lines(_ range: Range<Int>, prefix: String = "line") -> String {
        range.map { "\(prefix)-\($0)\n" }.joined()
    }

    @Test func newFileIsPickedUpAndEveryLineArrivesOnceWithItsPath() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory)
        let task = await harness.start()
        try writeFile(directory + "/new.log", lines(0..<3))
        try writeFile(directory + "/ignored.txt", "not matched\n")
        let envelope = try #require(await harness.next())
        guard case .logs(let logs) = envelope.batch else { throw CheckpointError(description: "not logs") }
        #expect(logs.records.map(\.message) == ["line-0", "line-1", "line-2"])
        #expect(logs.records.allSatisfy { $0.metadata["file"] == directory + "/new.log" })
        #expect(logs.records.allSatisfy { $0.metadata["host"] == "test-host" })
        envelope.acknowledgement.acknowledge()
        try appendFile(directory + "/new.log", lines(3..<5))
        #expect(await harness.receive(2) == ["line-3", "line-4"])
        #expect(harness.counter("petrel_file_lines_read_total") == 5)
        try await harness.stop(task)
        #expect(await harness.queue.next() == nil, "nothing more, and nothing twice")
        #expect(
            try harness.checkpoints().map(\.offset) == [35], "every line acknowledged: the checkpoint is at the end")
    }

    @Test func renameRotationDrainsTheOldFileBeforeTheNewOne() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory)
        try writeFile(directory + "/app.log", lines(0..<50))
        let task = await harness.start()
        let writer = open(directory + "/app.log", O_WRONLY | O_APPEND)
        #expect(await harness.receive(50) == (0..<50).map { "line-\($0)" })
        // The writer logs on into its open file after the rename, then reopens: the rotated file's last lines
        // arrive before the new file's first.
        #expect(rename(directory + "/app.log", directory + "/app.log.1") == 0)
        try writeFile(directory + "/app.log", lines(60..<100))
        let tail = Array(lines(50..<60).utf8)
        #expect(tail.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) } == tail.count)
        close(writer)
        let rest = await harness.receive(50)
        #expect(rest.count == 50)
        #expect(Set(rest) == Set((50..<100).map { "line-\($0)" }), "every line once")
        #expect(rest.filter { $0 < "line-6" } == (50..<60).map { "line-\($0)" }, "the rotated file's lines in order")
        try await harness.stop(task)
        #expect(await harness.queue.next() == nil)
    }

    @Test func copyTruncateReadsAgainFromTheStartAndCountsWhatWasLost() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        // Two lines per read and one batch in flight: the tailer stops with most of the file unread.
        let harness = Harness(directory: directory) {
            $0.maxReadBytes = 14
            $0.maxUnacknowledgedBytes = 1
        }
        try writeFile(directory + "/app.log", lines(0..<10))  // 7 bytes a line
        let task = await harness.start()
        let first = try #require(await harness.next())
        #expect(Harness.messages(first) == ["line-0", "line-1"])
        // The second read is done and its batch waits for room: 28 of 70 bytes read.
        #expect(await componentEventually { harness.counter("petrel_file_lines_read_total") == 4 })
        try writeFile(directory + "/app.log", "new-0\nnew-1\n")
        first.acknowledgement.acknowledge()
        #expect(await harness.receive(4) == ["line-2", "line-3", "new-0", "new-1"])
        #expect(harness.counter("petrel_file_lost_bytes_total", reason: "truncated") == 42)
        try await harness.stop(task)
    }

    @Test func checkpointStopsAtTheFirstUnacknowledgedLineAndARestartResendsFromThere() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let configure: (inout TailerSettings) -> Void = { $0.maxReadBytes = 7 }  // one line per batch
        try writeFile(directory + "/app.log", lines(0..<5))
        let first = Harness(directory: directory, configure: configure)
        let task = await first.start()
        var envelopes: [Envelope] = []
        for _ in 0..<5 { envelopes.append(try #require(await first.next())) }
        #expect(envelopes.flatMap(Harness.messages) == (0..<5).map { "line-\($0)" })
        for index in [3, 0, 1] { envelopes[index].acknowledgement.acknowledge() }
        try await first.stop(task)
        #expect(try first.checkpoints().map(\.offset) == [14], "lines 0 and 1 are done; line 2 is not")

        let second = Harness(directory: directory, configure: configure)
        let restarted = await second.start()
        #expect(await second.receive(3) == ["line-2", "line-3", "line-4"], "only the unacknowledged window again")
        try await second.stop(restarted)
        #expect(await second.queue.next() == nil)
        #expect(try second.checkpoints().map(\.offset) == [35])
    }

    @Test func backpressureStopsReadingAndTheFileIsTheBacklog() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory) {
            $0.maxReadBytes = 1024
            $0.maxUnacknowledgedBytes = 4096
        }
        let lineCount = 5000
        try writeFile(directory + "/big.log", lines(0..<lineCount, prefix: "backlog-line"))
        let size = Int64(lines(0..<lineCount, prefix: "backlog-line").utf8.count)
        let task = await harness.start()
        var held: [Envelope] = []
        var heldBytes = 0
        while heldBytes < 3000, let envelope = await harness.next() {
            held.append(envelope)
            heldBytes += Harness.messages(envelope).reduce(0) { $0 + $1.utf8.count + 1 }
        }
        try await Task.sleep(for: .milliseconds(300))
        // However long it waits, the tailer has read at most the window and one read more.
        let readLines = Int(harness.counter("petrel_file_lines_read_total"))
        #expect(lines(0..<readLines, prefix: "backlog-line").utf8.count <= 4096 + 1024)
        #expect(await componentEventually { harness.gauge("petrel_file_unread_bytes") > size / 2 })
        for envelope in held { envelope.acknowledgement.acknowledge() }
        let rest = await harness.receive(lineCount - held.flatMap(Harness.messages).count)
        #expect((held.flatMap(Harness.messages) + rest) == (0..<lineCount).map { "backlog-line-\($0)" })
        try await harness.stop(task)
    }

    @Test func deletedFileIsReadToItsEndThenLetGo() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory)
        try writeFile(directory + "/gone.log", lines(0..<3))
        let task = await harness.start()
        #expect(await harness.receive(3) == ["line-0", "line-1", "line-2"])
        let writer = open(directory + "/gone.log", O_WRONLY | O_APPEND)
        #expect(unlink(directory + "/gone.log") == 0)
        // Written after the delete, into the still-open file, without a final newline.
        let tail = Array("line-3\nline-4 without newline".utf8)
        #expect(tail.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) } == tail.count)
        close(writer)
        #expect(await harness.receive(2) == ["line-3", "line-4 without newline"], "its last partial line too")
        #expect(await componentEventually { harness.gauge("petrel_file_open_files") == 0 })
        #expect(harness.counter("petrel_file_lost_bytes_total", reason: "deleted_before_read") == 0)
        try await harness.stop(task)
        #expect(try harness.checkpoints() == [], "a file let go has no checkpoint")
    }

    @Test func rotateWaitLetsGoOfADeletedFileAndCountsWhatWasNotRead() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory) {
            $0.maxReadBytes = 7
            $0.maxUnacknowledgedBytes = 1
            $0.rotateWait = .milliseconds(100)
        }
        try writeFile(directory + "/app.log", lines(0..<10))
        let task = await harness.start()
        let first = try #require(await harness.next())
        #expect(await componentEventually { harness.counter("petrel_file_lines_read_total") == 2 })
        #expect(unlink(directory + "/app.log") == 0)
        // Held past rotate_wait while the pipeline holds the first line: the second was read, 8 lines were not.
        try await Task.sleep(for: .milliseconds(400))
        first.acknowledgement.acknowledge()
        #expect(await componentEventually { harness.gauge("petrel_file_open_files") == 0 })
        #expect(await harness.receive(1) == ["line-1"])
        #expect(harness.counter("petrel_file_lost_bytes_total", reason: "deleted_before_read") == 56)
        try await harness.stop(task)
    }

    @Test func aCopyOfATailedFileIsNotReadTwice() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory)
        try writeFile(directory + "/a.log", lines(0..<3))
        let task = await harness.start()
        #expect(await harness.receive(3) == ["line-0", "line-1", "line-2"])
        try writeFile(directory + "/copy.log", lines(0..<3))
        try writeFile(directory + "/other.log", lines(0..<1, prefix: "other"))
        #expect(await harness.receive(1) == ["other-0"], "the copy is skipped, the new file is read")
        try await harness.stop(task)
        #expect(await harness.queue.next() == nil)
    }

    @Test func readFromEndSkipsWhatWasThereAtStartButNotNewFiles() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory) { $0.readFrom = .end }
        try writeFile(directory + "/old.log", lines(0..<3))
        let task = await harness.start()
        try appendFile(directory + "/old.log", lines(3..<4))
        #expect(await harness.receive(1) == ["line-3"])
        try writeFile(directory + "/new.log", lines(0..<1, prefix: "new"))
        #expect(await harness.receive(1) == ["new-0"])
        try await harness.stop(task)
    }

    @Test func multilineGroupsGoOutWhenCompleteOrTimedOut() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let multiline = MultilineConfig(
            startPattern: try RE2Regex.searching("^[^\\s]"), conditionPattern: try RE2Regex.searching("^\\s"),
            mode: .continueThrough, timeout: .milliseconds(200))
        let harness = Harness(directory: directory, multiline: multiline)
        let task = await harness.start()
        try writeFile(directory + "/java.log", "Exception: boom\n  at A\n  at B\nnext\n")
        #expect(await harness.receive(1) == ["Exception: boom\n  at A\n  at B"])
        #expect(await harness.receive(1) == ["next"], "the last group goes out after the timeout")
        try await harness.stop(task)
        #expect(try harness.checkpoints().map(\.offset) == [35])
    }

    @Test func inotifyPicksUpNewFilesWithoutWaitingForTheRescan() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory) { $0.globMinimumCooldown = .seconds(3600) }
        // The directories exist at start, so they are watched from the first scan; only inotify can tell of the files.
        try writeFile(directory + "/pods/a/placeholder", "")
        let task = Task {
            let output = Output(
                edges: [.init(queue: harness.queue, accepts: .all, buffers: false)], telemetry: harness.telemetry)
            let context = SourceContext(
                id: "files", output: output, telemetry: harness.telemetry, logger: Logger(label: "test.file"),
                shutdown: harness.shutdown, onReady: {})
            var tailer = FileTailer(
                discovery: GlobDiscovery(include: [directory + "/**/*.log"], exclude: []),
                settings: harness.settings, context: context
            ) { _ in FileLineDecoder(host: "h", multiline: nil) }
            try await tailer.run()
            harness.queue.producerFinished()
        }
        try await Task.sleep(for: .milliseconds(200))
        try writeFile(directory + "/pods/a/0.log", lines(0..<2))
        try writeFile(directory + "/pods/a/1.log", lines(0..<1, prefix: "one"))
        let received = await harness.receive(3)
        #expect(Set(received) == ["line-0", "line-1", "one-0"])
        try await harness.stop(task)
    }

    @Test func unreadableCheckpointFileIsSetAsideAndFilesAreReadAsNew() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory)
        try writeFile(harness.settings.checkpointDirectory + "/checkpoints", "not a checkpoint file\n")
        try writeFile(directory + "/app.log", lines(0..<2))
        let task = await harness.start()
        #expect(await harness.receive(2) == ["line-0", "line-1"])
        try await harness.stop(task)
        #expect(access(harness.settings.checkpointDirectory + "/checkpoints.corrupt", F_OK) == 0, "kept for a human")
        #expect(try harness.checkpoints().map(\.offset) == [14], "and replaced by a good one")
    }
}
