import Logging
import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a tailer needs to know, whichever source runs it.
struct TailerSettings: Sendable {
    var readFrom: FileSourceConfig.ReadFrom = .beginning
    var maxLineBytes = 32 * 1024
    var maxReadBytes = 64 * 1024
    var maxUnacknowledgedBytes = 4 * 1024 * 1024
    var rotateWait: Duration?
    var globMinimumCooldown: Duration = .seconds(1)
    var checkpointInterval: Duration = .seconds(1)
    /// Where the checkpoint file lives: `<data_dir>/checkpoints/<source id>`.
    var checkpointDirectory: String
    /// Records per batch sent.
    var maxBatchRecords = 2048
    /// How long shutdown waits for the acknowledgements of what was sent, before the last checkpoint is written.
    var shutdownAcknowledgementWait: Duration = .seconds(5)
}

/// A file the tailer holds open.
struct TailedFile {
    /// The tailer's number for this file's current contents (a new one after a truncation).
    var id: UInt64
    var path: String
    let stream: String
    /// Older files of a stream have lower numbers; the tailer reads them first.
    let sequence: Int
    let descriptor: Int32
    let device: UInt64
    let inode: UInt64
    /// `nil` until the first line is there to fingerprint; nothing is read before.
    var fingerprint: UInt64?
    /// The fingerprint is of a short file's whole contents (it went away before its first line was complete), so
    /// a first line completed later is not a rewrite.
    var fingerprintIsWholeFile = false
    var readOffset: Int64 = 0
    /// The size at the last look.
    var size: Int64 = 0
    var linkCount: UInt64 = 1
    var splitter: LineSplitter
    /// When a scan first did not find it (renamed out of the globs or deleted).
    var goneSince: ContinuousClock.Instant?
    /// Found by the first scan and not started over since: `read_from` applies to it; files that appear later
    /// are read from their start.
    var presentAtStart: Bool
}

/// Tails the files a discovery finds: reads each one in bounded chunks, splits lines, hands each stream's lines to
/// its decoder and sends the records with an acknowledgement that advances the files' checkpoints.
///
/// One task does everything (discovery, reads, sends), so reading stops while `output.send` waits: the files on
/// disk are the backlog. Memory is bounded by `maxReadBytes` per round and `maxUnacknowledgedBytes` in flight.
struct FileTailer<Discovery: FileDiscovery, Decoder: LineDecoder> {
    let discovery: Discovery
    let settings: TailerSettings
    let makeDecoder: (String) -> Decoder
    let context: SourceContext
    let telemetry: FileTelemetry
    let ledger: CheckpointLedger
    private let store: CheckpointStore
    private var loaded: [UInt64: Int64] = [:]
    private var files: [TailedFile] = []
    private var decoders: [String: Decoder] = [:]
    /// Records decoded and not yet sent: the in-flight window was full.
    private var pending: [DecodedRecord] = []
    /// Copies of open files (same fingerprint), by device and inode: not read twice.
    /// Files not read (copies of open files, gzipped files no checkpoint wants), by `identity`.
    private var ignored: Set<[UInt64]> = []
    private var nextFileID: UInt64 = 1
    private var nextSequence = 0
    /// Where the next read round starts among the streams with something to read.
    private var roundCursor = 0
    private var buffer: [UInt8]
    private var savedVersion = -1
    /// Opens new files between scans (run by `run`).
    private var opener: FileOpener<Discovery>?
    private var logger: Logger { context.logger }

    init(
        discovery: Discovery, settings: TailerSettings, context: SourceContext,
        makeDecoder: @escaping (String) -> Decoder
    ) {
        self.discovery = discovery
        self.settings = settings
        self.context = context
        self.makeDecoder = makeDecoder
        telemetry = FileTelemetry(context.telemetry)
        store = CheckpointStore(directory: settings.checkpointDirectory)
        var checkpoints: [FileCheckpoint] = []
        do {
            checkpoints = try store.load()
        } catch {
            let aside = store.setAside()
            context.logger.error(
                "Ignoring unreadable checkpoints; files without one are read per read_from",
                metadata: ["error": "\(error.description)", "moved_to": "\(aside)"])
        }
        for checkpoint in checkpoints { loaded[checkpoint.fingerprint] = checkpoint.offset }
        ledger = CheckpointLedger(maxUnacknowledgedBytes: settings.maxUnacknowledgedBytes, retained: checkpoints)
        buffer = [UInt8](repeating: 0, count: settings.maxReadBytes)
    }

