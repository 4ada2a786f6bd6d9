#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What opening the directory found, repaired and set up.
struct RecoveredBuffer: Sendable {
    let directory: BufferDirectory
    /// The active segment, open for writing.
    let writerFD: Int32
    let state: BufferState
}

/// Opening a buffer directory: picks up where the ledger says acknowledgement stood, after a clean close or a crash.
enum Recovery {
    static func open(_ configuration: DiskBufferConfiguration, report: (String) -> Void) throws(DiskBufferError)
        -> RecoveredBuffer
    {
        let directory = try BufferDirectory(path: configuration.directory)
        do throws(DiskBufferError) {
            return try recover(directory, report: report)
        } catch {
            FileIO.closeFile(directory.fd)
            throw error
        }
    }

    private static func recover(_ directory: BufferDirectory, report: (String) -> Void) throws(DiskBufferError)
        -> RecoveredBuffer
    {
        let headerSize = Format.segmentHeaderSize
        try? directory.remove(Format.ledgerTemporaryName)
        let ids = try directory.entries().compactMap(Format.segmentID(fromName:)).sorted()
        var ledger: Ledger?
        switch directory.readLedger() {
        case .valid(let found):
            ledger = found
        case .damaged(let reason):
            report("ledger \(directory.path(of: Format.ledgerName)) is unusable, \(reason): re-delivering all records")
        case .missing:
            if !ids.isEmpty {
                report("ledger \(directory.path(of: Format.ledgerName)) is missing: re-delivering all records")
            }
        }
        var segments: [SegmentInfo] = []
        for id in ids {
            let segment = try inspect(id, in: directory)
            if id != ids.last && segment.size <= headerSize {
                report("segment \(Format.segmentName(id)) holds no records; removing it")
                try directory.remove(Format.segmentName(id))
            } else {
                segments.append(segment)
            }
        }
        var highestID = ids.last ?? 0
        if let ledger {
            highestID = max(highestID, ledger.acknowledged.segment, ledger.read.segment, ledger.written.segment)
        }

        var recordsCorrupted = 0
        let writerFD: Int32
        let nextSequence: UInt64
        if let newest = segments.popLast() {
            let name = Format.segmentName(newest.id)
            let fd = try directory.open(name, flags: O_RDWR)
            do throws(Errno) {
                let tail = try SegmentReader.scanTail(fd, size: newest.size)
                if newest.firstSequence == nil && tail.lastSequence == nil {
                    // Created, but its header never reached the disk, so it cannot hold anything: start it over.
                    var first = ledger?.nextSequence ?? 0
                    if let previous = segments.last { first = try sequence(after: previous, in: directory) }
                    try FileIO.truncate(fd, to: 0)
                    try FileIO.write(fd, Format.segmentHeader(firstSequence: first), at: 0)
                    try FileIO.syncData(fd)
                    report("segment \(name) had neither a valid header nor records; rewrote it empty")
                    segments.append(SegmentInfo(id: newest.id, size: headerSize, firstSequence: first))
                    nextSequence = first
                } else {
                    if tail.validEnd < newest.size {
                        try FileIO.truncate(fd, to: tail.validEnd)
                        try FileIO.syncData(fd)
                        recordsCorrupted += tail.tornRecords
                        report(
                            "segment \(name): cut off a torn tail of \(newest.size - tail.validEnd) bytes "
                                + "(\(tail.tornRecords) damaged record(s)) at offset \(tail.validEnd)")
                    }
                    segments.append(
                        SegmentInfo(id: newest.id, size: tail.validEnd, firstSequence: newest.firstSequence))
                    nextSequence = tail.lastSequence.map { $0 &+ 1 } ?? newest.firstSequence ?? 0
                }
            } catch {
                FileIO.closeFile(fd)
                throw .io(operation: "recover", path: directory.path(of: name), errno: error.code)
            }
            writerFD = fd
        } else {
            let id = highestID + 1
            nextSequence = ledger?.nextSequence ?? 0
            writerFD = try directory.createSegment(id: id, firstSequence: nextSequence)
            segments = [SegmentInfo(id: id, size: headerSize, firstSequence: nextSequence)]
        }

        let newest = segments[segments.count - 1]
        var acknowledged = Position(segment: segments[0].id, offset: headerSize)
        var acknowledgedSequence = segments[0].firstSequence
        if let mark = ledger?.acknowledged {
            if let index = segments.firstIndex(where: { $0.id >= mark.segment }) {
                if segments[index].id == mark.segment {
                    acknowledged = Position(segment: mark.segment, offset: max(mark.offset, headerSize))
                    acknowledgedSequence = ledger?.acknowledgedSequence
                } else {
                    // Deleted after this ledger was written, as a fully acknowledged segment.
                    acknowledged = Position(segment: segments[index].id, offset: headerSize)
                    acknowledgedSequence = segments[index].firstSequence
                }
            } else {
                report(
                    "the ledger's acknowledged position is in segment \(mark.segment), past the newest segment "
                        + "\(newest.id): re-delivering all records")
            }
        }
        if acknowledged.segment == newest.id && acknowledged.offset > newest.size {
            report("the ledger's acknowledged position is past the end of the stored data; resuming at its end")
            acknowledged.offset = newest.size
            acknowledgedSequence = nextSequence
        }
        while segments[0].id < acknowledged.segment {
            try directory.remove(Format.segmentName(segments[0].id))
            segments.removeFirst()
        }

        var state = BufferState(
            segments: segments, bytesOnDisk: segments.reduce(0) { $0 + $1.size },
            nextSegmentID: max(highestID, newest.id) + 1, nextSequence: nextSequence, readPosition: acknowledged,
            readSequence: acknowledgedSequence)
        state.recordsCorrupted = recordsCorrupted
        state.normalizeReader()
        state.nextUnreadWrittenAt = writtenAt(at: state, in: directory)
        for note in state.takeNotes() { report(note) }
        return RecoveredBuffer(directory: directory, writerFD: writerFD, state: state)
    }

