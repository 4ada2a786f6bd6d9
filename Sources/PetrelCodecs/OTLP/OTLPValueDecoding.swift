import PetrelCore

/// Reads the OTLP messages the signals share (`KeyValue`, `AnyValue`, `Resource`, `InstrumentationScope`) off the
/// wire straight into the event model, as `OTLPValueConversion` converts swift-protobuf's messages.
///
/// It keeps swift-protobuf's decoding rules so both paths give the same events: the last of a repeated scalar field
/// wins, a singular message field sent twice is merged (an `AnyValue` keeps merging an array or a kvlist only while
/// the case stays the same), a `KeyValueList` keeps the first of duplicate keys, and messages may nest at most
/// `depthLimit` deep counting the request as 1. Unlike swift-protobuf, a known field with the wrong wire type is an
/// error rather than an unknown field: no sender writes one, and accepting it would hide a schema mix-up.
enum OTLPValueDecoding {
    /// swift-protobuf's default `messageDepthLimit`, so that both decoders refuse the same requests.
    static let depthLimit = 100

    @inline(__always)
    static func checkDepth(_ depth: Int, _ range: Range<Int>) throws(ProtobufDecodingError) {
        guard depth <= depthLimit else { throw .nestedTooDeeply(limit: depthLimit, at: range.lowerBound) }
    }

    /// A `KeyValue` message at nesting level `depth`; its value is `.null` when absent.
    static func attribute(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int
    ) throws(ProtobufDecodingError) -> Attribute {
        try checkDepth(depth, range)
        var reader = ProtobufReader(buffer, unchecked: range)
        var key = ""
        var value = AnyValue.null
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                key = try reader.readString()
            case 2:
                try field.expect(.lengthDelimited)
                try anyValue(buffer, reader.readLengthDelimited(), depth: depth + 1, into: &value)
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
    static func anyValue(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int, into value: inout AnyValue
    ) throws(ProtobufDecodingError) -> Bool {
        try checkDepth(depth, range)
        var reader = ProtobufReader(buffer, unchecked: range)
        var set = false
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            if (1...8).contains(field.number) { set = true }
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                value = .string(try reader.readString())
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
                try arrayValue(buffer, reader.readLengthDelimited(), depth: depth + 1, into: &values)
                value = .array(values)
            case 6:
                try field.expect(.lengthDelimited)
                var object: [String: AnyValue] = [:]
                if case .object(let existing) = value {
                    object = existing
                    value = .null
                }
                try keyValueList(buffer, reader.readLengthDelimited(), depth: depth + 1, into: &object)
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

    private static func arrayValue(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int, into values: inout [AnyValue]
    ) throws(ProtobufDecodingError) {
        try checkDepth(depth, range)
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            guard field.number == 1 else {
                try reader.skipField(field)
                continue
            }
            try field.expect(.lengthDelimited)
            var element = AnyValue.null
            try anyValue(buffer, reader.readLengthDelimited(), depth: depth + 1, into: &element)
            values.append(element)
        }
    }

    private static func keyValueList(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int, into object: inout [String: AnyValue]
    ) throws(ProtobufDecodingError) {
        try checkDepth(depth, range)
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            guard field.number == 1 else {
                try reader.skipField(field)
                continue
            }
            try field.expect(.lengthDelimited)
            let pair = try attribute(buffer, reader.readLengthDelimited(), depth: depth + 1)
            // The first of duplicate keys wins, as `OTLPValueConversion.object` has it.
            if object[pair.key] == nil { object[pair.key] = pair.value }
        }
    }

    /// A `Resource` message (at level 3 in every signal), merged into `resource`; its `entity_refs` are skipped, as
    /// `Resource` has no place for them.
    static func resource(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int, into resource: inout Resource
    ) throws(ProtobufDecodingError) {
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                resource.attributes.append(try attribute(buffer, reader.readLengthDelimited(), depth: depth + 1))
            case 2:
                try field.expect(.varint)
                resource.droppedAttributesCount = UInt32(truncatingIfNeeded: try reader.readVarint())
            default:
                try reader.skipField(field)
            }
        }
    }

    /// An `InstrumentationScope` message, merged into `scope`.
    static func scope(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int, into scope: inout InstrumentationScope
    ) throws(ProtobufDecodingError) {
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                scope.name = try reader.readString()
            case 2:
                try field.expect(.lengthDelimited)
                scope.version = try reader.readString()
            case 3:
                try field.expect(.lengthDelimited)
                scope.attributes.append(try attribute(buffer, reader.readLengthDelimited(), depth: depth + 1))
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