    /// Runs until the source's shutdown signal fires, then waits briefly for the acknowledgements of what it sent,
    /// writes its checkpoints and closes its files.
    mutating func run() async throws {
        let watch = DirectoryWatch()
        let opener = FileOpener(discovery: discovery)
        let opening = Task { await opener.run() }
        defer { opening.cancel() }
        self.opener = opener
        scan(watch, firstScan: true)
        ledger.dropRetained()
        context.markReady()
        let ledger = self.ledger
        let shutdown = context.shutdown
        let releaser = Task {
            await shutdown.wait()
            ledger.release()
        }
        defer {
            releaser.cancel()
            for file in files { close(file.descriptor) }
            telemetry.openFiles.set(0)
        }
        var nextScan = ContinuousClock.now + settings.globMinimumCooldown
        var nextCheckpoint = ContinuousClock.now + settings.checkpointInterval
        while !shutdown.isTriggered {
            let changes = watch.changes()
            if changes.entries || ContinuousClock.now >= nextScan {
                scan(watch, firstScan: false)
                nextScan = .now + settings.globMinimumCooldown
            }
            // Reads only once everything read before is sent: what waits for room is all that is held.
            var output = pending
            let read = output.isEmpty ? readRound(into: &output) : 0
            for stream in decoders.keys.sorted() {
                decoders[stream]!.flushExpired(now: .now, into: &output)
            }
            letGo(into: &output)
            pending = try await send(output)
            if ContinuousClock.now >= nextCheckpoint {
                saveCheckpoints()
                nextCheckpoint = .now + settings.checkpointInterval
            }
            updateGauges()
            if read == 0 && !changes.data && pending.isEmpty {
                if await shutdown.sleep(for: .milliseconds(50)) { break }
            }
        }
        let deadline = ContinuousClock.now + settings.shutdownAcknowledgementWait
        while ledger.inFlightBytes > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        saveCheckpoints()
    }

    // MARK: Discovery

