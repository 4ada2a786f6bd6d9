/// A segment file as the bookkeeping knows it.
struct SegmentInfo: Sendable {
    let id: UInt64
    /// Bytes holding the header and complete, committed records; the reader never reads past it.
    var size: Int
    /// The sequence number of its first record, from its header; nil when the header is damaged.
    let firstSequence: UInt64?
}

/// A record handed out by `next()` that still holds back the acknowledged position, itself or through one before it.
struct PendingRecord: Sendable {
    let position: Position
    let sequence: UInt64
    let writtenAt: Int64
    var acknowledged = false
}

/// A `waitForSpace` caller, resumed with true to return and with false to check the space again.
struct SpaceWaiter: Sendable {
    let continuation: CheckedContinuation<Bool, Never>
}

/// Where the records of one `append` go: chunk 0 into the active segment (it may be empty), each further chunk into
/// a new segment; and how many bytes that adds on disk.
struct AppendLayout: Sendable {
    var chunks: [Range<Int>] = []
    var bytes = 0

    init(frameSizes: [Int], activeSize: Int, maxSegmentSize: Int) {
        var size = activeSize
        var start = 0
        for (index, frame) in frameSizes.enumerated() {
            if size > Format.segmentHeaderSize && size + frame > maxSegmentSize {
                chunks.append(start..<index)
                start = index
                size = Format.segmentHeaderSize
                bytes += Format.segmentHeaderSize
            }
            size += frame
            bytes += frame
        }
        chunks.append(start..<frameSizes.count)
    }
}

/// What an append is about to do, decided from one consistent look at the state.
struct AppendPlan: Sendable {
    var layout: AppendLayout
    var activeID: UInt64
    var activeSize: Int
    var firstSequence: UInt64
    var nextSegmentID: UInt64
    var fits: Bool
    /// Everything, the active segment included, is acknowledged: starting a new segment frees all of it.
    var activeFullyAcknowledged: Bool
}

/// Everything the writer, the reader and acknowledgements share, guarded by the buffer's mutex. The I/O happens
/// outside the lock; the results are committed here in one step, so the fields always agree with one another.
struct BufferState: Sendable {
    /// Oldest first; the last is the active segment, the only one written to. Never empty.
    var segments: [SegmentInfo]
    var bytesOnDisk: Int
    /// Ids are never reused, not even those of deleted segments the ledger may still name.
    var nextSegmentID: UInt64
    var nextSequence: UInt64
    /// Where the next record to hand out starts. Never left at the end of a sealed segment (see `normalizeReader`),
    /// so there is something to read exactly when it is not at the end of the active segment.
    var readPosition: Position
    /// The sequence number the next record should have; nil after damage made it unknowable.
    var readSequence: UInt64?
    /// Records handed out, in order; `pending[pendingHead]` is unacknowledged (the acknowledged front is dropped).
    var pending: [PendingRecord] = []
    var pendingHead = 0
    var pendingHeadSlot: UInt64 = 0
    /// Acknowledged records still in `pending` behind an unacknowledged one.
    var acknowledgedPending = 0
    /// `writtenAt` of the record at `readPosition`, when the reader has seen its header or the writer just wrote it.
    var nextUnreadWrittenAt: Int64?
    /// The reader skipped damage and has not yet checked the sequence numbers on the far side.
    var skippedDamage = false
    var closed = false
    var writingFinished = false
    /// The last write failed with ENOSPC or EDQUOT; only another write can tell when that is over.
    var diskFull = false
    var collectionScheduled = false
    var acknowledgedMoved = false
    var readers: [UInt64: CheckedContinuation<Void, Never>] = [:]
    var spaceWaiters: [UInt64: SpaceWaiter] = [:]
    var nextWaiterID: UInt64 = 0
    var recordsWritten = 0
    var bytesWritten = 0
    var recordsRead = 0
    var recordsAcknowledged = 0
    var recordsCorrupted = 0
    /// Diagnostics raised under the lock, reported by the caller after releasing it.
    var notes: [String] = []

    var active: SegmentInfo { segments[segments.count - 1] }

    var hasUnread: Bool { readPosition.segment != active.id || readPosition.offset < active.size }

    /// Where the first unacknowledged record starts: everything before it is acknowledged or was skipped as damaged.
    var acknowledgedPosition: Position {
        pendingHead < pending.count ? pending[pendingHead].position : readPosition
    }

    var acknowledgedSequence: UInt64? {
        pendingHead < pending.count ? pending[pendingHead].sequence : readSequence
    }

    var ledger: Ledger {
        Ledger(
            acknowledged: acknowledgedPosition, acknowledgedSequence: acknowledgedSequence, read: readPosition,
            written: Position(segment: active.id, offset: active.size), nextSequence: nextSequence)
    }