    /// Size and header of a segment file.
    private static func inspect(_ id: UInt64, in directory: BufferDirectory) throws(DiskBufferError) -> SegmentInfo {
        let name = Format.segmentName(id)
        let fd = try directory.open(name, flags: O_RDONLY)
        defer { FileIO.closeFile(fd) }
        let size: Int
        let header: Format.SegmentHeader
        do throws(Errno) {
            size = try FileIO.size(fd)
            header = Format.decodeSegmentHeader(try FileIO.read(fd, count: Format.segmentHeaderSize, at: 0))
        } catch {
            throw .io(operation: "read", path: directory.path(of: name), errno: error.code)
        }
        switch header {
        case .valid(let firstSequence):
            return SegmentInfo(id: id, size: size, firstSequence: firstSequence)
        case .invalid:
            return SegmentInfo(id: id, size: size, firstSequence: nil)
        case .unsupported(let version):
            throw .unsupportedVersion(path: directory.path(of: name), version: version)
        }
    }

    /// The sequence number following the last good record of `segment`.
    private static func sequence(after segment: SegmentInfo, in directory: BufferDirectory) throws(Errno) -> UInt64 {
        let fd = try FileIO.openFile(directory.fd, Format.segmentName(segment.id), O_RDONLY | O_CLOEXEC)
        defer { FileIO.closeFile(fd) }
        let tail = try SegmentReader.scanTail(fd, size: segment.size)
        return tail.lastSequence.map { $0 &+ 1 } ?? segment.firstSequence ?? 0
    }

    /// `writtenAt` of the first record to deliver, so the age of the oldest record is known before it is read.
    private static func writtenAt(at state: BufferState, in directory: BufferDirectory) -> Int64? {
        guard state.hasUnread else { return nil }
        let position = state.readPosition
        guard let fd = try? FileIO.openFile(directory.fd, Format.segmentName(position.segment), O_RDONLY | O_CLOEXEC)
        else { return nil }
        defer { FileIO.closeFile(fd) }
        return (try? FileIO.read(fd, count: Format.recordHeaderSize, at: position.offset)).flatMap(RecordHeader.init)?
            .writtenAt
    }
}