    /// Opens files found for the first time, follows renames, and marks files no longer found.
    private mutating func scan(_ watch: DirectoryWatch, firstScan: Bool) {
        let (found, directories) = discovery.scan()
        watch.watch(directories)
        var openedEarly = Dictionary((opener?.take() ?? []).map { ($0.key, $0) }) { first, second in
            close(second.descriptor)
            return first
        }
        var seen: Set<[UInt64]> = []
        var keysByPath: [String: [UInt64]] = [:]
        var indexByKey: [[UInt64]: Int] = [:]
        for index in files.indices { indexByKey[[files[index].device, files[index].inode]] = index }
        var fresh: [(DiscoveredFile, Int32, stat)] = []
        var moved: [(index: Int, path: String)] = []
        var compressed: [(DiscoveredFile, stat)] = []
        // A rotated file gzipped between the listing and now is looked for as `<name>.gz` in this same scan, so it
        // is read before its stream's newer files (the kubelet and `gzip` remove `<name>` once `<name>.gz` is whole).
        var queue = found[...]
        while let discovered = queue.popFirst() {
            var info = stat()
            guard stat(discovered.path, &info) == 0 else {
                if errno == ENOENT, let gzipped = discovered.gzipped { queue.append(gzipped) }
                continue
            }
            let key = [UInt64(info.st_dev), UInt64(info.st_ino)]
            seen.insert(key)
            keysByPath[discovered.path] = key
            if let index = indexByKey[key] {
                files[index].goneSince = nil
                if files[index].path != discovered.path { moved.append((index, discovered.path)) }
                continue
            }
            if ignored.contains(Self.identity(info)) { continue }
            if discovered.isCompressed {
                compressed.append((discovered, info))
                continue
            }
            if let early = openedEarly.removeValue(forKey: key) {
                fresh.append((discovered, early.descriptor, info))
                continue
            }
            let descriptor = open(discovered.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                if errno == ENOENT, let gzipped = discovered.gzipped {
                    queue.append(gzipped)
                    continue
                }
                logger.warning("Cannot open file", metadata: ["path": "\(discovered.path)", "errno": "\(errno)"])
                continue
            }
            var opened = stat()
            fstat(descriptor, &opened)
            fresh.append((discovered, descriptor, opened))
        }
        // Gzipped files last, oldest first in each stream: a stream read on from a checkpoint also needs the files
        // rotated after that one, which may have been gzipped while Petrel was down before it saved their checkpoints.
        var resumedAt: [String: String] = [:]
        for (file, descriptor, _) in fresh where !file.isCompressed && resumes(descriptor) {
            resumedAt[file.stream] = min(resumedAt[file.stream] ?? file.order, file.order)
        }
        for (file, info) in compressed.sorted(by: { ($0.0.stream, $0.0.order) < ($1.0.stream, $1.0.order) }) {
            let afterResumed = resumedAt[file.stream].map { file.order > $0 } ?? false
            guard let descriptor = unpack(file, identity: Self.identity(info), afterResumed: afterResumed) else {
                continue
            }
            fresh.append((file, descriptor, info))
            if resumes(descriptor) { resumedAt[file.stream] = min(resumedAt[file.stream] ?? file.order, file.order) }
        }
        // A file found at another path was renamed, unless its own path still leads to it (a symlink, a hard link).
        // Opened early and gone since (a short-lived pod's directory removed): read what they hold, then let go.
        for early in openedEarly.values {
            var info = stat()
            guard indexByKey[early.key] == nil, fstat(early.descriptor, &info) == 0,
                !ignored.contains(Self.identity(info))
            else {
                close(early.descriptor)
                continue
            }
            fresh.append((early.file, early.descriptor, info))
        }
        for (index, path) in moved where keysByPath[files[index].path] != [files[index].device, files[index].inode] {
            files[index].path = path
            ledger.renamed(files[index].id, to: path)
        }
        ignored = ignored.filter { seen.contains(Array($0.prefix(2))) }
        for index in files.indices.reversed()
        where files[index].fingerprint != nil && !files[index].fingerprintIsWholeFile {
            // Rewritten in place past the read offset (copy-truncate and a burst of writes before a look): the
            // first line changed.
            if let now = FileFingerprint.of(descriptor: files[index].descriptor), now != files[index].fingerprint {
                startOver(index, reason: "File was rewritten (its first line changed); reading it again from the start")
            }
        }
        for index in files.indices where !seen.contains([files[index].device, files[index].inode]) {
            if files[index].goneSince == nil { files[index].goneSince = .now }
        }
        for (discovered, descriptor, info) in fresh.sorted(by: { ($0.0.stream, $0.0.order) < ($1.0.stream, $1.0.order) }
        ) {
            files.append(
                TailedFile(
                    id: takeFileID(), path: discovered.path, stream: discovered.stream, sequence: nextSequence,
                    descriptor: descriptor, device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                    splitter: LineSplitter(maxLineBytes: settings.maxLineBytes, offset: 0),
                    // Rotated after a file its stream is read on from: read whole, whatever `read_from` says.
                    presentAtStart: firstScan && resumedAt[discovered.stream].map { discovered.order > $0 } != true))
            nextSequence += 1
            // The decoder lives from the stream's first file to its last: `kubernetes_logs` holds the pod's metadata
            // for that long, also when the pod is deleted before a line of it is read.
            if decoders[discovered.stream] == nil { decoders[discovered.stream] = makeDecoder(discovered.stream) }
            identify(files.count - 1, force: false)
        }
    }

    /// Whether the file is one a loaded checkpoint is waiting for.
    private func resumes(_ descriptor: Int32) -> Bool {
        !loaded.isEmpty && FileFingerprint.of(descriptor: descriptor).map { loaded[$0] != nil } == true
    }

    /// Unpacks a gzipped rotated file whose checkpoint says lines of it were not read (the kubelet compressed it
    /// while Petrel was down), or that was rotated after a file its stream is read on from (`afterResumed`: it may
    /// never have been read); any other compressed file is ignored. Costs nothing once every checkpoint loaded at
    /// start has found its file.
    private mutating func unpack(_ discovered: DiscoveredFile, identity: [UInt64], afterResumed: Bool) -> Int32? {
        guard !loaded.isEmpty else { return nil }
        do {
            let loaded = self.loaded
            let descriptor = try CompressedRotation.unpack(
                path: discovered.path, into: settings.checkpointDirectory,
                wanted: { fingerprint in afterResumed || loaded[fingerprint] != nil })
            if descriptor == nil { ignored.insert(identity) }
            if descriptor != nil {
                logger.info(
                    "Reading the unread rest of a rotated file compressed meanwhile",
                    metadata: ["path": "\(discovered.path)"])
            }
            return descriptor
        } catch {
            ignored.insert(identity)
            context.telemetry.error(.processing)
            logger.error(
                "Cannot read a compressed rotated file; its unread lines are lost",
                metadata: ["path": "\(discovered.path)", "error": "\(error.description)"])
            return nil
        }
    }