    var statistics: DiskBufferStatistics {
        let first = acknowledgedSequence ?? nextSequence
        let stored = nextSequence >= first ? Int(clamping: nextSequence - first) : 0
        var oldest: Int64?
        if pendingHead < pending.count {
            oldest = pending[pendingHead].writtenAt
        } else if hasUnread {
            oldest = nextUnreadWrittenAt
        }
        return DiskBufferStatistics(
            bytesOnDisk: bytesOnDisk, segmentCount: segments.count,
            unacknowledgedRecords: max(0, stored - acknowledgedPending), oldestUnacknowledgedWrittenAt: oldest,
            recordsWritten: recordsWritten, bytesWritten: bytesWritten, recordsRead: recordsRead,
            recordsAcknowledged: recordsAcknowledged, recordsCorrupted: recordsCorrupted)
    }

    /// Index of the first segment whose id is at least `id`.
    func segmentIndex(atLeast id: UInt64) -> Int {
        var low = 0
        var high = segments.count
        while low < high {
            let middle = (low + high) / 2
            if segments[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Segments wholly before the acknowledged position: every record in them is acknowledged or skipped.
    var collectableSegments: ArraySlice<SegmentInfo> {
        segments[..<segmentIndex(atLeast: acknowledgedPosition.segment)]
    }

    enum ReadTarget {
        case end
        case caughtUp
        /// Read at `position`, no further than `end`. `sequenceAtEnd` follows the data there if the segment is active.
        case read(Position, end: Int, sequenceAtEnd: UInt64?)
    }

    var readTarget: ReadTarget {
        if closed { return .end }
        guard hasUnread else { return writingFinished ? .end : .caughtUp }
        let index = segmentIndex(atLeast: readPosition.segment)
        let isActive = index == segments.count - 1
        return .read(readPosition, end: segments[index].size, sequenceAtEnd: isActive ? nextSequence : nil)
    }

    func plan(frameSizes: [Int], maxSize: Int, maxSegmentSize: Int) -> AppendPlan {
        let layout = AppendLayout(frameSizes: frameSizes, activeSize: active.size, maxSegmentSize: maxSegmentSize)
        return AppendPlan(
            layout: layout, activeID: active.id, activeSize: active.size, firstSequence: nextSequence,
            nextSegmentID: nextSegmentID, fits: bytesOnDisk + layout.bytes <= maxSize,
            activeFullyAcknowledged: isActiveFullyAcknowledged)
    }

    private var isActiveFullyAcknowledged: Bool {
        active.size > Format.segmentHeaderSize
            && acknowledgedPosition == Position(segment: active.id, offset: active.size)
    }

    /// Whether an append of records this size would succeed once acknowledged space is reclaimed, which the append
    /// does itself: deleting acknowledged segments, and starting a new segment if the active one is all acknowledged.
    func fitsAfterReclaiming(frameSizes: [Int], maxSize: Int, maxSegmentSize: Int) -> Bool {
        let usage = bytesOnDisk - collectableSegments.reduce(0) { $0 + $1.size }
        let layout = AppendLayout(frameSizes: frameSizes, activeSize: active.size, maxSegmentSize: maxSegmentSize)
        if usage + layout.bytes <= maxSize { return true }
        guard isActiveFullyAcknowledged else { return false }
        let fresh = AppendLayout(
            frameSizes: frameSizes, activeSize: Format.segmentHeaderSize, maxSegmentSize: maxSegmentSize)
        return usage - active.size + Format.segmentHeaderSize + fresh.bytes <= maxSize
    }

    mutating func commitAppend(
        activeSize: Int, newSegments: [SegmentInfo], records: Int, bytes: Int, writtenAt: Int64
    ) -> [CheckedContinuation<Void, Never>] {
        let wasCaughtUp = !hasUnread
        segments[segments.count - 1].size = activeSize
        segments.append(contentsOf: newSegments)
        if let last = newSegments.last { nextSegmentID = max(nextSegmentID, last.id + 1) }
        bytesOnDisk += bytes
        nextSequence += UInt64(records)
        recordsWritten += records
        bytesWritten += bytes
        diskFull = false
        normalizeReader()
        if wasCaughtUp { nextUnreadWrittenAt = writtenAt }
        return takeReaders()
    }

    /// A new, empty active segment, started to free the old one.
    mutating func commitRoll(_ segment: SegmentInfo) {
        segments.append(segment)
        nextSegmentID = max(nextSegmentID, segment.id + 1)
        bytesOnDisk += segment.size
        normalizeReader()
    }

    mutating func commitRemoval(of ids: Set<UInt64>) -> [SpaceWaiter] {
        for segment in segments where ids.contains(segment.id) { bytesOnDisk -= segment.size }
        segments.removeAll { ids.contains($0.id) }
        return takeSpaceWaiters()
    }

    /// Hands out the record read at `position`; nil if the buffer closed meanwhile.
    mutating func commitRead(at position: Position, header: RecordHeader, nextWrittenAt: Int64?) -> DiskBufferRecord.ID?
    {
        guard !closed, readPosition == position else { return nil }
        anchorReader(at: header.sequence)
        readSequence = header.sequence &+ 1
        let slot = pendingHeadSlot + UInt64(pending.count - pendingHead)
        pending.append(PendingRecord(position: position, sequence: header.sequence, writtenAt: header.writtenAt))
        readPosition.offset += header.frameSize
        nextUnreadWrittenAt = nextWrittenAt
        normalizeReader()
        recordsRead += 1
        return DiskBufferRecord.ID(sequence: header.sequence, slot: slot)
    }

    /// Moves the reader over damage from `position` to `offset`. `sequenceAtEnd` is the sequence number that followed
    /// the data when the reader looked, if the segment was the active one; reaching that end anchors the count.
    mutating func commitSkip(from position: Position, to offset: Int, end: Int, sequenceAtEnd: UInt64?) {
        guard readPosition == position else { return }
        readPosition.offset = offset
        skippedDamage = true
        nextUnreadWrittenAt = nil
        if offset >= end, let sequenceAtEnd { anchorReader(at: sequenceAtEnd) }
        normalizeReader()
    }

    /// Marks a record acknowledged; returns whether the acknowledged position moved.
    mutating func acknowledge(_ id: DiskBufferRecord.ID) -> Bool {
        guard !closed, id.slot >= pendingHeadSlot, id.slot - pendingHeadSlot < UInt64(pending.count - pendingHead)
        else { return false }
        let index = pendingHead + Int(id.slot - pendingHeadSlot)
        guard pending[index].sequence == id.sequence, !pending[index].acknowledged else { return false }
        pending[index].acknowledged = true
        acknowledgedPending += 1
        recordsAcknowledged += 1
        guard index == pendingHead else { return false }
        while pendingHead < pending.count && pending[pendingHead].acknowledged {
            pendingHead += 1
            pendingHeadSlot += 1
            acknowledgedPending -= 1
        }
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        } else if pendingHead >= 1024 && pendingHead * 2 >= pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        acknowledgedMoved = true
        return true
    }

    /// Claims the one pending garbage collection if there is something to collect and none is scheduled.
    mutating func claimCollection() -> Bool {
        guard !collectionScheduled, !collectableSegments.isEmpty else { return false }
        collectionScheduled = true
        return true
    }

    /// Keeps the reader off the end of sealed segments: there it moves to the start of the next one. That lets the
    /// acknowledged position pass a finished segment before the next `next()` call, so the segment can go.
    mutating func normalizeReader() {
        while readPosition.segment != active.id {
            let index = segmentIndex(atLeast: readPosition.segment)
            let current = segments[index].id == readPosition.segment
            if current && readPosition.offset < segments[index].size { return }
            let next = segments[current ? index + 1 : index]
            readPosition = Position(segment: next.id, offset: Format.segmentHeaderSize)
            nextUnreadWrittenAt = nil
            anchorReader(at: next.firstSequence)
        }
    }

    /// The reader learnt the sequence number of the next record (nil: it cannot know it). Numbers missing since the
    /// last one are records lost to damage; a skipped damaged stretch counts at least one.
    private mutating func anchorReader(at sequence: UInt64?) {
        var lost = 0
        if let expected = readSequence, let sequence {
            if sequence > expected {
                lost = Int(clamping: sequence - expected)
            } else if sequence < expected {
                notes.append("record sequence went back from \(expected) to \(sequence); the buffer files are mixed up")
            }
        }
        if skippedDamage {
            lost = max(lost, 1)
            skippedDamage = false
            readSequence = sequence
        } else if let sequence {
            readSequence = sequence
        }
        guard lost > 0 else { return }
        recordsCorrupted += lost
        let place = sequence.map { "before record \($0)" } ?? "in segment \(readPosition.segment)"
        notes.append("\(lost) damaged record(s) skipped \(place)")
    }

    mutating func makeWaiterID() -> UInt64 {
        nextWaiterID += 1
        return nextWaiterID
    }

    mutating func takeReaders() -> [CheckedContinuation<Void, Never>] {
        defer { readers = [:] }
        return Array(readers.values)
    }

    mutating func takeSpaceWaiters() -> [SpaceWaiter] {
        defer { spaceWaiters = [:] }
        return Array(spaceWaiters.values)
    }

    mutating func takeNotes() -> [String] {
        defer { notes = [] }
        return notes
    }
}
