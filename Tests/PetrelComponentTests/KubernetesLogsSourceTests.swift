import Logging
import PetrelCodecs
import PetrelCore
import PetrelTestSupport
import Synchronization
import Testing

@testable import PetrelSources

#if canImport(Glibc)
import Glibc
#endif

/// The `kubernetes_logs` source on a temp directory laid out as `/var/log/pods`, with a queue the test acknowledges
/// as a sink buffer would; and with pod metadata from the scripted API server.
@Suite struct KubernetesLogsSourceTests {
    /// A source over `<directory>/pods` wired to one queue.
    final class Harness: Sendable {
        let directory: String
        let queue: BatchQueue
        let telemetry = componentTestTelemetry(id: "pods", type: "kubernetes_logs", kind: .source)
        let shutdown = ShutdownSignal()
        let source: KubernetesLogsSource
        let ready = Atomic<Bool>(false)

        init(
            directory: String, api: KubernetesAPIConfig? = nil, metadata: PodMetadataIndex = PodMetadataIndex(),
            readFrom: FileSourceConfig.ReadFrom = .beginning, queueCapacity: Int = 100_000
        ) {
            self.directory = directory
            queue = BatchQueue(capacity: queueCapacity, producers: 1)
            var config = KubernetesLogsSourceConfig(nodeName: "node-a")
            config.tailing.readFrom = readFrom
            config.podsRoot = directory + "/pods"
            config.tailing.globMinimumCooldown = .milliseconds(100)
            config.tailing.checkpointInterval = .milliseconds(50)
            config.kubernetesAPI = api
            source = KubernetesLogsSource(
                config: config, checkpointDirectory: directory + "/data/checkpoints/pods", metadata: metadata)
        }

        var podsRoot: String { directory + "/pods" }

        /// What the tailer's listings are: the pods' directories as they are, or as a lagging listing shows them.
        enum Listing {
            case asTheyAre
            case gzippedFilesAsPlain
            case hiding(HiddenPaths)
        }

        func start(listing: Listing = .asTheyAre) async -> Task<Void, any Error> {
            let output = Output(edges: [.init(queue: queue, accepts: .all, buffers: false)], telemetry: telemetry)
            let context = SourceContext(
                id: "pods", output: output, telemetry: telemetry, logger: Logger(label: "test.kubernetes_logs"),
                shutdown: shutdown, onReady: { self.ready.store(true, ordering: .relaxed) })
            let discovery = PodLogDiscovery(
                podsRoot: podsRoot, include: source.config.include, exclude: source.config.exclude)
            let task = Task {
                switch listing {
                case .asTheyAre: try await source.run(context)
                case .gzippedFilesAsPlain: try await source.run(context, discovery: ListedBeforeGzip(inner: discovery))
                case .hiding(let hidden):
                    try await source.run(context, discovery: ListingMisses(inner: discovery, hidden: hidden))
                }
                queue.producerFinished()
            }
            _ = await componentEventually { ready.load(ordering: .relaxed) }
            return task
        }

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

        /// Receives and acknowledges envelopes until `count` records came.
        func receive(_ count: Int) async -> [LogRecord] {
            var records: [LogRecord] = []
            while records.count < count, let envelope = await next() {
                if case .logs(let logs) = envelope.batch { records += logs.records }
                envelope.acknowledgement.acknowledge()
            }
            return records
        }

        func counter(_ name: String) -> UInt64 {
            telemetry.registry.counter(
                name, help: "", labels: [("component_id", "pods"), ("component_type", "kubernetes_logs")]
            ).value
        }

        func stop(_ task: Task<Void, any Error>) async throws {
            shutdown.trigger()
            try await task.value
        }

        func checkpoints() throws -> [String: Int64] {
            let loaded = try CheckpointStore(directory: directory + "/data/checkpoints/pods").load()
            return Dictionary(loaded.map { (String($0.path.dropFirst(podsRoot.count)), $0.offset) }) { $1 }
        }
    }

    static func cri(_ messages: [String], tag: String = "F", at second: Int = 0) -> String {
        messages.map { "2026-12-06T10:15:\(10 + second).000000001Z stdout \(tag) \($0)\n" }.joined()
    }

