/// A protobuf wire type the reader accepts; the deprecated group types (3 and 4) are rejected as malformed.
public enum ProtobufWireType: UInt8, Sendable, Hashable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

/// A field key read from the wire: the field number, its wire type and where the key starts.
public struct ProtobufFieldKey: Sendable, Hashable {
    public var number: UInt32
    public var wireType: ProtobufWireType
    /// The key's offset from the start of the outermost buffer, for error messages.
    public var offset: Int

    @inlinable
    public init(number: UInt32, wireType: ProtobufWireType, offset: Int) {
        self.number = number
        self.wireType = wireType
        self.offset = offset
    }

    /// Throws unless the field came with `expected`: a known field with the wrong wire type is malformed.
    @inlinable @inline(__always)
    public func expect(_ expected: ProtobufWireType) throws(ProtobufDecodingError) {
        guard wireType == expected else { throw .wrongWireType(self, expected: expected) }
    }
}

/// A bounds-checked protobuf wire-format reader over borrowed bytes.
///
/// It walks fields without allocating: strings and nested messages come back as ranges of the buffer. Every
/// offset (in `position` and in errors) counts from the start of the outermost buffer, so an error found deep in a
/// nested message still says where in the whole request it is. The bytes must outlive the reader.
public struct ProtobufReader {
    /// The outermost buffer; nested readers share it and only narrow `position..<end`.
    public let buffer: UnsafeRawBufferPointer
    @usableFromInline var cursor: Int
    @usableFromInline let limit: Int

