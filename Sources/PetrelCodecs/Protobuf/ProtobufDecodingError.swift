/// Why protobuf wire-format bytes could not be read.
///
/// Equality compares the kind of failure only, so `error == .truncated` matches wherever it happened; the offset
/// and the other details are there for the message.
public struct ProtobufDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of value was cut short.
    @usableFromInline
    enum Value: Sendable, Hashable {
        case varint
        case fixed32
        case fixed64
        case lengthDelimited
    }

    private enum Kind: Hashable, Sendable {
        case truncated
        case malformedVarint
        case invalidFieldKey
        case groupWireType
        case wrongWireType
        case invalidUTF8
        case nestedTooDeeply
    }

    private enum Detail: Hashable, Sendable {
        case truncated(Value, needed: Int, available: Int)
        case malformedVarint
        case invalidFieldKey(UInt64)
        case groupWireType(UInt64)
        case wrongWireType(field: UInt32, found: ProtobufWireType, expected: ProtobufWireType)
        case invalidUTF8
        case nestedTooDeeply(limit: Int)
        case none
    }

    private let kind: Kind
    private let detail: Detail

    /// Where the offending value or key starts, counted from the start of the outermost buffer.
    public let offset: Int

    private init(_ kind: Kind, _ detail: Detail = .none, offset: Int = 0) {
        self.kind = kind
        self.detail = detail
        self.offset = offset
    }

    /// A value or a length-delimited field runs past the end of its message.
    public static let truncated = ProtobufDecodingError(.truncated)

    /// A varint is longer than ten bytes or overflows 64 bits.
    public static let malformedVarint = ProtobufDecodingError(.malformedVarint)

    /// A field key has field number 0 or an undefined wire type (6 or 7), or does not fit 32 bits.
    public static let invalidFieldKey = ProtobufDecodingError(.invalidFieldKey)

    /// A field uses the deprecated group wire types (3 or 4), which no schema we read declares.
    public static let groupWireType = ProtobufDecodingError(.groupWireType)

    /// A known field came with a wire type its schema does not allow.
    public static let wrongWireType = ProtobufDecodingError(.wrongWireType)

    /// A `string` field is not well-formed UTF-8, which protobuf requires of it.
    public static let invalidUTF8 = ProtobufDecodingError(.invalidUTF8)

    /// Messages are nested deeper than the reader allows (recursive types such as OTLP's `AnyValue` can nest
    /// without end).
    public static let nestedTooDeeply = ProtobufDecodingError(.nestedTooDeeply)

    // The factories below are kept out of line so the readers' hot paths stay small.

    @usableFromInline @inline(never)
    static func truncated(_ value: Value, at offset: Int, needed: Int, available: Int) -> ProtobufDecodingError {
        ProtobufDecodingError(.truncated, .truncated(value, needed: needed, available: available), offset: offset)
    }

    @usableFromInline @inline(never)
    static func malformedVarint(at offset: Int) -> ProtobufDecodingError {
        ProtobufDecodingError(.malformedVarint, .malformedVarint, offset: offset)
    }

    @usableFromInline @inline(never)
    static func invalidFieldKey(_ key: UInt64, at offset: Int) -> ProtobufDecodingError {
        ProtobufDecodingError(.invalidFieldKey, .invalidFieldKey(key), offset: offset)
    }

    @usableFromInline @inline(never)
    static func groupWireType(_ key: UInt64, at offset: Int) -> ProtobufDecodingError {
        ProtobufDecodingError(.groupWireType, .groupWireType(key), offset: offset)
    }

    @usableFromInline @inline(never)
    static func wrongWireType(_ key: ProtobufFieldKey, expected: ProtobufWireType) -> ProtobufDecodingError {
        ProtobufDecodingError(
            .wrongWireType, .wrongWireType(field: key.number, found: key.wireType, expected: expected),
            offset: key.offset)
    }

    @usableFromInline @inline(never)
    static func invalidUTF8(at offset: Int) -> ProtobufDecodingError {
        ProtobufDecodingError(.invalidUTF8, .invalidUTF8, offset: offset)
    }

    @usableFromInline @inline(never)
    static func nestedTooDeeply(limit: Int, at offset: Int) -> ProtobufDecodingError {
        ProtobufDecodingError(.nestedTooDeeply, .nestedTooDeeply(limit: limit), offset: offset)
    }

    public static func == (lhs: ProtobufDecodingError, rhs: ProtobufDecodingError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }

    public var description: String {
        switch detail {
        case .truncated(.lengthDelimited, let needed, let available):
            return "length-delimited field of \(needed) bytes at byte \(offset) runs past the end of its message "
                + "(\(available) bytes left)"
        case .truncated(let value, _, _):
            return "truncated \(Self.name(value)) at byte \(offset)"
        case .malformedVarint:
            return "varint longer than 10 bytes at byte \(offset)"
        case .invalidFieldKey(let key):
            return "invalid field key \(key) (field \(key >> 3), wire type \(key & 7)) at byte \(offset)"
        case .groupWireType(let key):
            return "field \(key >> 3) at byte \(offset) uses the deprecated group wire type \(key & 7)"
        case .wrongWireType(let field, let found, let expected):
            return "field \(field) at byte \(offset) has wire type \(found.rawValue) (\(Self.name(found))), "
                + "expected \(expected.rawValue) (\(Self.name(expected)))"
        case .invalidUTF8:
            return "a string is not valid UTF-8 at byte \(offset)"
        case .nestedTooDeeply(let limit):
            return "messages nested too deeply (more than \(limit) levels) at byte \(offset)"
        case .none:
            switch kind {
            case .truncated: return "truncated protobuf value"
            case .malformedVarint: return "malformed varint"
            case .invalidFieldKey: return "invalid field key"
            case .groupWireType: return "deprecated group wire type"
            case .wrongWireType: return "wrong wire type for a known field"
            case .invalidUTF8: return "a string is not valid UTF-8"
            case .nestedTooDeeply: return "messages nested too deeply"
            }
        }
    }

    private static func name(_ value: Value) -> String {
        switch value {
        case .varint: return "varint"
        case .fixed32: return "fixed32"
        case .fixed64: return "fixed64"
        case .lengthDelimited: return "length-delimited field"
        }
    }

    private static func name(_ wireType: ProtobufWireType) -> String {
        switch wireType {
        case .varint: return "varint"
        case .fixed64: return "fixed64"
        case .lengthDelimited: return "length-delimited"
        case .fixed32: return "fixed32"
        }
    }
}
