import PetrelCodecs

/// A `google.rpc.Status`: the body of an OTLP/HTTP error answer, and the details of a throttled gRPC answer.
///
/// Encoded by hand: three fields, and one detail type, are not worth a generated message.
struct GoogleRPCStatus: Sendable, Equatable {
    /// The gRPC status codes OTLP answers carry.
    enum Code: Int32, Sendable {
        case invalidArgument = 3
        case notFound = 5
        case resourceExhausted = 8
        case unimplemented = 12
        case internalError = 13
        case unavailable = 14
    }

    var code: Code
    var message: String
    /// Adds a `google.rpc.RetryInfo` detail: OTLP clients retry RESOURCE_EXHAUSTED only when it is present, after
    /// the delay it gives.
    var retryDelay: Duration?

    init(_ code: Code, _ message: String, retryDelay: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryDelay = retryDelay
    }

    static let retryInfoTypeURL = "type.googleapis.com/google.rpc.RetryInfo"

    // MARK: Protobuf

    /// `code = 1`, `message = 2`, `details = 3` (repeated `google.protobuf.Any`).
    func protobuf() -> [UInt8] {
        var bytes = Self.varintField(1, UInt64(code.rawValue))
        if !message.isEmpty { bytes += Self.lengthDelimitedField(2, Array(message.utf8)) }
        if let retryDelay { bytes += Self.lengthDelimitedField(3, Self.retryInfoAny(retryDelay)) }
        return bytes
    }

    /// `google.protobuf.Any { type_url = 1; value = 2 }` around `RetryInfo { google.protobuf.Duration retry_delay = 1 }`.
    private static func retryInfoAny(_ delay: Duration) -> [UInt8] {
        let (seconds, nanos) = secondsAndNanos(delay)
        var duration = varintField(1, UInt64(bitPattern: seconds))
        if nanos != 0 { duration += varintField(2, UInt64(nanos)) }
        let retryInfo = lengthDelimitedField(1, duration)
        return lengthDelimitedField(1, Array(retryInfoTypeURL.utf8)) + lengthDelimitedField(2, retryInfo)
    }

    private static func varintField(_ field: UInt32, _ value: UInt64) -> [UInt8] {
        ProtobufWriter.makeBytes(count: ProtobufWriter.varintFieldSize(field, value)) {
            $0.writeVarintField(field, value)
        }
    }

    private static func lengthDelimitedField(_ field: UInt32, _ body: [UInt8]) -> [UInt8] {
        ProtobufWriter.makeBytes(count: ProtobufWriter.lengthDelimitedFieldSize(field, length: body.count)) { writer in
            body.withUnsafeBytes { writer.writeBytesField(field, $0) }
        }
    }

    // MARK: JSON

    /// The proto3 JSON form: `{"code":3,"message":"…","details":[{"@type":"…RetryInfo","retryDelay":"1s"}]}`.
    func json() -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + message.utf8.count)
        writer.beginObject()
        writer.key("code")
        writer.int(Int64(code.rawValue))
        writer.key("message")
        writer.string(message)
        if let retryDelay {
            writer.key("details")
            writer.beginArray()
            writer.beginObject()
            writer.key("@type")
            writer.string(Self.retryInfoTypeURL)
            writer.key("retryDelay")
            writer.string(Self.jsonDuration(retryDelay))
            writer.endObject()
            writer.endArray()
        }
        writer.endObject()
        return writer.bytes
    }

    /// proto3 JSON writes a `google.protobuf.Duration` as seconds with 0, 3, 6 or 9 fractional digits and an `s`.
    static func jsonDuration(_ duration: Duration) -> String {
        let (seconds, nanos) = secondsAndNanos(duration)
        guard nanos != 0 else { return "\(seconds)s" }
        var fraction = String(nanos)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("000") { fraction.removeLast(3) }
        return "\(seconds).\(fraction)s"
    }

    /// Whole seconds and nanoseconds, clamped at zero: a delay is never negative.
    private static func secondsAndNanos(_ duration: Duration) -> (seconds: Int64, nanos: Int32) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 && attoseconds >= 0 else { return (0, 0) }
        return (seconds, Int32(attoseconds / 1_000_000_000))
    }
}
