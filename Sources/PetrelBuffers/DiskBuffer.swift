import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The storage engine of a sink's disk buffer: a FIFO of byte records on disk that survives restarts and crashes.
///
/// The sink appends serialized batches, reads them back in order with `next()`, and acknowledges each once it is
/// delivered, in any order. Acknowledgement is kept as a position: the start of the first unacknowledged record.
/// After a restart, whether after `close()` or `kill -9`, delivery resumes there, so every record not acknowledged
/// comes again; a record acknowledged in the last second before a crash may come twice (at-least-once).
///
/// Blocking file I/O runs on two serial dispatch queues per buffer, never on Swift's cooperative pool: one for
/// everything that changes files (appends, fsync, segment creation and deletion, the ledger), one for reads, so a
/// slow fsync does not hold up delivery. The bookkeeping they share sits behind a mutex and is updated only after
/// the I/O succeeded, so the reader never sees bytes that are not completely written.
///
/// ## On-disk format, version 1
///
/// Integers are little-endian. The directory holds segment files named by a 20-digit id that only increases
/// (`00000000000000000001.seg`), and a ledger. A segment starts with a 24-byte header:
///
///     0   8  magic "PETRELSG"
///     8   4  format version (1)
///     12  8  sequence number of the segment's first record
///     20  4  CRC32C of bytes 0..<20
///
/// Records follow back to back, each a 28-byte header and the payload:
///
///     0   4  marker FF 50 42 52 ("\xFFPBR"): what a resynchronising scan looks for
///     4   4  CRC32C of bytes 8..<28+N, the fields below and the payload
///     8   4  payload length N
///     12  8  sequence number, consecutive across segments: a gap means records were lost to damage
///     20  8  write time, wall clock, nanoseconds since the Unix epoch
///     28  N  payload
///
/// Only the newest (active) segment is appended to; a segment is deleted once every record in it is acknowledged
/// and it is no longer the active one. The `ledger` is 80 bytes:
///
///     0   8  magic "PETRELLG"
///     8   4  format version (1)
///     12  8  acknowledged position, segment id: where the first unacknowledged record starts
///     20  8  acknowledged position, offset
///     28  8  sequence number of that record, 2^64-1 if unknown
///     36  8  read position, segment id (read and written positions are for diagnostics)
///     44  8  read position, offset
///     52  8  written position, segment id
///     60  8  written position, offset
///     68  8  next sequence number to write
///     76  4  CRC32C of bytes 0..<76
///
/// It is replaced atomically (written to `ledger.tmp`, fsynced, renamed over, directory fsynced) when segments are
/// deleted, on `close()`, and otherwise at most once a second while the acknowledged position moves.
///
/// ## Damage
///
/// Opening scans the active segment to its end: bytes after its last good record are a torn write and are cut off,
/// so appends continue cleanly. A record that fails its checksum or has an impossible length is skipped when read:
/// the reader scans forward for the next offset where a header parses and its checksum matches, or else moves on to
/// the next segment. Skipped records count as acknowledged. Both kinds count in `statistics.recordsCorrupted` and are
/// described through the `diagnostics` callback. A missing or damaged ledger means delivery starts over from the
/// oldest segment.
public final class DiskBuffer: Sendable {
    public let configuration: DiskBufferConfiguration
    private let diagnostics: (@Sendable (String) -> Void)?
    private let directory: BufferDirectory
    private let state: Mutex<BufferState>
    private let writer: Mutex<WriterContext>
    private let reader = Mutex(ReaderContext())
    /// Everything that changes files, in order: appends, fsync, segment creation and deletion, the ledger.
    private let writeQueue: DispatchQueue
    private let readQueue = DispatchQueue(label: "petrel.disk-buffer.read")

    /// Opens the buffer in `configuration.directory`, creating it if needed and recovering what an earlier run left.
    /// `diagnostics` hears about damage found and repaired, in words fit for a log.
    public init(_ configuration: DiskBufferConfiguration, diagnostics: (@Sendable (String) -> Void)? = nil)
        async throws(DiskBufferError)
    {
        try configuration.validate()
        let writeQueue = DispatchQueue(label: "petrel.disk-buffer.write")
        let opened = await Self.perform(on: writeQueue) {
            Result { () throws(DiskBufferError) in try Recovery.open(configuration) { diagnostics?($0) } }
        }
        let recovered = try opened.get()
        self.configuration = configuration
        self.diagnostics = diagnostics
        self.directory = recovered.directory
        self.state = Mutex(recovered.state)
        self.writer = Mutex(WriterContext(fd: recovered.writerFD))
        self.writeQueue = writeQueue
        scheduleTick()
    }