    static func docker(_ messages: [String]) -> String {
        messages.map { #"{"log":"\#($0)\n","stream":"stderr","time":"2026-12-06T10:15:42.5Z"}"# + "\n" }.joined()
    }

    static func size(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : -1
    }

    @Test func everyLineOnceWithItsPodAndARotationMidLineGivesOneRecord() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory)
        let web = harness.podsRoot + "/shop_web-1_uid-a/app"
        let job = harness.podsRoot + "/batch_job-1_uid-b/main"
        try writeFile(web + "/0.log", Self.cri((0..<50).map { "a-\($0)" }))
        try writeFile(web + "/1.log", Self.cri(["a1-0"]))
        try writeFile(job + "/0.log", Self.docker((0..<20).map { "b-\($0)" }))
        let task = await harness.start()

        let first = await harness.receive(71)
        #expect(first.count == 71)
        #expect(Set(first.map(\.message)).count == 71, "no line twice")
        for record in first {
            let isWeb = record.message.hasPrefix("a")
            #expect(record.resource["k8s.namespace.name"] == .string(isWeb ? "shop" : "batch"))
            #expect(record.resource["k8s.pod.name"] == .string(isWeb ? "web-1" : "job-1"))
            #expect(record.resource["k8s.pod.uid"] == .string(isWeb ? "uid-a" : "uid-b"))
            #expect(record.resource["k8s.container.name"] == .string(isWeb ? "app" : "main"))
            #expect(record.resource["k8s.container.restart_count"] == .int(record.message.hasPrefix("a1-") ? 1 : 0))
            #expect(record.resource["k8s.node.name"] == .string("node-a"))
            #expect(record.fields["log.iostream"] == .string(isWeb ? "stdout" : "stderr"))
        }
        #expect(first.filter { $0.message.hasPrefix("a-") }.map(\.message) == (0..<50).map { "a-\($0)" }, "in order")