    /// How long a file no listing finds but still linked is kept: two scans' worth, and at least a second.
    private var renameGrace: Duration { max(.seconds(1), settings.globMinimumCooldown * 2) }

    /// Device, inode and change time: a new file that reuses the inode of one deleted since (the kubelet removes the
    /// oldest rotation and creates the new live file at once) is not taken for it.
    private static func identity(_ info: stat) -> [UInt64] {
        [
            UInt64(info.st_dev), UInt64(info.st_ino), UInt64(bitPattern: Int64(info.st_ctim.tv_sec)),
            UInt64(info.st_ctim.tv_nsec),
        ]
    }

    private mutating func takeFileID() -> UInt64 {
        defer { nextFileID += 1 }
        return nextFileID
    }

    /// Fingerprints the file and decides where reading starts; a copy of an open file is closed and ignored.
    private mutating func identify(_ index: Int, force: Bool) {
        refresh(index)
        var file = files[index]
        guard file.fingerprint == nil, file.size > 0 else { return }
        let firstLine = FileFingerprint.of(descriptor: file.descriptor)
        guard let fingerprint = firstLine ?? (force ? forcedFingerprint(file) : nil) else { return }
        file.fingerprintIsWholeFile = firstLine == nil
        if files.contains(where: { $0.fingerprint == fingerprint }) {
            logger.info(
                "Not tailing a copy of a file already tailed",
                metadata: ["path": "\(file.path)", "fingerprint": "\(fingerprint)"])
            var info = stat()
            if fstat(file.descriptor, &info) == 0 { ignored.insert(Self.identity(info)) }
            close(file.descriptor)
            files.remove(at: index)
            return
        }
        var offset: Int64 = file.presentAtStart && settings.readFrom == .end ? file.size : 0
        if let checkpoint = loaded.removeValue(forKey: fingerprint) {
            if checkpoint <= file.size {
                offset = checkpoint
            } else {
                offset = 0
                logger.warning(
                    "File is shorter than its checkpoint; reading it from the start",
                    metadata: ["path": "\(file.path)", "checkpoint": "\(checkpoint)", "size": "\(file.size)"])
            }
        }
        file.fingerprint = fingerprint
        file.readOffset = offset
        file.splitter = LineSplitter(maxLineBytes: settings.maxLineBytes, offset: offset)
        ledger.open(file.id, fingerprint: fingerprint, path: file.path, offset: offset)
        logger.debug(
            "Tailing a file",
            metadata: [
                "path": "\(file.path)", "fingerprint": "\(fingerprint)", "offset": "\(offset)",
                "inode": "\(file.inode)",
            ])
        files[index] = file
    }

    /// A fingerprint of the whole (short) file, for a file let go before its first line was complete.
    private func forcedFingerprint(_ file: TailedFile) -> UInt64? {
        withUnsafeTemporaryAllocation(byteCount: FileFingerprint.maxBytes, alignment: 1) { head in
            let count = pread(file.descriptor, head.baseAddress, head.count, 0)
            guard count > 0 else { return nil }
            return XXHash64.hash(UnsafeRawBufferPointer(rebasing: head[..<count]))
        }
    }

    /// Reads the file's size and link count; a file that shrank below what was read was truncated.
    private mutating func refresh(_ index: Int) {
        var info = stat()
        guard fstat(files[index].descriptor, &info) == 0 else { return }
        let size = Int64(info.st_size)
        files[index].linkCount = UInt64(info.st_nlink)
        if files[index].fingerprint != nil && size < files[index].readOffset {
            startOver(index, reason: "File was truncated; reading it again from the start")
        }
        files[index].size = size
    }