    deinit {
        writer.withLock { if $0.fd >= 0 { FileIO.closeFile($0.fd) } }
        reader.withLock { if $0.fd >= 0 { FileIO.closeFile($0.fd) } }
        FileIO.closeFile(directory.fd)
    }

    public var statistics: DiskBufferStatistics { state.withLock { $0.statistics } }

    /// Stores `records` after those of every earlier `append`: all of them, or none when it throws. With
    /// `FsyncPolicy.always` they are durable when it returns, with a single fsync for the whole array.
    ///
    /// Throws `full` when they do not fit now (see `waitForSpace(for:)`), `tooLarge` when they never will, `closed`
    /// after `close()` or `finishWriting()`, and `io` when a write or fsync fails for another reason.
    public func append(_ records: [[UInt8]]) async throws(DiskBufferError) {
        guard !records.isEmpty else { return }
        try await Self.perform(on: writeQueue) {
            Result { () throws(DiskBufferError) in try self.performAppend(records) }
        }.get()
    }

    /// Returns once `append(records)` would find room, as acknowledgements free segments, or when the buffer is closed
    /// or finished (`append` then throws `closed`). After the disk itself ran full it returns within about 100 ms
    /// instead, for the caller to try again: only a write can tell whether the disk has room now.
    public func waitForSpace(for records: [[UInt8]]) async {
        let frameSizes = records.map { Format.recordHeaderSize + $0.count }
        let alone = AppendLayout(
            frameSizes: frameSizes, activeSize: Format.segmentHeaderSize, maxSegmentSize: configuration.maxSegmentSize)
        guard Format.segmentHeaderSize + alone.bytes <= configuration.maxSize else { return }
        while !Task.isCancelled {
            if state.withLock({ $0.diskFull }) {
                try? await Task.sleep(for: .milliseconds(100))
                return
            }
            let id = state.withLock { $0.makeWaiterID() }
            let done = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let ready = state.withLock { state -> Bool in
                        if state.closed || state.writingFinished || Task.isCancelled
                            || state.fitsAfterReclaiming(
                                frameSizes: frameSizes, maxSize: configuration.maxSize,
                                maxSegmentSize: configuration.maxSegmentSize)
                        {
                            return true
                        }
                        state.spaceWaiters[id] = SpaceWaiter(continuation: continuation)
                        return false
                    }
                    if ready { continuation.resume(returning: true) }
                }
            } onCancel: {
                state.withLock { $0.spaceWaiters.removeValue(forKey: id) }?.continuation.resume(returning: true)
            }
            if done { return }
        }
    }

    /// The next record in append order, waiting while there is none. Each stored record comes once per process;
    /// after a restart the unacknowledged ones come again. Nil once the buffer is closed, once writing finished and
    /// everything stored was handed out, or when the task is cancelled.
    public func next() async -> DiskBufferRecord? {
        while !Task.isCancelled {
            switch await Self.perform(on: readQueue, { self.performRead() }) {
            case .record(let record): return record
            case .end: return nil
            case .caughtUp: await waitForRecords()
            }
        }
        return nil
    }

    /// Marks a record from `next()` delivered. Acknowledgements may come in any order; the acknowledged position,
    /// which is what a restart resumes from, moves over the unbroken run of acknowledged records at its front.
    public func acknowledge(_ id: DiskBufferRecord.ID) {
        let (collect, waiters) = state.withLock { state -> (Bool, [SpaceWaiter]) in
            guard state.acknowledge(id) else { return (false, []) }
            return (state.claimCollection(), state.takeSpaceWaiters())
        }
        if collect { writeQueue.async { self.collectGarbage() } }
        for waiter in waiters { waiter.continuation.resume(returning: false) }
    }

    /// No more appends (they throw `closed`); `next()` hands out what is stored, then returns nil. For shutting a
    /// sink down once it delivered everything.
    public func finishWriting() {
        let (readers, waiters) = state.withLock { state in
            state.writingFinished = true
            return (state.takeReaders(), state.takeSpaceWaiters())
        }
        for reader in readers { reader.resume() }
        for waiter in waiters { waiter.continuation.resume(returning: true) }
    }

    /// Syncs the active segment, deletes fully acknowledged segments, writes the ledger and closes the files.
    /// Waiting and later `next()` calls return nil; later appends throw `closed`, later acknowledgements are ignored.
    public func close() async {
        let (readers, waiters) = state.withLock { state in
            state.closed = true
            state.writingFinished = true
            return (state.takeReaders(), state.takeSpaceWaiters())
        }
        for reader in readers { reader.resume() }
        for waiter in waiters { waiter.continuation.resume(returning: true) }
        await Self.perform(on: writeQueue) { self.shutDownWriter() }
        await Self.perform(on: readQueue) {
            self.reader.withLock { reader in
                if reader.fd >= 0 { FileIO.closeFile(reader.fd) }
                reader.fd = -1
            }
        }
    }

    // MARK: - Writing

    private func performAppend(_ records: [[UInt8]]) throws(DiskBufferError) {
        let frameSizes = records.map { Format.recordHeaderSize + $0.count }
        let alone = AppendLayout(
            frameSizes: frameSizes, activeSize: Format.segmentHeaderSize, maxSegmentSize: configuration.maxSegmentSize)
        let needed = Format.segmentHeaderSize + alone.bytes
        guard needed <= configuration.maxSize, records.allSatisfy({ $0.count <= Int(UInt32.max) }) else {
            throw .tooLarge(bytes: needed, limit: configuration.maxSize)
        }
        var plan = try currentPlan(frameSizes)
        if !plan.fits {
            collectGarbage()
            plan = try currentPlan(frameSizes)
            if !plan.fits && plan.activeFullyAcknowledged {
                try startSegment(plan)
                collectGarbage()
                plan = try currentPlan(frameSizes)
            }
            guard plan.fits else { throw .full }
        }
        // Stamped here, in queue order, so write times never go backwards along the buffer.
        try write(records, plan, writtenAt: Self.wallClockNanoseconds())
    }

    private func currentPlan(_ frameSizes: [Int]) throws(DiskBufferError) -> AppendPlan {
        let plan = state.withLock { state -> AppendPlan? in
            guard !state.closed, !state.writingFinished else { return nil }
            return state.plan(
                frameSizes: frameSizes, maxSize: configuration.maxSize, maxSegmentSize: configuration.maxSegmentSize)
        }
        guard let plan else { throw .closed }
        return plan
    }

    private func write(_ records: [[UInt8]], _ plan: AppendPlan, writtenAt: Int64) throws(DiskBufferError) {
        let originalFD = writer.withLock { $0.fd }
        var fd = originalFD
        var segmentID = plan.activeID
        var offset = plan.activeSize
        var sequence = plan.firstSequence
        var activeSize = plan.activeSize
        var created: [(info: SegmentInfo, fd: Int32)] = []
        do throws(DiskBufferError) {
            for (index, chunk) in plan.layout.chunks.enumerated() {
                if index > 0 {
                    // Made durable before it is left behind: the interval timer only syncs the active segment.
                    try sync(fd, segment: segmentID)
                    segmentID = plan.nextSegmentID + UInt64(index - 1)
                    fd = try directory.createSegment(id: segmentID, firstSequence: sequence)
                    created.append((SegmentInfo(id: segmentID, size: offset, firstSequence: sequence), fd))
                    offset = Format.segmentHeaderSize
                }
                guard !chunk.isEmpty else { continue }
                let bytes = Format.encodeRecords(records[chunk], firstSequence: sequence, writtenAt: writtenAt)
                try writeBytes(bytes, to: fd, at: offset, segment: segmentID)
                offset += bytes.count
                sequence += UInt64(chunk.count)
                if index == 0 {
                    activeSize = offset
                } else {
                    created[created.count - 1].info.size = offset
                }
            }
            if configuration.fsync == .always { try sync(fd, segment: segmentID) }
        } catch {
            undo(plan, created: created, originalFD: originalFD)
            throw outOfSpace(error)
        }
        for segment in created.dropLast() { FileIO.closeFile(segment.fd) }
        if !created.isEmpty { FileIO.closeFile(originalFD) }
        writer.withLock { writer in
            writer.fd = fd
            if configuration.fsync != .always { writer.unsynced = true }
        }
        let (readers, collect) = withState { state in
            let readers = state.commitAppend(
                activeSize: activeSize, newSegments: created.map(\.info), records: records.count,
                bytes: plan.layout.bytes, writtenAt: writtenAt)
            return (readers, state.claimCollection())
        }
        for reader in readers { reader.resume() }
        if collect { writeQueue.async { self.collectGarbage() } }
    }

    private func writeBytes(_ bytes: [UInt8], to fd: Int32, at offset: Int, segment: UInt64) throws(DiskBufferError) {
        let injected = writer.withLock { writer -> Int32? in
            defer { writer.injectedFailure = nil }
            return writer.injectedFailure
        }
        do throws(Errno) {
            if let injected {
                try FileIO.write(fd, Array(bytes.prefix(bytes.count / 2)), at: offset)
                throw Errno(code: injected)
            }
            try FileIO.write(fd, bytes, at: offset)
        } catch {
            throw .io(operation: "write", path: directory.path(of: Format.segmentName(segment)), errno: error.code)
        }
    }

    private func sync(_ fd: Int32, segment: UInt64) throws(DiskBufferError) {
        do throws(Errno) {
            try FileIO.syncData(fd)
        } catch {
            throw .io(operation: "fsync", path: directory.path(of: Format.segmentName(segment)), errno: error.code)
        }
    }

    /// Takes a failed append back: no part of it may stay behind to be read as a torn record.
    private func undo(_ plan: AppendPlan, created: [(info: SegmentInfo, fd: Int32)], originalFD: Int32) {
        for segment in created {
            FileIO.closeFile(segment.fd)
            try? directory.remove(Format.segmentName(segment.info.id))
        }
        if let last = created.last {
            // Never reuse the id, in case the file could not be removed.
            state.withLock { $0.nextSegmentID = max($0.nextSegmentID, last.info.id + 1) }
        }
        do throws(Errno) {
            try FileIO.truncate(originalFD, to: plan.activeSize)
        } catch {
            // Harmless while running, as the next append writes over it from the same offset, and opening the buffer
            // cuts off what follows the last good record.
            report(
                "could not cut \(Format.segmentName(plan.activeID)) back after a failed write: "
                    + FileIO.describe(error.code))
        }
    }

    /// ENOSPC and EDQUOT make the buffer full, so the caller's `when_full` policy applies.
    private func outOfSpace(_ error: DiskBufferError) -> DiskBufferError {
        guard case .io(_, _, let code) = error, Errno(code: code).isOutOfSpace else { return error }
        state.withLock { $0.diskFull = true }
        return .full
    }

    /// Starts a new, empty active segment so that the old one, all acknowledged, can be deleted.
    private func startSegment(_ plan: AppendPlan) throws(DiskBufferError) {
        let fd: Int32
        do throws(DiskBufferError) {
            fd = try directory.createSegment(id: plan.nextSegmentID, firstSequence: plan.firstSequence)
        } catch {
            throw outOfSpace(error)
        }
        writer.withLock { writer in
            FileIO.closeFile(writer.fd)
            writer.fd = fd
            writer.unsynced = false
        }
        withState { state in
            state.commitRoll(
                SegmentInfo(id: plan.nextSegmentID, size: Format.segmentHeaderSize, firstSequence: plan.firstSequence))
        }
    }

    /// Deletes the segments whose records are all acknowledged, after the ledger records that.
    private func collectGarbage() {
        let collectable = state.withLock { state in
            state.collectionScheduled = false
            return state.collectableSegments.map(\.id)
        }
        guard !collectable.isEmpty else { return }
        persistLedger()
        var removed = Set<UInt64>()
        for id in collectable {
            do throws(DiskBufferError) {
                try directory.remove(Format.segmentName(id))
            } catch {
                guard case .io(_, _, let code) = error, code == ENOENT else {
                    report("could not delete an acknowledged segment: \(error)")
                    break
                }
            }
            removed.insert(id)
        }
        let waiters = state.withLock { $0.commitRemoval(of: removed) }
        for waiter in waiters { waiter.continuation.resume(returning: false) }
    }

    private func persistLedger() {
        let ledger = state.withLock { state in
            state.acknowledgedMoved = false
            return state.ledger
        }
        do throws(DiskBufferError) {
            try directory.writeLedger(ledger)
        } catch {
            state.withLock { $0.acknowledgedMoved = true }
            report("could not persist the ledger: \(error)")
        }
        writer.withLock { $0.lastLedgerWrite = .now }
    }

    private func shutDownWriter() {
        let fd = writer.withLock { $0.fd }
        guard fd >= 0 else { return }
        do throws(Errno) {
            try FileIO.syncData(fd)
        } catch {
            report("fsync of the active segment failed on close: \(FileIO.describe(error.code))")
        }
        collectGarbage()
        persistLedger()
        FileIO.closeFile(fd)
        writer.withLock { $0.fd = -1 }
    }

    /// The interval fsync and the periodic ledger write. The timer holds the buffer weakly: an abandoned buffer stops
    /// ticking instead of being kept alive by it.
    private func scheduleTick() {
        var period = configuration.ledgerInterval
        if case .interval(let interval) = configuration.fsync { period = min(period, interval) }
        let (seconds, attoseconds) = period.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        writeQueue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [weak self] in self?.tick() }
    }

    private func tick() {
        let (closed, acknowledgedMoved) = state.withLock { ($0.closed, $0.acknowledgedMoved) }
        guard !closed else { return }
        let context = writer.withLock { $0 }
        let now = ContinuousClock.now
        if case .interval(let interval) = configuration.fsync, context.unsynced, now - context.lastSync >= interval {
            do throws(Errno) {
                try FileIO.syncData(context.fd)
                writer.withLock { writer in
                    writer.unsynced = false
                    writer.lastSync = now
                }
            } catch {
                report("fsync of the active segment failed: \(FileIO.describe(error.code))")
            }
        }
        if acknowledgedMoved && now - context.lastLedgerWrite >= configuration.ledgerInterval { persistLedger() }
        scheduleTick()
    }

    // MARK: - Reading

    private enum ReadOutcome: Sendable {
        case record(DiskBufferRecord)
        case caughtUp
        case end
    }

    private func performRead() -> ReadOutcome {
        var context = reader.withLock { $0 }
        defer { reader.withLock { $0 = context } }
        while true {
            let target = state.withLock { $0.readTarget }
            guard case .read(let position, let end, let sequenceAtEnd) = target else {
                if case .caughtUp = target { return .caughtUp }
                return .end
            }
            let name = Format.segmentName(position.segment)
            let fd: Int32
            let outcome: SegmentReader.Outcome
            do throws(DiskBufferError) {
                fd = try context.descriptor(for: position.segment, in: directory)
                do throws(Errno) {
                    outcome = try SegmentReader.read(
                        fd, at: position.offset, end: end, header: context.header(at: position))
                } catch {
                    throw .io(operation: "read", path: directory.path(of: name), errno: error.code)
                }
            } catch {
                report("\(error); skipping the rest of segment \(name)")
                withState { $0.commitSkip(from: position, to: end, end: end, sequenceAtEnd: sequenceAtEnd) }
                continue
            }
            switch outcome {
            case .record(let header, let payload, let next):
                context.lookahead = next.map { (offset: position.offset + header.frameSize, header: $0) }
                let nextWrittenAt = next.flatMap(RecordHeader.init)?.writtenAt
                let id = withState { $0.commitRead(at: position, header: header, nextWrittenAt: nextWrittenAt) }
                guard let id else { return .end }
                refreshPeek(&context)
                return .record(DiskBufferRecord(id: id, payload: payload, writtenAt: header.writtenAt))
            case .damaged(let reason):
                context.lookahead = nil
                let resume = (try? SegmentReader.findRecord(fd, from: position.offset + 1, end: end)) ?? end
                let skipped = resume - position.offset
                report("segment \(name) at offset \(position.offset): \(reason); skipped \(skipped) bytes")
                withState { $0.commitSkip(from: position, to: resume, end: end, sequenceAtEnd: sequenceAtEnd) }
            }
        }
    }

    /// Reads the header of the next unread record when its write time is not known yet, so that the age of the
    /// oldest unacknowledged record is right while the sink is busy with the records it has.
    private func refreshPeek(_ context: inout ReaderContext) {
        let target = state.withLock { state -> (Position, Int)? in
            guard state.hasUnread, state.nextUnreadWrittenAt == nil else { return nil }
            return (state.readPosition, state.segments[state.segmentIndex(atLeast: state.readPosition.segment)].size)
        }
        guard let (position, end) = target, end - position.offset >= Format.recordHeaderSize,
            let fd = try? context.descriptor(for: position.segment, in: directory),
            let bytes = try? FileIO.read(fd, count: Format.recordHeaderSize, at: position.offset),
            let header = RecordHeader(bytes)
        else { return }
        context.lookahead = (offset: position.offset, header: bytes)
        state.withLock { state in
            if state.readPosition == position && state.nextUnreadWrittenAt == nil {
                state.nextUnreadWrittenAt = header.writtenAt
            }
        }
    }

    private func waitForRecords() async {
        let id = state.withLock { $0.makeWaiterID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.closed || state.writingFinished || state.hasUnread || Task.isCancelled { return true }
                    state.readers[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.readers.removeValue(forKey: id) }?.resume()
        }
    }

    // MARK: - Support

    /// Runs the state change and reports the diagnostics it raised, after releasing the lock.
    private func withState<T: Sendable>(_ body: (inout BufferState) -> T) -> T {
        let (value, notes) = state.withLock { state in (body(&state), state.takeNotes()) }
        for note in notes { report(note) }
        return value
    }

    private func report(_ message: String) {
        diagnostics?(message)
    }

    private static func perform<T: Sendable>(on queue: DispatchQueue, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    private static func wallClockNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    // MARK: - Test seams

    /// Stops the buffer the way a crash would: no fsync, no ledger. Tests then drop it to simulate `kill -9`; waiting
    /// for the queues keeps its last jobs from racing with the instance opened next.
    func abandon() async {
        let (readers, waiters) = state.withLock { state in
            state.closed = true
            return (state.takeReaders(), state.takeSpaceWaiters())
        }
        for reader in readers { reader.resume() }
        for waiter in waiters { waiter.continuation.resume(returning: true) }
        await Self.perform(on: writeQueue) {}
        await Self.perform(on: readQueue) {}
    }

    /// Returns once the file work queued so far, such as deleting acknowledged segments, is done.
    func settle() async {
        await Self.perform(on: writeQueue) {}
    }

    /// Makes the next write of records stop halfway and fail with `code`, as ENOSPC or EIO would.
    func injectWriteFailure(_ code: Int32) async {
        await Self.perform(on: writeQueue) { self.writer.withLock { $0.injectedFailure = code } }
    }
}

/// The active segment's descriptor and the write side's timers; used on the write queue only.
private struct WriterContext {
    var fd: Int32
    /// Written since the last fsync, for the interval timer.
    var unsynced = false
    var lastSync = ContinuousClock.now
    var lastLedgerWrite = ContinuousClock.now
    var injectedFailure: Int32?
}

/// The segment the reader has open and the header it read ahead; used on the read queue only.
private struct ReaderContext {
    var fd: Int32 = -1
    var segment: UInt64 = 0
    /// The next record's header, read together with the previous payload; always in `segment`.
    var lookahead: (offset: Int, header: [UInt8])?

    mutating func descriptor(for segment: UInt64, in directory: BufferDirectory) throws(DiskBufferError) -> Int32 {
        if fd >= 0 && self.segment == segment { return fd }
        if fd >= 0 { FileIO.closeFile(fd) }
        fd = -1
        lookahead = nil
        fd = try directory.open(Format.segmentName(segment), flags: O_RDONLY)
        self.segment = segment
        return fd
    }

    func header(at position: Position) -> [UInt8]? {
        guard let lookahead, position.segment == segment, lookahead.offset == position.offset else { return nil }
        return lookahead.header
    }
}
