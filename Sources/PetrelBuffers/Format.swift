/// Byte layouts of the files in a buffer directory; `DiskBuffer` documents the format as a whole.
enum Format {
    static let version: UInt32 = 1
    /// "PETRELSG" read as a little-endian integer.
    static let segmentMagic: UInt64 = 0x4753_4C45_5254_4550
    /// "PETRELLG" read as a little-endian integer.
    static let ledgerMagic: UInt64 = 0x474C_4C45_5254_4550
    /// The bytes FF 'P' 'B' 'R' read as a little-endian integer. 0xFF never occurs in UTF-8 text, so a resynchronising
    /// scan through JSON or text payloads rarely stops at a false candidate.
    static let recordMarker: UInt32 = 0x5242_50FF
    static let segmentHeaderSize = 24
    static let recordHeaderSize = 28
    static let ledgerSize = 80
    static let ledgerName = "ledger"
    static let ledgerTemporaryName = "ledger.tmp"

    /// `00000000000000000042.seg`: fixed width, so names sort like ids.
    static func segmentName(_ id: UInt64) -> String {
        let digits = String(id)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    static func segmentID(fromName name: String) -> UInt64? {
        guard name.utf8.count == 24, name.hasSuffix(".seg") else { return nil }
        let digits = name.prefix(20)
        guard digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return UInt64(digits)
    }

    static func segmentHeader(firstSequence: UInt64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: segmentHeaderSize) { buffer, initialized in
            let bytes = UnsafeMutableRawBufferPointer(buffer)
            bytes.storeLittleEndian(segmentMagic, at: 0)
            bytes.storeLittleEndian(version, at: 8)
            bytes.storeLittleEndian(firstSequence, at: 12)
            bytes.storeLittleEndian(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<20])), at: 20)
            initialized = segmentHeaderSize
        }
    }

    enum SegmentHeader {
        case valid(firstSequence: UInt64)
        /// Magic and checksum are right but the version is not one this code reads.
        case unsupported(version: UInt32)
        /// Missing, short or damaged.
        case invalid
    }

    static func decodeSegmentHeader(_ bytes: [UInt8]) -> SegmentHeader {
        guard bytes.count >= segmentHeaderSize else { return .invalid }
        return bytes.withUnsafeBytes { bytes in
            guard bytes.littleEndian(at: 0, as: UInt64.self) == segmentMagic,
                bytes.littleEndian(at: 20, as: UInt32.self)
                    == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<20]))
            else { return .invalid }
            let version = bytes.littleEndian(at: 8, as: UInt32.self)
            guard version == Self.version else { return .unsupported(version: version) }
            return .valid(firstSequence: bytes.littleEndian(at: 12, as: UInt64.self))
        }
    }

    /// Frames `records` back to back, numbered from `firstSequence`, for one `pwrite`.
    static func encodeRecords(_ records: ArraySlice<[UInt8]>, firstSequence: UInt64, writtenAt: Int64) -> [UInt8] {
        let total = records.reduce(0) { $0 + recordHeaderSize + $1.count }
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let bytes = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            var sequence = firstSequence
            for payload in records {
                bytes.storeLittleEndian(recordMarker, at: offset)
                bytes.storeLittleEndian(UInt32(payload.count), at: offset + 8)
                bytes.storeLittleEndian(sequence, at: offset + 12)
                bytes.storeLittleEndian(writtenAt, at: offset + 20)
                payload.withUnsafeBytes { payload in
                    UnsafeMutableRawBufferPointer(rebasing: bytes[(offset + recordHeaderSize)...])
                        .copyMemory(from: payload)
                }
                let end = offset + recordHeaderSize + payload.count
                let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<end]))
                bytes.storeLittleEndian(crc, at: offset + 4)
                offset = end
                sequence &+= 1
            }
            initialized = total
        }
    }
}

/// The fixed fields in front of a record's payload.
struct RecordHeader: Sendable {
    var checksum: UInt32
    var length: Int
    var sequence: UInt64
    var writtenAt: Int64

    var frameSize: Int { Format.recordHeaderSize + length }

    /// Nil unless `bytes` starts with the record marker; the checksum is the caller's to verify.
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= Format.recordHeaderSize else { return nil }
        let fields: RecordHeader? = bytes.withUnsafeBytes { bytes in
            guard bytes.littleEndian(at: 0, as: UInt32.self) == Format.recordMarker else { return nil }
            return RecordHeader(
                checksum: bytes.littleEndian(at: 4, as: UInt32.self),
                length: Int(bytes.littleEndian(at: 8, as: UInt32.self)),
                sequence: bytes.littleEndian(at: 12, as: UInt64.self),
                writtenAt: bytes.littleEndian(at: 20, as: Int64.self))
        }
        guard let fields else { return nil }
        self = fields
    }

    private init(checksum: UInt32, length: Int, sequence: UInt64, writtenAt: Int64) {
        self.checksum = checksum
        self.length = length
        self.sequence = sequence
        self.writtenAt = writtenAt
    }

    /// Whether `payload` and the header fields after the checksum match the checksum.
    func verifies(header: [UInt8], payload: [UInt8]) -> Bool {
        let crc = header.withUnsafeBytes {
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8..<Format.recordHeaderSize]))
        }
        return payload.withUnsafeBytes { CRC32C.checksum($0, continuing: crc) } == checksum
    }
}