        // The kubelet rotates while the container is in the middle of a long line.
        try appendFile(web + "/0.log", Self.cri(["split-"], tag: "P", at: 1))
        #expect(await componentEventually { harness.counter("petrel_file_lines_read_total") == 72 })
        #expect(rename(web + "/0.log", web + "/0.log.20261206-101511") == 0)
        try writeFile(web + "/0.log", Self.cri(["across", "a-50"], at: 2))
        // A pod started after the source is found too.
        try writeFile(harness.podsRoot + "/shop_new-1_uid-c/app/0.log", Self.cri(["c-0"]))
        let later = await harness.receive(3)
        #expect(Set(later.map(\.message)) == ["split-across", "a-50", "c-0"])
        #expect(later.first { $0.message == "split-across" }?.timestamp == 1_796_552_111_000_000_001)
        try await harness.stop(task)
        #expect(await harness.queue.next() == nil, "nothing more, nothing twice")
        let checkpoints = try harness.checkpoints()
        for path in [
            "/shop_web-1_uid-a/app/0.log.20261206-101511", "/shop_web-1_uid-a/app/0.log",
            "/shop_web-1_uid-a/app/1.log", "/batch_job-1_uid-b/main/0.log", "/shop_new-1_uid-c/app/0.log",
        ] {
            #expect(checkpoints[path] == Self.size(harness.podsRoot + path), "\(path): all acknowledged")
        }
    }

    /// The kubelet rotates and gzips as it does while Petrel is down (a restart, `kill -9`): the gzipped file's unread
    /// lines are read from where the checkpoint left them, a split line across the rotation is whole, and a gzipped
    /// file already read to its end is not read again.
    @Test func aRotatedFileGzippedWhilePetrelWasDownIsReadOnFromItsCheckpoint() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let web = directory + "/pods/shop_web-1_uid-a/app"
        let job = directory + "/pods/batch_job-1_uid-b/main"
        let webFirst = Self.cri((0..<10).map { "a-\($0)" })
        let jobFirst = Self.cri((0..<5).map { "b-\($0)" })
        try writeFile(web + "/0.log", webFirst)
        try writeFile(job + "/0.log", jobFirst)
        let before = Harness(directory: directory)
        let first = await before.start()
        #expect(await before.receive(15).count == 15)
        try await before.stop(first)

        // Down meanwhile: the container writes on, the kubelet rotates and gzips (`<name>.gz`, the plain file gone).
        let webRest = Self.cri((10..<15).map { "a-\($0)" }) + Self.cri(["split-"], tag: "P", at: 1)
        try Self.gzipRotated(web + "/0.log.20261206-101511", contents: webFirst + webRest)
        try writeFile(web + "/0.log", Self.cri(["across", "a-15"], at: 2))
        try Self.gzipRotated(job + "/0.log.20261206-101511", contents: jobFirst)
        try writeFile(job + "/0.log", Self.cri(["b-5"]))
        #expect(unlink(web + "/0.log.20261206-101511") != 0 && unlink(job + "/0.log.20261206-101511") != 0)

        let after = Harness(directory: directory)
        let second = await after.start()
        let records = await after.receive(8)
        #expect(
            records.filter { $0.message.hasPrefix("a-") || $0.message.hasPrefix("split") }.map(\.message)
                == (10..<15).map { "a-\($0)" } + ["split-across", "a-15"], "the rest, in order, the split line whole")
        #expect(records.filter { $0.message.hasPrefix("b-") }.map(\.message) == ["b-5"])
        try await after.stop(second)
        #expect(await after.queue.next() == nil, "nothing twice")
        #expect(after.counter("petrel_file_lines_read_total") == 9, "the gzipped file from its checkpoint")
    }

    /// The first piece of a split line ends a rotated file that the kubelet gzips (deleting it) while its last piece
    /// has not come yet, and Petrel stops: the file's checkpoint outlives the file, so the next run reads the piece
    /// again from the gzipped copy and the line arrives whole.
    @Test func aRotatedFileLetGoWithAPieceOutstandingKeepsItsCheckpoint() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let web = directory + "/pods/shop_web-1_uid-a/app"
        let first = Self.cri(["a-0"]) + Self.cri(["split-"], tag: "P", at: 1)
        try writeFile(web + "/0.log", first)
        let before = Harness(directory: directory)
        let task = await before.start()
        #expect(await before.receive(1).map(\.message) == ["a-0"])
        #expect(await componentEventually { before.counter("petrel_file_lines_read_total") == 2 })
        #expect(rename(web + "/0.log", web + "/0.log.20261206-101511") == 0)
        try Self.gzipRotated(web + "/0.log.20261206-101511", contents: first)
        #expect(unlink(web + "/0.log.20261206-101511") == 0)
        try await Task.sleep(for: .milliseconds(500))
        try await before.stop(task)
        // Its path is for people (here the one it was opened at, as it was deleted before a scan saw the rename).
        #expect(
            Array(try before.checkpoints().values) == [Int64(Self.cri(["a-0"]).utf8.count)],
            "the deleted file's checkpoint stands before its unfinished line")

        try writeFile(web + "/0.log", Self.cri(["across", "a-1"], at: 2))
        let after = Harness(directory: directory)
        let second = await after.start()
        #expect(await after.receive(2).map(\.message) == ["split-across", "a-1"])
        try await after.stop(second)
        #expect(await after.queue.next() == nil, "nothing twice")
    }

    /// Down (a `kill -9` and a restart) while the kubelet rotated twice and gzipped both files: the one read on from
    /// its checkpoint, and the one rotated after it, which Petrel never saw. Both are read, in order, the second whole,
    /// and the line split between them arrives whole.
    @Test func aFileRotatedAndGzippedAfterTheCheckpointedOneIsReadWhole() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let web = directory + "/pods/shop_web-1_uid-a/app"
        let first = Self.cri((0..<3).map { "a-\($0)" })
        try writeFile(web + "/0.log", first)
        let before = Harness(directory: directory)
        let task = await before.start()
        #expect(await before.receive(3).count == 3)
        try await before.stop(task)

        #expect(unlink(web + "/0.log") == 0)
        try Self.gzipRotated(
            web + "/0.log.20261206-101511", contents: first + Self.cri(["a-3"]) + Self.cri(["split-"], tag: "P", at: 1))
        try Self.gzipRotated(web + "/0.log.20261206-101512", contents: Self.cri(["across", "a-4", "a-5"], at: 2))
        try writeFile(web + "/0.log", Self.cri(["a-6"], at: 3))
        let after = Harness(directory: directory, readFrom: .end)
        let second = await after.start()
        #expect(await after.receive(5).map(\.message) == ["a-3", "split-across", "a-4", "a-5", "a-6"])
        try await after.stop(second)
        #expect(await after.queue.next() == nil, "nothing twice")
    }

    /// After a restart a gzipped rotation no checkpoint wants is passed over; the kubelet then removes it (the oldest
    /// rotation) and creates the new live file at once, which on ext4 takes the freed inode. The new file is read all
    /// the same: what was passed over is known by its inode and its change time, not its inode alone.
    @Test func aNewFileThatReusesThePassedOverGzipsInodeIsRead() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let web = directory + "/pods/shop_web-1_uid-a/app"
        try writeFile(web + "/0.log", Self.cri(["a-0"]))
        let before = Harness(directory: directory)
        let task = await before.start()
        #expect(await before.receive(1).map(\.message) == ["a-0"])
        try await before.stop(task)

        let oldest = web + "/0.log.20261206-101509"
        try Self.gzipRotated(oldest, contents: Self.cri(["old-0"]))
        var gzipped = stat()
        #expect(stat(oldest + ".gz", &gzipped) == 0)
        let after = Harness(directory: directory)
        let second = await after.start()
        #expect(await componentEventually { after.ready.load(ordering: .relaxed) })
        try await Task.sleep(for: .milliseconds(300))

        // The kubelet's rotation: the oldest rotation removed, the live file renamed, a new live file.
        try appendFile(web + "/0.log", Self.cri(["a-1"]))
        #expect(unlink(oldest + ".gz") == 0)
        #expect(rename(web + "/0.log", web + "/0.log.20261206-101511") == 0)
        try writeFile(web + "/0.log", Self.cri(["a-2"], at: 1))
        var live = stat()
        #expect(stat(web + "/0.log", &live) == 0)
        // Tests running beside this one may take the freed inode first; then only the rotation itself is checked.
        if live.st_ino != gzipped.st_ino { print("the new live file did not get the removed .gz's inode this time") }
        #expect(await after.receive(2).map(\.message) == ["a-1", "a-2"])
        try await after.stop(second)
        #expect(await after.queue.next() == nil, "nothing twice")
    }

    /// Paths a listing leaves out for a while: a file renamed while its directory was read (readdir may return
    /// neither its old name nor its new one).
    final class HiddenPaths: Sendable {
        let hidden = Mutex<(suffix: String, until: ContinuousClock.Instant)?>(nil)

        func hide(suffix: String, for duration: Duration) {
            hidden.withLock { $0 = (suffix, .now + duration) }
        }

        func hides(_ path: String) -> Bool {
            hidden.withLock { hidden in
                hidden.map { path.hasSuffix($0.suffix) && ContinuousClock.now < $0.until } ?? false
            }
        }
    }

    struct ListingMisses: FileDiscovery {
        let inner: PodLogDiscovery
        let hidden: HiddenPaths

        func scan() -> (files: [DiscoveredFile], directories: [String]) {
            let (files, directories) = inner.scan()
            return (files.filter { !hidden.hides($0.path) }, directories)
        }
    }

    /// The kubelet rotates while the tailer lists the directory, and the listing misses the renamed file (neither
    /// name); the next listings find it under its new name. It is not let go meanwhile, so it is not read again.
    @Test func aRotatedFileMissedByAListingIsNotReadAgain() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let web = directory + "/pods/shop_web-1_uid-a/app"
        try writeFile(web + "/0.log", Self.cri((0..<3).map { "a-\($0)" }))
        let harness = Harness(directory: directory)
        let hidden = HiddenPaths()
        let task = await harness.start(listing: .hiding(hidden))
        #expect(await harness.receive(3).count == 3)
        hidden.hide(suffix: "/0.log.20261206-101511", for: .milliseconds(400))
        #expect(rename(web + "/0.log", web + "/0.log.20261206-101511") == 0)
        try writeFile(web + "/0.log", Self.cri(["a-3"], at: 1))
        #expect(await harness.receive(1).map(\.message) == ["a-3"])
        try await Task.sleep(for: .milliseconds(800))
        try await harness.stop(task)
        #expect(await harness.queue.next() == nil, "nothing twice")
    }

    /// A listing of the pods' directories taken just before the kubelet (or `gzip`) removed a rotated file it had
    /// compressed: the plain name is listed, and only the `.gz` is there.
    struct ListedBeforeGzip: FileDiscovery {
        let inner: PodLogDiscovery

        func scan() -> (files: [DiscoveredFile], directories: [String]) {
            let (files, directories) = inner.scan()
            let listed = files.map { file in
                guard file.isCompressed else { return file }
                return DiscoveredFile(
                    path: String(file.path.dropLast(3)), stream: file.stream, order: file.order, gzipPath: file.path)
            }
            return (listed, directories)
        }
    }

    /// Petrel restarts while the kubelet compresses a rotated file it must read on from its checkpoint: the scan
    /// lists the plain file, which is gone when it is opened. Its `.gz` is read in the same scan, before the stream's
    /// live file, so the unread lines arrive and the line split across the rotation is whole.
    @Test func aRotatedFileGzippedBetweenTheListingAndItsOpeningIsReadFromItsGzip() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let web = directory + "/pods/shop_web-1_uid-a/app"
        let first = Self.cri((0..<3).map { "a-\($0)" })
        try writeFile(web + "/0.log", first)
        let before = Harness(directory: directory)
        let task = await before.start()
        #expect(await before.receive(3).count == 3)
        try await before.stop(task)

        try Self.gzipRotated(
            web + "/0.log.20261206-101511", contents: first + Self.cri(["a-3"]) + Self.cri(["split-"], tag: "P", at: 1))
        try writeFile(web + "/0.log", Self.cri(["across", "a-4"], at: 2))
        let after = Harness(directory: directory)
        let second = await after.start(listing: .gzippedFilesAsPlain)
        #expect(await after.receive(3).map(\.message) == ["a-3", "split-across", "a-4"])
        try await after.stop(second)
        #expect(await after.queue.next() == nil, "nothing twice")
    }

    /// Writes `contents` gzipped to `<path>.gz`, as the kubelet leaves a rotated file it compressed.
    static func gzipRotated(_ path: String, contents: String) throws {
        let compressed = Zlib.compress(Array(contents.utf8), format: .gzip)
        let descriptor = open(path + ".gz", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(descriptor) }
        let written = compressed.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        #expect(written == compressed.count)
    }

    /// A pod that lives a moment and whose directory is removed while the tailer waits for room downstream: its
    /// file was opened as it appeared, so its lines are read all the same.
    @Test func aShortLivedPodRemovedWhileTheTailerWaitsIsReadAllTheSame() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory, queueCapacity: 1)
        let web = harness.podsRoot + "/shop_web-1_uid-a/app/0.log"
        try writeFile(web, Self.cri(["a-0"]))
        let task = await harness.start()
        #expect(await componentEventually { harness.counter("petrel_file_lines_read_total") == 1 })
        // The queue holds one batch and nobody takes it: the tailer's next send waits.
        try appendFile(web, Self.cri(["a-1"]))
        #expect(await componentEventually { harness.counter("petrel_file_lines_read_total") == 2 })
        let job = harness.podsRoot + "/batch_job-1_uid-b"
        try writeFile(job + "/main/0.log", Self.cri(["b-0", "b-1"]))
        try await Task.sleep(for: .milliseconds(500))
        removeTree(job)

        let records = await harness.receive(4)
        #expect(records.map(\.message).sorted() == ["a-0", "a-1", "b-0", "b-1"])
        try await harness.stop(task)
        #expect(await harness.queue.next() == nil, "nothing twice")
    }

    @Test func recordsCarryPodMetadataAlsoForAPodDeletedBeforeItsFileWasRead() async throws {
        let api = try await PodWatcherTests.Harness()
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let metadata = PodMetadataIndex()
        let harness = Harness(directory: directory, api: try api.config(), metadata: metadata)
        let web = KubernetesFixtures.pod(
            name: "web-5f7c9d8b4-abcde", uid: "uid-web", resourceVersion: "90", labels: ["app": "web"],
            annotations: ["team": "checkout"], owner: ("ReplicaSet", "web-5f7c9d8b4"), templateHash: "5f7c9d8b4")
        let backup = { (version: String, deleting: Bool) in
            KubernetesFixtures.pod(
                name: "backup-29412360-x7p2k", uid: "uid-job", resourceVersion: version, labels: ["app": "backup"],
                owner: ("Job", "backup-29412360"), deleting: deleting)
        }
        let petrel = KubernetesFixtures.pod(
            name: "petrel-x9k2p", namespace: "observability", uid: "uid-petrel", resourceVersion: "92",
            labels: ["app.kubernetes.io/name": "petrel"], owner: ("DaemonSet", "petrel"))
        api.server.enqueue(
            .json(
                status: 200,
                body: KubernetesFixtures.podList(resourceVersion: "100", pods: [web, backup("91", false), petrel])),
            .stream([.pause, .event(KubernetesFixtures.event("DELETED", backup("101", true)))]))
        let webLog = harness.podsRoot + "/shop_web-5f7c9d8b4-abcde_uid-web/app/0.log"
        let backupDirectory = harness.podsRoot + "/shop_backup-29412360-x7p2k_uid-job"
        let petrelLog = harness.podsRoot + "/observability_petrel-x9k2p_uid-petrel/petrel/0.log"
        try writeFile(webLog, Self.cri(["web-0", "web-1"]))
        try writeFile(petrelLog, Self.cri(["petrel's own line"]))
        // The backup pod's first line is not complete yet: its file is open, not one line of it read.
        try writeFile(backupDirectory + "/main/0.log", "2026-12-06T10:15:40Z stdout F backup-0")
        let task = await harness.start()

        let webRecords = await harness.receive(2)
        #expect(webRecords.map(\.message) == ["web-0", "web-1"])
        for record in webRecords {
            #expect(record.resource["k8s.pod.name"] == .string("web-5f7c9d8b4-abcde"))
            #expect(record.resource["k8s.pod.label.app"] == .string("web"))
            #expect(record.resource["k8s.pod.label.pod-template-hash"] == .string("5f7c9d8b4"))
            #expect(record.resource["k8s.pod.annotation.team"] == .string("checkout"))
            #expect(record.resource["k8s.deployment.name"] == .string("web"))
            #expect(record.resource["cloud.availability_zone"] == .string("eu-west-1b"))
            #expect(record.resource["cloud.region"] == .string("eu-west-1"))
            #expect(record.resource["host.type"] == .string("m6i.large"))
        }
        #expect(
            await componentEventually { harness.counter("petrel_file_lines_read_total") == 3 }, "petrel's line read")

        api.server.resume()
        #expect(await componentEventually { metadata.pod(uid: "uid-job")?.isDeleted == true }, "deleted, still held")
        try appendFile(backupDirectory + "/main/0.log", "\n" + Self.cri(["backup-1"]))
        let backupRecords = await harness.receive(2)
        #expect(backupRecords.map(\.message) == ["backup-0", "backup-1"])
        for record in backupRecords {
            #expect(record.resource["k8s.pod.name"] == .string("backup-29412360-x7p2k"))
            #expect(record.resource["k8s.pod.label.app"] == .string("backup"))
            #expect(record.resource["k8s.cronjob.name"] == .string("backup"))
            #expect(record.resource["cloud.availability_zone"] == .string("eu-west-1b"))
        }
        // The kubelet removes the pod's directory: once its file is read to the end, the metadata goes.
        removeTree(backupDirectory)
        #expect(await componentEventually { metadata.pod(uid: "uid-job") == nil }, "released when the stream ended")
        #expect(metadata.pod(uid: "uid-web") != nil)

        try await harness.stop(task)
        await api.stop()
        #expect(await harness.queue.next() == nil, "no record of Petrel's own pod, nothing twice")
        let checkpoints = try harness.checkpoints()
        #expect(
            checkpoints["/observability_petrel-x9k2p_uid-petrel/petrel/0.log"] == Self.size(petrelLog),
            "its line is passed over, acknowledged without a record")
        #expect(checkpoints["/shop_web-5f7c9d8b4-abcde_uid-web/app/0.log"] == Self.size(webLog))
    }

    @Test func readFromEndSkipsWhatIsThereAtStartupAlsoAfterWaitingForTheFirstList() async throws {
        let api = try await PodWatcherTests.Harness()
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let harness = Harness(directory: directory, api: try api.config(), readFrom: .end)
        let web = KubernetesFixtures.pod(
            name: "web-5f7c9d8b4-abcde", uid: "uid-web", resourceVersion: "90", labels: ["app": "web"])
        // The source waits for the LIST before the tailer's first scan: what that scan finds was there at startup.
        api.server.enqueue(.json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "100", pods: [web])))
        let log = harness.podsRoot + "/shop_web-5f7c9d8b4-abcde_uid-web/app/0.log"
        try writeFile(log, Self.cri(["old-0", "old-1"]))
        let task = await harness.start()
        try appendFile(log, Self.cri(["new-0"]))
        let records = await harness.receive(1)
        #expect(records.map(\.message) == ["new-0"])
        #expect(records.first?.resource["k8s.pod.label.app"] == .string("web"))
        try await harness.stop(task)
        await api.stop()
        #expect(await harness.queue.next() == nil, "the lines there at startup are not read")
    }
}
