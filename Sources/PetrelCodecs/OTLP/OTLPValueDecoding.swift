import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the OTLP messages the signals share (`KeyValue`, `AnyValue`, `Resource`, `InstrumentationScope`) off the
/// wire straight into the event model, as `OTLPValueConversion` converts swift-protobuf's messages.
///
/// It keeps swift-protobuf's decoding rules so both paths give the same events: the last of a repeated scalar field
/// wins, a singular message field sent twice is merged (an `AnyValue` keeps merging an array or a kvlist only while
/// the case stays the same), a `KeyValueList` keeps the first of duplicate keys, and messages may nest at most
/// `depthLimit` deep counting the request as 1. Unlike swift-protobuf, a known field with the wrong wire type is an
/// error rather than an unknown field: no sender writes one, and accepting it would hide a schema mix-up.
///
/// Strings repeat from span to span (attribute keys, most values, span and scope names): a small table of the
/// strings already made from the request's bytes hands out the same `String` again, one retain instead of an
/// allocation, a copy and a UTF-8 check.
struct OTLPValueDecoding {
    /// swift-protobuf's default `messageDepthLimit`, so that both decoders refuse the same requests.
    static let depthLimit = 100

    /// Strings of at most 15 UTF-8 bytes are stored inline in `String` and cost nothing to make again; past this
    /// length a string is rarely repeated.
    private static let cachedLengths = 16...128
    private static let cacheSize = 256

    let buffer: UnsafeRawBufferPointer
    /// Where the bytes of each cached string start and how many there are (0: an empty slot), and the string.
    private var cachedOffsets: [Int]
    private var cachedCounts: [Int]
    private var cachedStrings: [String]

    init(buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        cachedOffsets = Array(repeating: 0, count: Self.cacheSize)
        cachedCounts = Array(repeating: 0, count: Self.cacheSize)
        cachedStrings = Array(repeating: "", count: Self.cacheSize)
    }

    /// The text of a `string` field's bytes, which must be well-formed UTF-8.
    @inline(__always)
    mutating func string(_ range: Range<Int>) throws(ProtobufDecodingError) -> String {
        let count = range.count
        guard Self.cachedLengths.contains(count) else {
            return try ProtobufReader(buffer, unchecked: range).string(range)
        }
        let base = buffer.baseAddress.unsafelyUnwrapped
        let start = base + range.lowerBound
        // Both ends and the length tell most keys and values apart; the slot's bytes are compared in full anyway.
        let head = start.loadUnaligned(as: UInt64.self)
        let tail = start.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        let hash = (head &* 0x9E37_79B9_7F4A_7C15 ^ tail &* 0xC2B2_AE3D_27D4_EB4F ^ UInt64(count)) >> 56
        let slot = Int(hash) & (Self.cacheSize - 1)
        if cachedCounts[slot] == count && memcmp(base + cachedOffsets[slot], start, count) == 0 {
            return cachedStrings[slot]
        }
        let text = try ProtobufReader(buffer, unchecked: range).string(range)
        cachedOffsets[slot] = range.lowerBound
        cachedCounts[slot] = count
        cachedStrings[slot] = text
        return text
    }

    @inline(__always)
    static func checkDepth(_ depth: Int, _ range: Range<Int>) throws(ProtobufDecodingError) {
        guard depth <= depthLimit else { throw .nestedTooDeeply(limit: depthLimit, at: range.lowerBound) }
    }

