/// Writes protobuf wire format into memory sized up front with the size helpers.
///
/// Length prefixes come before their messages, so encoders compute every size in a first pass and then write each
/// nested message once, in place: no sub-buffers and no copying. Writing straight into the array's storage is
/// several times faster than `Array.append` per byte. A write past the end traps, since the size pass and the
/// write pass disagreeing is a bug, never a property of the input.
public struct ProtobufWriter {
    @usableFromInline let base: UnsafeMutableRawPointer?
    @usableFromInline let capacity: Int
    @usableFromInline var cursor: Int

    /// A writer that fills `buffer` from its start.
    @inlinable
    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.base = buffer.baseAddress
        self.capacity = buffer.count
        self.cursor = 0
    }

    /// How many bytes have been written.
    @inlinable public var position: Int { cursor }

    // MARK: Raw values

    @inlinable @inline(__always)
    public mutating func writeVarint(_ value: UInt64) {
        // Keys and the lengths of labels are one byte.
        if value < 0x80 {
            writeByte(UInt8(truncatingIfNeeded: value))
        } else {
            writeMultibyteVarint(value)
        }
    }

    @usableFromInline
    mutating func writeMultibyteVarint(_ value: UInt64) {
        let size = Self.varintSize(value)
        precondition(capacity - cursor >= size, "ProtobufWriter: write past the computed size")
        let target = base.unsafelyUnwrapped + cursor
        var value = value
        for index in 0..<(size - 1) {
            target.storeBytes(of: UInt8(truncatingIfNeeded: value) | 0x80, toByteOffset: index, as: UInt8.self)
            value >>= 7
        }
        target.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: size - 1, as: UInt8.self)
        cursor += size
    }

    @inlinable @inline(__always)
    public mutating func writeByte(_ byte: UInt8) {
        precondition(cursor < capacity, "ProtobufWriter: write past the computed size")
        base.unsafelyUnwrapped.storeBytes(of: byte, toByteOffset: cursor, as: UInt8.self)
        cursor += 1
    }

    @inlinable @inline(__always)
    public mutating func writeFixed64(_ value: UInt64) {
        precondition(capacity - cursor >= 8, "ProtobufWriter: write past the computed size")
        base.unsafelyUnwrapped.storeBytes(of: value.littleEndian, toByteOffset: cursor, as: UInt64.self)
        cursor += 8
    }

    @inlinable @inline(__always)
    public mutating func writeFixed32(_ value: UInt32) {
        precondition(capacity - cursor >= 4, "ProtobufWriter: write past the computed size")
        base.unsafelyUnwrapped.storeBytes(of: value.littleEndian, toByteOffset: cursor, as: UInt32.self)
        cursor += 4
    }

    /// Copies `bytes` as they are (the body of a string or bytes field whose key and length are written).
    @inlinable @inline(__always)
    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        precondition(capacity - cursor >= count, "ProtobufWriter: write past the computed size")
        guard count > 0 else { return }
        let target = base.unsafelyUnwrapped + cursor
        let source = bytes.baseAddress.unsafelyUnwrapped
        // Label names and values are mostly short, where calling memcpy costs more than copying: two overlapping
        // words cover 8 to 16 bytes, two overlapping halves 4 to 8.
        if count > 16 {
            target.copyMemory(from: source, byteCount: count)
        } else if count >= 8 {
            let head = source.loadUnaligned(as: UInt64.self)
            let tail = source.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            target.storeBytes(of: head, as: UInt64.self)
            target.storeBytes(of: tail, toByteOffset: count - 8, as: UInt64.self)
        } else if count >= 4 {
            let head = source.loadUnaligned(as: UInt32.self)
            let tail = source.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
            target.storeBytes(of: head, as: UInt32.self)
            target.storeBytes(of: tail, toByteOffset: count - 4, as: UInt32.self)
        } else {
            for index in 0..<count {
                target.storeBytes(
                    of: source.load(fromByteOffset: index, as: UInt8.self), toByteOffset: index, as: UInt8.self)
            }
        }
        cursor += count
    }

    // MARK: Fields

    @inlinable @inline(__always)
    public mutating func writeKey(_ field: UInt32, _ wireType: ProtobufWireType) {
        writeVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    @inlinable @inline(__always)
    public mutating func writeVarintField(_ field: UInt32, _ value: UInt64) {
        writeKey(field, .varint)
        writeVarint(value)
    }

    @inlinable @inline(__always)
    public mutating func writeDoubleField(_ field: UInt32, _ value: Double) {
        writeKey(field, .fixed64)
        writeFixed64(value.bitPattern)
    }

    /// Writes a string or bytes field.
    @inlinable @inline(__always)
    public mutating func writeBytesField(_ field: UInt32, _ bytes: UnsafeRawBufferPointer) {
        writeKey(field, .lengthDelimited)
        writeVarint(UInt64(bytes.count))
        writeBytes(bytes)
    }

    /// Writes the key and length of a nested message or packed run whose `length` bytes the caller writes next.
    @inlinable @inline(__always)
    public mutating func writeLengthDelimitedHeader(_ field: UInt32, length: Int) {
        writeKey(field, .lengthDelimited)
        writeVarint(UInt64(length))
    }

    // MARK: Sizes

    /// The number of bytes `value` takes as a varint (1 to 10).
    @inlinable @inline(__always)
    public static func varintSize(_ value: UInt64) -> Int {
        let bits = 64 - (value | 1).leadingZeroBitCount
        return (bits + 6) / 7
    }

    @inlinable @inline(__always)
    public static func keySize(_ field: UInt32) -> Int {
        varintSize(UInt64(field) << 3)
    }

    @inlinable @inline(__always)
    public static func varintFieldSize(_ field: UInt32, _ value: UInt64) -> Int {
        keySize(field) + varintSize(value)
    }

    @inlinable @inline(__always)
    public static func fixed64FieldSize(_ field: UInt32) -> Int {
        keySize(field) + 8
    }

    /// The size of a length-delimited field (key, length and body) whose body is `length` bytes.
    @inlinable @inline(__always)
    public static func lengthDelimitedFieldSize(_ field: UInt32, length: Int) -> Int {
        keySize(field) + varintSize(UInt64(length)) + length
    }

    /// Zigzag-encodes a `sint64` so small negative numbers stay short.
    @inlinable @inline(__always)
    public static func zigZagEncode(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    /// Zigzag-encodes a `sint32`; the result is written as a varint of at most five bytes.
    @inlinable @inline(__always)
    public static func zigZagEncode(_ value: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }
}

extension ProtobufWriter {
    /// Returns exactly `count` bytes written by `body`, which must write all of them.
    @inlinable
    public static func makeBytes(count: Int, _ body: (inout ProtobufWriter) -> Void) -> [UInt8] {
        // Uninitialized capacity skips zero-filling memory the writer is about to overwrite.
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            var writer = ProtobufWriter(UnsafeMutableRawBufferPointer(buffer))
            body(&writer)
            precondition(writer.position == count, "ProtobufWriter: wrote \(writer.position) of \(count) bytes")
            initializedCount = count
        }
    }

    /// Appends exactly `count` bytes written by `body` to `bytes`; a reused array stops allocating once it has
    /// reached its working size.
    @inlinable
    public static func append(to bytes: inout [UInt8], count: Int, _ body: (inout ProtobufWriter) -> Void) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: count))
        bytes.withUnsafeMutableBytes { buffer in
            var writer = ProtobufWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
            body(&writer)
            precondition(writer.position == count, "ProtobufWriter: wrote \(writer.position) of \(count) bytes")
        }
    }
}