    /// Reads a truncated or rewritten file again from its start, as a new file; what it held unread is counted
    /// lost. Copy-truncate leaves a copy of the old contents: if it is tailed too, it starts where the old contents
    /// were left, so nothing is read twice and the rest is read from it.
    private mutating func startOver(_ index: Int, reason: String) {
        let file = files[index]
        if let old = file.fingerprint { loaded[old] = file.splitter.lineStart }
        let lost = max(0, file.size - file.splitter.lineStart)
        telemetry.lost(lost, .truncated)
        logger.warning(
            Logger.Message(stringLiteral: reason), metadata: ["path": "\(file.path)", "lost_bytes": "\(lost)"])
        ledger.close(file.id)
        files[index].id = takeFileID()
        files[index].fingerprint = nil
        files[index].fingerprintIsWholeFile = false
        files[index].presentAtStart = false
        files[index].readOffset = 0
        files[index].splitter = LineSplitter(maxLineBytes: settings.maxLineBytes, offset: 0)
    }

    // MARK: Reading

    /// Reads one chunk from each stream's oldest file with unread bytes, up to `maxUnacknowledgedBytes` in all;
    /// returns the bytes read. Each round starts one stream further along, so every stream gets its turn when
    /// there is more to read than a round takes.
    private mutating func readRound(into output: inout [DecodedRecord]) -> Int {
        // `files` is in sequence order (files are appended as found), so a stream's older files come first.
        var candidates: [Int] = []
        var streams: Set<String> = []
        var index = 0
        while index < files.count {
            let count = files.count
            if files[index].fingerprint == nil { identify(index, force: false) } else { refresh(index) }
            if files.count < count { continue }  // a copy was closed: another file is at `index` now
            let file = files[index]
            if !streams.contains(file.stream) && file.fingerprint != nil && file.size > file.readOffset {
                streams.insert(file.stream)
                candidates.append(index)
            }
            index += 1
        }
        guard !candidates.isEmpty else { return 0 }
        let start = roundCursor % candidates.count
        roundCursor &+= 1
        var total = 0
        for index in candidates[start...] + candidates[..<start] {
            guard total < settings.maxUnacknowledgedBytes else { break }
            total += readChunk(index, into: &output)
        }
        return total
    }

    private mutating func readChunk(_ index: Int, into output: inout [DecodedRecord]) -> Int {
        let file = files[index]
        let wanted = Int(min(Int64(buffer.count), file.size - file.readOffset))
        let count = buffer.withUnsafeMutableBytes {
            pread(file.descriptor, $0.baseAddress, wanted, off_t(file.readOffset))
        }
        guard count > 0 else { return 0 }
        var lines: [FileLine] = []
        var splitter = files[index].splitter
        // Leave no second reference behind, so feeding does not copy the partial line.
        files[index].splitter = LineSplitter(maxLineBytes: 0, offset: 0)
        buffer.withUnsafeBytes { bytes in
            splitter.feed(UnsafeRawBufferPointer(rebasing: bytes[..<count])) { lines.append($0) }
        }
        files[index].splitter = splitter
        files[index].readOffset += Int64(count)
        deliver(lines, of: index, into: &output)
        return count
    }

    /// Records lines read from a file in the ledger and hands them to their stream's decoder.
    private mutating func deliver(_ lines: [FileLine], of index: Int, into output: inout [DecodedRecord]) {
        guard !lines.isEmpty else { return }
        let file = files[index]
        ledger.issue(lines.map { FileSpan(file: file.id, range: $0.range) })
        telemetry.linesRead.increment(by: lines.count)
        var decoder = decoders.removeValue(forKey: file.stream) ?? makeDecoder(file.stream)
        for line in lines {
            if line.truncatedBytes > 0 {
                telemetry.lost(Int64(line.truncatedBytes), .lineTooLong)
                logger.warning(
                    "Line longer than max_line_bytes was truncated",
                    metadata: [
                        "path": "\(file.path)", "offset": "\(line.range.lowerBound)",
                        "lost_bytes": "\(line.truncatedBytes)",
                    ])
            }
            decoder.decode(SourcedLine(line: line, file: file.id, path: file.path), into: &output)
        }
        decoders[file.stream] = decoder
    }

    // MARK: Letting go