    /// A reader over all of `buffer`.
    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.cursor = 0
        self.limit = buffer.count
    }

    /// A reader over `range` of `buffer`, which must lie within it.
    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer, range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "range outside the buffer")
        self.buffer = buffer
        self.cursor = range.lowerBound
        self.limit = range.upperBound
    }

    /// The offset of the next byte to read.
    @inlinable public var position: Int { cursor }

    /// The offset just past the last byte this reader may read.
    @inlinable public var end: Int { limit }

    @inlinable public var isAtEnd: Bool { cursor >= limit }

    /// The bytes of `range`, as returned by `readLengthDelimited`.
    @inlinable
    public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[range])
    }

    // MARK: Scalars

    @inlinable @inline(__always)
    public mutating func readVarint() throws(ProtobufDecodingError) -> UInt64 {
        // Most varints on the hot path (keys, lengths of short strings, small refs) are one byte.
        if cursor < limit {
            let byte = buffer[cursor]
            if byte < 0x80 {
                cursor += 1
                return UInt64(byte)
            }
        }
        return try readMultibyteVarint()
    }

    @usableFromInline
    mutating func readMultibyteVarint() throws(ProtobufDecodingError) -> UInt64 {
        let start = cursor
        var index = cursor
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < limit {
            let byte = buffer[index]
            index += 1
            // The tenth byte holds bit 63 only: anything more overflows 64 bits or continues past ten bytes.
            if shift == 63 && byte > 1 { throw .malformedVarint(at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                cursor = index
                return result
            }
            shift += 7
        }
        throw .truncated(.varint, at: start, needed: 1, available: limit - start)
    }

    @inlinable @inline(__always)
    public mutating func readFixed64() throws(ProtobufDecodingError) -> UInt64 {
        guard limit - cursor >= 8 else { throw .truncated(.fixed64, at: cursor, needed: 8, available: limit - cursor) }
        let value = buffer.loadUnaligned(fromByteOffset: cursor, as: UInt64.self)
        cursor += 8
        return UInt64(littleEndian: value)
    }

    @inlinable @inline(__always)
    public mutating func readFixed32() throws(ProtobufDecodingError) -> UInt32 {
        guard limit - cursor >= 4 else { throw .truncated(.fixed32, at: cursor, needed: 4, available: limit - cursor) }
        let value = buffer.loadUnaligned(fromByteOffset: cursor, as: UInt32.self)
        cursor += 4
        return UInt32(littleEndian: value)
    }

    @inlinable @inline(__always)
    public mutating func readDouble() throws(ProtobufDecodingError) -> Double {
        Double(bitPattern: try readFixed64())
    }

    /// Reads an `int64` varint, which carries negative numbers as their 64-bit two's complement.
    @inlinable @inline(__always)
    public mutating func readInt64() throws(ProtobufDecodingError) -> Int64 {
        Int64(bitPattern: try readVarint())
    }

    /// Reads a `sint64` varint (zigzag encoded).
    @inlinable @inline(__always)
    public mutating func readSInt64() throws(ProtobufDecodingError) -> Int64 {
        Self.zigZagDecode(try readVarint())
    }

    /// Reads a `sint32` varint (zigzag encoded), truncating to 32 bits as the protobuf spec says parsers do.
    @inlinable @inline(__always)
    public mutating func readSInt32() throws(ProtobufDecodingError) -> Int32 {
        let value = UInt32(truncatingIfNeeded: try readVarint())
        return Int32(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    @inlinable @inline(__always)
    public static func zigZagDecode(_ value: UInt64) -> Int64 {
        Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    // MARK: Fields

    /// Reads a field key; throws on field number 0, on the group wire types and on wire types 6 and 7.
    @inlinable @inline(__always)
    public mutating func readFieldKey() throws(ProtobufDecodingError) -> ProtobufFieldKey {
        let offset = cursor
        let key = try readVarint()
        let number = key >> 3
        guard number != 0, key <= UInt64(UInt32.max) else { throw .invalidFieldKey(key, at: offset) }
        let wireType: ProtobufWireType
        switch key & 7 {
        case 0: wireType = .varint
        case 1: wireType = .fixed64
        case 2: wireType = .lengthDelimited
        case 5: wireType = .fixed32
        case 3, 4: throw .groupWireType(key, at: offset)
        default: throw .invalidFieldKey(key, at: offset)
        }
        return ProtobufFieldKey(number: UInt32(number), wireType: wireType, offset: offset)
    }

    /// Reads a length-delimited value and returns where its bytes are, without copying them.
    @inlinable @inline(__always)
    public mutating func readLengthDelimited() throws(ProtobufDecodingError) -> Range<Int> {
        let offset = cursor
        let length = try readVarint()
        let available = limit - cursor
        guard length <= UInt64(available) else {
            throw .truncated(.lengthDelimited, at: offset, needed: Int(clamping: length), available: available)
        }
        let start = cursor
        cursor += Int(length)
        return start..<cursor
    }

    /// Reads a `string` field's value; throws unless it is well-formed UTF-8, as protobuf requires.
    @inlinable @inline(__always)
    public mutating func readString() throws(ProtobufDecodingError) -> String {
        let range = try readLengthDelimited()
        return try string(range)
    }

    /// The text of `range`, which a `string` field's value must be: well-formed UTF-8.
    ///
    /// Not `String(validating:as:)`: that one is generic in the standard library and looks up type metadata on every
    /// call, which cost the OTLP decoders a tenth of the agent's CPU.
    public func string(_ range: Range<Int>) throws(ProtobufDecodingError) -> String {
        if range.isEmpty { return "" }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[range])
        guard RemoteWriteDecoding.isValidUTF8(bytes) else { throw .invalidUTF8(at: range.lowerBound) }
        return String(decoding: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }

    /// Reads a length-delimited value and returns a reader over just its bytes.
    @inlinable @inline(__always)
    public mutating func readMessage() throws(ProtobufDecodingError) -> ProtobufReader {
        let range = try readLengthDelimited()
        return ProtobufReader(buffer, unchecked: range)
    }

    @inlinable @inline(__always)
    init(_ buffer: UnsafeRawBufferPointer, unchecked range: Range<Int>) {
        self.buffer = buffer
        self.cursor = range.lowerBound
        self.limit = range.upperBound
    }

    /// Skips the value of a field whose key was just read: what a reader does with fields it does not know.
    @inlinable
    public mutating func skipField(_ key: ProtobufFieldKey) throws(ProtobufDecodingError) {
        switch key.wireType {
        case .varint:
            _ = try readVarint()
        case .fixed64:
            guard limit - cursor >= 8 else {
                throw .truncated(.fixed64, at: cursor, needed: 8, available: limit - cursor)
            }
            cursor += 8
        case .fixed32:
            guard limit - cursor >= 4 else {
                throw .truncated(.fixed32, at: cursor, needed: 4, available: limit - cursor)
            }
            cursor += 4
        case .lengthDelimited:
            _ = try readLengthDelimited()
        }
    }

    // MARK: Repeated scalars

    /// Reads a repeated varint field's value: one when sent unpacked, or every value of a packed run.
    ///
    /// Parsers must accept both encodings of a repeated scalar, whatever the schema's default.
    @inlinable @inline(__always)
    public mutating func readRepeatedVarint(
        _ key: ProtobufFieldKey,
        _ body: (UInt64) -> Void
    ) throws(ProtobufDecodingError) {
        switch key.wireType {
        case .varint:
            body(try readVarint())
        case .lengthDelimited:
            var packed = try readMessage()
            while !packed.isAtEnd {
                body(try packed.readVarint())
            }
        default:
            throw .wrongWireType(key, expected: .lengthDelimited)
        }
    }

    /// Reads a repeated fixed64 field's value: one when sent unpacked, or every value of a packed run.
    @inlinable @inline(__always)
    public mutating func readRepeatedFixed64(
        _ key: ProtobufFieldKey,
        _ body: (UInt64) -> Void
    ) throws(ProtobufDecodingError) {
        switch key.wireType {
        case .fixed64:
            body(try readFixed64())
        case .lengthDelimited:
            var packed = try readMessage()
            while !packed.isAtEnd {
                body(try packed.readFixed64())
            }
        default:
            throw .wrongWireType(key, expected: .lengthDelimited)
        }
    }
}
