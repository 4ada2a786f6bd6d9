import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf

/// Protobuf written field by field, for the requests no generated message writes: fields out of order, repeated,
/// unknown, of the wrong wire type, or malformed.
enum Wire {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }

    static func key(_ field: UInt32, _ wireType: UInt8) -> [UInt8] {
        varint(UInt64(field) << 3 | UInt64(wireType))
    }

    static func varint(_ field: UInt32, _ value: UInt64) -> [UInt8] { key(field, 0) + varint(value) }

    static func fixed64(_ field: UInt32, _ value: UInt64) -> [UInt8] {
        key(field, 1) + withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func fixed32(_ field: UInt32, _ value: UInt32) -> [UInt8] {
        key(field, 5) + withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func bytes(_ field: UInt32, _ payload: [UInt8]) -> [UInt8] {
        key(field, 2) + varint(UInt64(payload.count)) + payload
    }

    static func string(_ field: UInt32, _ text: String) -> [UInt8] { bytes(field, Array(text.utf8)) }

    static func message(_ field: UInt32, _ parts: [UInt8]...) -> [UInt8] { bytes(field, parts.flatMap { $0 }) }

    /// One field of each wire type with numbers no OTLP message of these uses.
    static let unknown: [UInt8] = varint(90, 7) + fixed64(91, 1) + bytes(92, [1, 2, 3]) + fixed32(93, 5)

    static func id(_ first: UInt8, count: Int) -> [UInt8] { (0..<count).map { first &+ UInt8($0) } }
}

/// What a decoding gave: its value or that it failed, for comparing the hand-written decoders with swift-protobuf.
enum DecodingOutcome<Value: Equatable>: Equatable {
    case decoded(Value)
    case failed

    var failed: Bool { self == .failed }
}

/// The trace result of both paths, comparable.
struct TraceOutcome: Equatable {
    var batch: SpanBatch
    var rejectedSpans: Int
    var message: String?
}

enum BothDecoders {
    /// swift-protobuf's message, then `OTLPTraceConversion`: the otlp source's path before the hand-written decoder.
    static func tracesThroughMessages(_ bytes: [UInt8], dropInvalid: Bool = true) -> DecodingOutcome<TraceOutcome> {
        guard let request = try? OTLPFixtures.TraceRequest(serializedBytes: bytes) else { return .failed }
        let result = OTLPTraceConversion.spanBatch(from: request, dropInvalid: dropInvalid)
        return .decoded(TraceOutcome(batch: result.batch, rejectedSpans: result.rejectedSpans, message: result.message))
    }

    static func tracesByHand(_ bytes: [UInt8], dropInvalid: Bool = true) -> DecodingOutcome<TraceOutcome> {
        guard let result = try? OTLPTraceDecoder.decode(bytes, dropInvalid: dropInvalid) else { return .failed }
        return .decoded(TraceOutcome(batch: result.batch, rejectedSpans: result.rejectedSpans, message: result.message))
    }

    static func logsThroughMessages(_ bytes: [UInt8]) -> DecodingOutcome<LogBatch> {
        guard let request = try? OTLPFixtures.LogsRequest(serializedBytes: bytes) else { return .failed }
        return .decoded(OTLPLogConversion.logBatch(from: request))
    }

    static func logsByHand(_ bytes: [UInt8]) -> DecodingOutcome<LogBatch> {
        guard let batch = try? OTLPLogDecoder.decode(bytes) else { return .failed }
        return .decoded(batch)
    }
}