    /// Closes files that are gone (renamed out of the globs or deleted) once drained, or once `rotate_wait` has
    /// passed (counting what was left unread); a stream whose last file goes hands over what its decoder held.
    private mutating func letGo(into output: inout [DecodedRecord]) {
        var index = 0
        while index < files.count {
            refresh(index)
            let file = files[index]
            // Missed by the listings a short while only, and still linked: renamed while a directory was listed
            // (readdir may then return neither name). The next scans find it under its new name; letting go of it
            // now would read it again from the start when they do.
            let missedLately =
                file.linkCount > 0 && file.goneSince.map { ContinuousClock.now - $0 < renameGrace } == true
            guard file.goneSince != nil || file.linkCount == 0, !missedLately else {
                index += 1
                continue
            }
            if file.fingerprint == nil && file.size > 0 {
                let count = files.count
                identify(index, force: true)
                if files.count == count { index += 1 }
                continue
            }
            let goneSince = file.goneSince ?? .now
            if file.readOffset >= file.size {
                if let line = files[index].splitter.finish() { deliver([line], of: index, into: &output) }
            } else if let wait = settings.rotateWait, ContinuousClock.now - goneSince >= wait {
                let lost = file.size - file.splitter.lineStart
                let reason: LostBytesReason = file.linkCount == 0 ? .deletedBeforeRead : .rotatedBeforeRead
                telemetry.lost(lost, reason)
                logger.warning(
                    "Letting go of a file not read to its end after rotate_wait",
                    metadata: ["path": "\(file.path)", "lost_bytes": "\(lost)", "reason": "\(reason.rawValue)"])
            } else {
                index += 1
                continue
            }
            logger.debug("Letting go of a file", metadata: ["path": "\(file.path)", "read": "\(file.readOffset)"])
            close(file.descriptor)
            ledger.close(file.id)
            files.remove(at: index)
            if !files.contains(where: { $0.stream == file.stream }),
                var decoder = decoders.removeValue(forKey: file.stream)
            {
                decoder.flush(into: &output)
            }
        }
    }

    // MARK: Sending

    /// Sends the records in batches, each with an acknowledgement that marks its lines delivered; waits while a
    /// queue downstream is full. Returns the records not sent because the in-flight window stayed full for a
    /// moment: the loop looks after its files (scans, `rotate_wait`) and tries again.
    private func send(_ decoded: [DecodedRecord]) async throws -> [DecodedRecord] {
        var start = 0
        while start < decoded.count {
            let end = min(decoded.count, start + settings.maxBatchRecords)
            let slice = decoded[start..<end]
            let spans = slice.flatMap(\.spans)
            let records = slice.compactMap(\.record)
            guard !records.isEmpty else {
                ledger.acknowledged(spans, bytes: 0)
                start = end
                continue
            }
            let bytes = spans.reduce(0) { $0 + Int($1.range.count) }
            guard ledger.tryReserve(bytes) else {
                await ledger.waitForAcknowledgement(timeout: .milliseconds(100))
                if ledger.tryReserve(bytes) == false { return Array(decoded[start...]) }
                try await send(records, spans: spans, bytes: bytes)
                start = end
                continue
            }
            try await send(records, spans: spans, bytes: bytes)
            start = end
        }
        return []
    }

    private func send(_ records: [LogRecord], spans: [FileSpan], bytes: Int) async throws {
        let ledger = self.ledger
        // The files are read again from the checkpoint after a crash: only delivery may move it past a memory buffer.
        let acknowledgement = Acknowledgement(untilDelivered: true) { ledger.acknowledged(spans, bytes: bytes) }
        context.telemetry.receivedEvents.increment(by: records.count)
        context.telemetry.receivedBytes.increment(by: bytes)
        try await context.output.send(Envelope(.logs(LogBatch(records: records)), acknowledgement: acknowledgement))
    }

    // MARK: Checkpoints and gauges

    private mutating func saveCheckpoints() {
        let (version, checkpoints) = ledger.checkpoints()
        guard version != savedVersion else { return }
        do {
            try store.save(checkpoints)
            savedVersion = version
        } catch {
            context.telemetry.error(.processing)
            logger.error("Cannot write checkpoints", metadata: ["error": "\(error.description)"])
        }
    }

    private func updateGauges() {
        telemetry.openFiles.set(files.count)
        telemetry.unreadBytes.set(Int(files.reduce(Int64(0)) { $0 + max(0, $1.size - $1.readOffset) }))
    }
}
