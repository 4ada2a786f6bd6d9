import SwiftProtobuf

/// OTLP/JSON, the OTLP specification's JSON encoding of its protobuf messages, and protobuf decoding with the same
/// error type.
///
/// OTLP/JSON is protobuf's canonical JSON mapping with one change: trace and span ids are hex strings, not base64.
/// Decoding also takes enums as integers or names, field names in lowerCamelCase or as in the proto, 64-bit integers
/// as numbers or strings, and ignores unknown fields, as the specification asks of receivers. Encoding writes enums
/// as integers and 64-bit integers as strings.
public enum OTLPJSON {
    /// Decodes an OTLP/JSON body.
    public static func decode<M: SwiftProtobuf.Message>(_ bytes: [UInt8], as type: M.Type) throws(OTLPDecodingError)
        -> M
    {
        let rewritten: [UInt8]?
        switch OTLPJSONIDRewriter.rewrite(bytes, .hexToBase64) {
        case .success(let output):
            rewritten = output
        case .failure(.syntax(let problem, let offset)):
            throw .json(problem, at: offset, decoding: type)
        case .failure(.id(let key, let value)):
            throw .id(key, value, decoding: type)
        }
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        do {
            return try M(jsonUTF8Bytes: rewritten ?? bytes, options: options)
        } catch {
            throw .schema(error, decoding: type)
        }
    }

    /// Encodes a message as OTLP/JSON.
    public static func encode(_ message: some SwiftProtobuf.Message) -> [UInt8] {
        var options = JSONEncodingOptions()
        options.alwaysPrintEnumsAsInts = true
        let json: [UInt8]
        do {
            json = try message.jsonUTF8Bytes(options: options)
        } catch {
            // Only well-known types (Any, Timestamp, Duration...) can fail to encode, and OTLP uses none of them.
            preconditionFailure("OTLP message \(type(of: message).protoMessageName) failed to encode as JSON: \(error)")
        }
        switch OTLPJSONIDRewriter.rewrite(json, .base64ToHex) {
        case .success(let output): return output ?? json
        case .failure(let failure):
            preconditionFailure("swift-protobuf wrote JSON that does not read back: \(failure)")
        }
    }

    /// Decodes a protobuf body.
    public static func decodeProtobuf<M: SwiftProtobuf.Message>(_ bytes: [UInt8], as type: M.Type)
        throws(OTLPDecodingError) -> M
    {
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw .protobuf(error, decoding: type)
        }
    }
}