    /// A `KeyValue` message at nesting level `depth`; its value is `.null` when absent.
    mutating func attribute(
        _ range: Range<Int>, depth: Int
    ) throws(ProtobufDecodingError) -> Attribute {
        try Self.checkDepth(depth, range)
        var reader = ProtobufReader(buffer, unchecked: range)
        var key = ""
        var value = AnyValue.null
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                key = try string(reader.readLengthDelimited())
            case 2:
                try field.expect(.lengthDelimited)
                try anyValue(reader.readLengthDelimited(), depth: depth + 1, into: &value)
            default:
                // 3 is `key_strindex`, which belongs to the profiles signal's string table.
                try reader.skipField(field)
            }
        }
        return Attribute(key, value)
    }

    /// An `AnyValue` message at nesting level `depth`, merged into `value` as protobuf merges a message sent again;
    /// returns whether it set one of the oneof's members (a log body set to no value differs from no body).
    @discardableResult
    mutating func anyValue(
        _ range: Range<Int>, depth: Int, into value: inout AnyValue
    ) throws(ProtobufDecodingError) -> Bool {
        try Self.checkDepth(depth, range)
        var reader = ProtobufReader(buffer, unchecked: range)
        var set = false
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            if (1...8).contains(field.number) { set = true }
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                value = .string(try string(reader.readLengthDelimited()))
            case 2:
                try field.expect(.varint)
                value = .bool(try reader.readVarint() != 0)
            case 3:
                try field.expect(.varint)
                value = .int(try reader.readInt64())
            case 4:
                try field.expect(.fixed64)
                value = .double(try reader.readDouble())
            case 5:
                try field.expect(.lengthDelimited)
                var values: [AnyValue] = []
                if case .array(let existing) = value {
                    values = existing
                    value = .null  // lets `values` be the array's only owner while it grows
                }
                try arrayValue(reader.readLengthDelimited(), depth: depth + 1, into: &values)
                value = .array(values)
            case 6:
                try field.expect(.lengthDelimited)
                var object: [String: AnyValue] = [:]
                if case .object(let existing) = value {
                    object = existing
                    value = .null
                }
                try keyValueList(reader.readLengthDelimited(), depth: depth + 1, into: &object)
                value = .object(object)
            case 7:
                try field.expect(.lengthDelimited)
                value = .bytes(Array(reader.bytes(try reader.readLengthDelimited())))
            case 8:
                // `string_value_strindex` points into the profiles signal's string table, which a request of
                // another signal does not have: it reads as no value, as `OTLPValueConversion` has it.
                try field.expect(.varint)
                _ = try reader.readVarint()
                value = .null
            default:
                try reader.skipField(field)
            }
        }
        return set
    }

    private mutating func arrayValue(
        _ range: Range<Int>, depth: Int, into values: inout [AnyValue]
    ) throws(ProtobufDecodingError) {
        try Self.checkDepth(depth, range)
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            guard field.number == 1 else {
                try reader.skipField(field)
                continue
            }
            try field.expect(.lengthDelimited)
            var element = AnyValue.null
            try anyValue(reader.readLengthDelimited(), depth: depth + 1, into: &element)
            values.append(element)
        }
    }

    private mutating func keyValueList(
        _ range: Range<Int>, depth: Int, into object: inout [String: AnyValue]
    ) throws(ProtobufDecodingError) {
        try Self.checkDepth(depth, range)
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            guard field.number == 1 else {
                try reader.skipField(field)
                continue
            }
            try field.expect(.lengthDelimited)
            let pair = try attribute(reader.readLengthDelimited(), depth: depth + 1)
            // The first of duplicate keys wins, as `OTLPValueConversion.object` has it.
            if object[pair.key] == nil { object[pair.key] = pair.value }
        }
    }

    /// A `Resource` message (at level 3 in every signal), merged into `resource`; its `entity_refs` are skipped, as
    /// `Resource` has no place for them.
    mutating func resource(
        _ range: Range<Int>, depth: Int, into resource: inout Resource
    ) throws(ProtobufDecodingError) {
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                resource.attributes.append(try attribute(reader.readLengthDelimited(), depth: depth + 1))
            case 2:
                try field.expect(.varint)
                resource.droppedAttributesCount = UInt32(truncatingIfNeeded: try reader.readVarint())
            default:
                try reader.skipField(field)
            }
        }
    }

    /// An `InstrumentationScope` message, merged into `scope`.
    mutating func scope(
        _ range: Range<Int>, depth: Int, into scope: inout InstrumentationScope
    ) throws(ProtobufDecodingError) {
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                scope.name = try string(reader.readLengthDelimited())
            case 2:
                try field.expect(.lengthDelimited)
                scope.version = try string(reader.readLengthDelimited())
            case 3:
                try field.expect(.lengthDelimited)
                scope.attributes.append(try attribute(reader.readLengthDelimited(), depth: depth + 1))
            case 4:
                try field.expect(.varint)
                scope.droppedAttributesCount = UInt32(truncatingIfNeeded: try reader.readVarint())
            default:
                try reader.skipField(field)
            }
        }
    }

    /// A 16-byte trace id from the wire; the caller has checked the length.
    @inline(__always)
    static func traceID(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> TraceID {
        TraceID(
            high: UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: range.lowerBound, as: UInt64.self)),
            low: UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: range.lowerBound + 8, as: UInt64.self)))
    }

    /// An 8-byte span id from the wire; the caller has checked the length.
    @inline(__always)
    static func spanID(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> SpanID {
        SpanID(UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: range.lowerBound, as: UInt64.self)))
    }

    /// Whether every byte of `range` is zero.
    @inline(__always)
    static func isZero(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        buffer[range].allSatisfy { $0 == 0 }
    }
}
