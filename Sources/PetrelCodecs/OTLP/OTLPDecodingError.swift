import SwiftProtobuf

/// Why an OTLP request body could not be decoded; its description is one line fit for an HTTP 400 body or a gRPC
/// INVALID_ARGUMENT status message.
///
/// Equality compares the kind of failure only; the description says where and why.
public struct OTLPDecodingError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Kind: Hashable, Sendable {
        case malformedProtobuf
        case invalidJSON
        case invalidID
        case schemaMismatch
    }

    private let kind: Kind
    public let description: String

    private init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// The body is not a valid protobuf encoding of the message.
    public static let malformedProtobuf = OTLPDecodingError(.malformedProtobuf, "malformed protobuf")

    /// The body is not valid JSON.
    public static let invalidJSON = OTLPDecodingError(.invalidJSON, "invalid JSON")

    /// A `traceId`, `spanId` or `parentSpanId` is not hex.
    public static let invalidID = OTLPDecodingError(.invalidID, "invalid id")

    /// The body is valid JSON but not the message's OTLP/JSON mapping (a wrong type, an unknown enum name...).
    public static let schemaMismatch = OTLPDecodingError(.schemaMismatch, "JSON does not match the message")

    public static func == (lhs: OTLPDecodingError, rhs: OTLPDecodingError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }

    // MARK: Making errors (cold paths)

    /// The short name of a message type (`ExportTraceServiceRequest`), as error messages name it.
    static func name(of type: (some Message).Type) -> Substring {
        let full = type.protoMessageName
        return full.lastIndex(of: ".").map { full[full.index(after: $0)...] } ?? full[...]
    }

    @inline(never)
    static func protobuf(_ error: any Error, decoding type: (some Message).Type) -> Self {
        let reason: String
        switch error {
        case BinaryDecodingError.truncated: reason = "truncated"
        case BinaryDecodingError.invalidUTF8: reason = "a string is not valid UTF-8"
        case BinaryDecodingError.messageDepthLimit: reason = "messages nested too deeply"
        case BinaryDecodingError.trailingGarbage: reason = "trailing bytes"
        default: reason = ""
        }
        return Self(
            .malformedProtobuf,
            "cannot decode \(name(of: type)): malformed protobuf" + (reason.isEmpty ? "" : " (\(reason))"))
    }

    /// A failure of the hand-written decoders (`OTLPTraceDecoder`, `OTLPLogDecoder`), worded as swift-protobuf's are.
    @inline(never)
    static func protobuf(_ error: ProtobufDecodingError, decoding messageName: String) -> Self {
        Self(.malformedProtobuf, "cannot decode \(messageName): malformed protobuf (\(error))")
    }

    @inline(never)
    static func json(_ problem: String, at offset: Int, decoding type: (some Message).Type) -> Self {
        Self(.invalidJSON, "cannot decode \(name(of: type)): invalid JSON at byte \(offset): \(problem)")
    }

    @inline(never)
    static func id(_ key: String, _ value: [UInt8], decoding type: (some Message).Type) -> Self {
        let digits = key.lowercased().hasPrefix("trace") ? 32 : 16
        let limit = 48
        let text = String(decoding: value.prefix(limit), as: UTF8.self) + (value.count > limit ? "…" : "")
        return Self(
            .invalidID, "cannot decode \(name(of: type)): \(key) \(text.debugDescription) is not \(digits) hex digits")
    }

    @inline(never)
    static func schema(_ error: any Error, decoding type: (some Message).Type) -> Self {
        let reason: String
        switch error {
        case JSONDecodingError.malformedNumber: reason = "malformed number"
        case JSONDecodingError.numberRange: reason = "number out of range"
        case JSONDecodingError.malformedBool: reason = "malformed boolean"
        case JSONDecodingError.malformedString: reason = "malformed string"
        case JSONDecodingError.invalidUTF8: reason = "a string is not valid UTF-8"
        case JSONDecodingError.unrecognizedEnumValue: reason = "unknown enum value"
        case JSONDecodingError.illegalNull: reason = "null where a value is required"
        case JSONDecodingError.leadingZero: reason = "number with a leading zero"
        case JSONDecodingError.conflictingOneOf: reason = "two members of a oneof are set"
        case JSONDecodingError.messageDepthLimit: reason = "messages nested too deeply"
        case JSONDecodingError.truncated: reason = "truncated"
        default: reason = "a value has the wrong type for its field"
        }
        return Self(.schemaMismatch, "cannot decode \(name(of: type)): JSON does not match the schema (\(reason))")
    }
}