/// A place in the buffer: a byte offset inside a segment file.
struct Position: Hashable, Sendable {
    var segment: UInt64
    var offset: Int
}

/// The ledger file: where acknowledgement stands, so a restart resumes there. The read and written positions are
/// there for whoever inspects a buffer directory by hand.
struct Ledger: Equatable, Sendable {
    var acknowledged: Position
    /// Sequence number of the first unacknowledged record, when known.
    var acknowledgedSequence: UInt64?
    var read: Position
    var written: Position
    var nextSequence: UInt64

    func encoded() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Format.ledgerSize) { buffer, initialized in
            let bytes = UnsafeMutableRawBufferPointer(buffer)
            bytes.storeLittleEndian(Format.ledgerMagic, at: 0)
            bytes.storeLittleEndian(Format.version, at: 8)
            bytes.storeLittleEndian(acknowledged.segment, at: 12)
            bytes.storeLittleEndian(UInt64(acknowledged.offset), at: 20)
            bytes.storeLittleEndian(acknowledgedSequence ?? UInt64.max, at: 28)
            bytes.storeLittleEndian(read.segment, at: 36)
            bytes.storeLittleEndian(UInt64(read.offset), at: 44)
            bytes.storeLittleEndian(written.segment, at: 52)
            bytes.storeLittleEndian(UInt64(written.offset), at: 60)
            bytes.storeLittleEndian(nextSequence, at: 68)
            bytes.storeLittleEndian(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<76])), at: 76)
            initialized = Format.ledgerSize
        }
    }

    /// The ledger in `bytes`, or why there is none.
    static func decode(_ bytes: [UInt8]) -> Result<Ledger, LedgerDamage> {
        guard bytes.count == Format.ledgerSize else { return .failure(.wrongSize(bytes.count)) }
        return bytes.withUnsafeBytes { bytes in
            guard bytes.littleEndian(at: 0, as: UInt64.self) == Format.ledgerMagic else { return .failure(.badMagic) }
            guard
                bytes.littleEndian(at: 76, as: UInt32.self)
                    == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<76]))
            else { return .failure(.checksumMismatch) }
            let version = bytes.littleEndian(at: 8, as: UInt32.self)
            guard version == Format.version else { return .failure(.unsupportedVersion(version)) }
            let offsets = [20, 44, 60].map { bytes.littleEndian(at: $0, as: UInt64.self) }
            guard offsets.allSatisfy({ $0 <= UInt64(Int.max) }) else { return .failure(.impossibleOffset) }
            let acknowledgedSequence = bytes.littleEndian(at: 28, as: UInt64.self)
            return .success(
                Ledger(
                    acknowledged: Position(
                        segment: bytes.littleEndian(at: 12, as: UInt64.self), offset: Int(offsets[0])),
                    acknowledgedSequence: acknowledgedSequence == UInt64.max ? nil : acknowledgedSequence,
                    read: Position(segment: bytes.littleEndian(at: 36, as: UInt64.self), offset: Int(offsets[1])),
                    written: Position(segment: bytes.littleEndian(at: 52, as: UInt64.self), offset: Int(offsets[2])),
                    nextSequence: bytes.littleEndian(at: 68, as: UInt64.self)))
        }
    }
}

/// Why a ledger file could not be used.
enum LedgerDamage: Error, Equatable, CustomStringConvertible {
    case wrongSize(Int)
    case badMagic
    case checksumMismatch
    case unsupportedVersion(UInt32)
    case impossibleOffset

    var description: String {
        switch self {
        case .wrongSize(let size): return "it is \(size) bytes instead of \(Format.ledgerSize)"
        case .badMagic: return "it does not start with the ledger magic"
        case .checksumMismatch: return "its checksum does not match"
        case .unsupportedVersion(let version): return "it has unknown format version \(version)"
        case .impossibleOffset: return "it holds an offset no file can have"
        }
    }
}

extension UnsafeRawBufferPointer {
    func littleEndian<T: FixedWidthInteger & BitwiseCopyable>(at offset: Int, as type: T.Type) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    func storeLittleEndian<T: FixedWidthInteger & BitwiseCopyable>(_ value: T, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}
