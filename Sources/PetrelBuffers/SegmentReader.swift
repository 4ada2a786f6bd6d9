#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading records out of a segment file, and finding the next good one after damage.
enum SegmentReader {
    enum Outcome {
        /// A record whose checksum matches. `next` holds the following header's bytes when they were within reach, so
        /// reading that record needs one `pread`, not two.
        case record(RecordHeader, payload: [UInt8], next: [UInt8]?)
        case damaged(String)
    }

    /// The record at `offset`, reading no further than `end` (the bytes past it are not committed yet, or not there).
    /// `header` is the record's header if already read.
    static func read(_ fd: Int32, at offset: Int, end: Int, header: [UInt8]?) throws(Errno) -> Outcome {
        let headerSize = Format.recordHeaderSize
        guard end - offset >= headerSize else { return .damaged("a record header is cut short") }
        let headerBytes: [UInt8]
        if let header {
            headerBytes = header
        } else {
            headerBytes = try FileIO.read(fd, count: headerSize, at: offset)
        }
        guard headerBytes.count == headerSize else { return .damaged("a record header is cut short") }
        guard let fields = RecordHeader(headerBytes) else { return .damaged("no record starts here") }
        let payloadEnd = offset + fields.frameSize
        guard payloadEnd <= end else {
            return .damaged("the record length \(fields.length) runs past the end of the data at \(end)")
        }
        let lookahead = min(headerSize, end - payloadEnd)
        var payload = try FileIO.read(fd, count: fields.length + lookahead, at: offset + headerSize)
        guard payload.count == fields.length + lookahead else { return .damaged("the record is cut short") }
        var next: [UInt8]?
        if lookahead == headerSize { next = Array(payload[fields.length...]) }
        payload.removeLast(lookahead)
        guard fields.verifies(header: headerBytes, payload: payload) else { return .damaged("checksum mismatch") }
        return .record(fields, payload: payload, next: next)
    }

    /// The first offset in `start..<end` where a record header parses and its checksum matches, if any.
    ///
    /// Not inlined: inlined into `scanTail` by the release build with AddressSanitizer (Swift 6.3), its `read` copied
    /// the next header out of the array `scanTail` had just released (the fuzzer's `buffer_segment` finding, replayed
    /// from the corpus by `make fuzz`).
    @inline(never)
    static func findRecord(_ fd: Int32, from start: Int, end: Int) throws(Errno) -> Int? {
        let chunkSize = 64 * 1024
        let markerTail = 3
        var chunkStart = start
        while end - chunkStart >= Format.recordHeaderSize {
            let chunk = try FileIO.read(fd, count: min(chunkSize + markerTail, end - chunkStart), at: chunkStart)
            let candidates = markerOffsets(in: chunk, below: chunkSize)
            for candidate in candidates {
                if case .record = try read(fd, at: chunkStart + candidate, end: end, header: nil) {
                    return chunkStart + candidate
                }
            }
            guard chunk.count > chunkSize else { return nil }
            chunkStart += chunkSize
        }
        return nil
    }

    /// Offsets below `limit` where the record marker starts.
    private static func markerOffsets(in chunk: [UInt8], below limit: Int) -> [Int] {
        chunk.withUnsafeBytes { bytes in
            var offsets: [Int] = []
            guard let base = bytes.baseAddress, bytes.count >= 4 else { return offsets }
            var offset = 0
            let last = min(limit, bytes.count - 3)
            while offset < last, let found = memchr(base + offset, 0xFF, last - offset) {
                offset = base.distance(to: UnsafeRawPointer(found))
                if bytes.littleEndian(at: offset, as: UInt32.self) == Format.recordMarker { offsets.append(offset) }
                offset += 1
            }
            return offsets
        }
    }

    struct Tail {
        /// Where the last good record ends; appends continue here.
        var validEnd: Int
        var lastSequence: UInt64?
        /// Records in the damaged stretch after `validEnd`, at least one when there is such a stretch.
        var tornRecords: Int
    }

    /// Finds where the good data of the newest segment ends. Damage followed by good records is left for the reader
    /// to skip (it may be a bit flip, not a torn write); only what follows the last good record is a torn tail.
    static func scanTail(_ fd: Int32, size: Int) throws(Errno) -> Tail {
        var offset = Format.segmentHeaderSize
        var tail = Tail(validEnd: offset, lastSequence: nil, tornRecords: 0)
        var header: [UInt8]?
        scan: while offset < size {
            switch try read(fd, at: offset, end: size, header: header) {
            case .record(let fields, _, let next):
                offset += fields.frameSize
                tail.validEnd = offset
                tail.lastSequence = fields.sequence
                header = next
            case .damaged:
                header = nil
                guard let resume = try findRecord(fd, from: offset + 1, end: size) else { break scan }
                offset = resume
            }
        }
        if tail.validEnd < size { tail.tornRecords = try countFrames(fd, from: tail.validEnd, end: size) }
        return tail
    }

    /// How many records a torn stretch held: headers whose length fits are followed, the remainder counts as one.
    private static func countFrames(_ fd: Int32, from start: Int, end: Int) throws(Errno) -> Int {
        var offset = start
        var count = 0
        while offset < end {
            count += 1
            guard let fields = RecordHeader(try FileIO.read(fd, count: Format.recordHeaderSize, at: offset)),
                offset + fields.frameSize <= end
            else { break }
            offset += fields.frameSize
        }
        return count
    }
}
