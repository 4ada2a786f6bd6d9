import Foundation
import PetrelCodecs

/// One stream of a Loki push request as sent: its labels in Loki's text form and its entries.
public struct LokiPushedStream: Sendable, Hashable {
    public var labels: String
    public var entries: [LokiPushedEntry]
}

/// One entry as sent.
public struct LokiPushedEntry: Sendable, Hashable {
    /// Nanoseconds since the Unix epoch.
    public var timestamp: Int64
    public var line: String
    /// Name and value pairs in the order sent.
    public var structuredMetadata: [[String]]

    public var metadata: [String: String] {
        Dictionary(structuredMetadata.map { ($0[0], $0[1]) }, uniquingKeysWith: { _, last in last })
    }
}

/// Why a push request body is not one Loki reads.
public struct LokiPushDecodingError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Loki's push request formats, decoded as Loki's `/loki/api/v1/push` handler does, written from the published
/// schema (`shared/proto/loki/push.proto`) and the HTTP API reference, independently of the sink's encoder.
public enum LokiPushFormat {
    /// A snappy block holding a `logproto.PushRequest`. Fields the schema does not name are skipped, as protobuf
    /// readers do.
    public static func decodeProtobuf(snappy body: [UInt8]) throws -> [LokiPushedStream] {
        let raw: [UInt8]
        do {
            raw = try Snappy.decompress(body, maxDecompressedLength: 64 << 20)
        } catch {
            throw LokiPushDecodingError("snappy: \(error)")
        }
        return try raw.withUnsafeBytes { buffer in
            var reader = ProtobufReader(buffer)
            var streams: [LokiPushedStream] = []
            while !reader.isAtEnd {
                let key = try reader.readFieldKey()
                guard key.number == 1 else {
                    try reader.skipField(key)
                    continue
                }
                try key.expect(.lengthDelimited)
                var stream = try reader.readMessage()
                streams.append(try decodeStream(&stream))
            }
            return streams
        }
    }

    private static func decodeStream(_ reader: inout ProtobufReader) throws -> LokiPushedStream {
        var result = LokiPushedStream(labels: "", entries: [])
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.lengthDelimited)
                result.labels = try string(&reader)
            case 2:
                try key.expect(.lengthDelimited)
                var entry = try reader.readMessage()
                result.entries.append(try decodeEntry(&entry))
            default: try reader.skipField(key)
            }
        }
        return result
    }

    private static func decodeEntry(_ reader: inout ProtobufReader) throws -> LokiPushedEntry {
        var entry = LokiPushedEntry(timestamp: 0, line: "", structuredMetadata: [])
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.lengthDelimited)
                var timestamp = try reader.readMessage()
                var seconds: Int64 = 0
                var nanos: Int64 = 0
                while !timestamp.isAtEnd {
                    let field = try timestamp.readFieldKey()
                    switch field.number {
                    case 1:
                        try field.expect(.varint)
                        seconds = Int64(bitPattern: try timestamp.readVarint())
                    case 2:
                        try field.expect(.varint)
                        nanos = Int64(Int32(truncatingIfNeeded: try timestamp.readVarint()))
                    default: try timestamp.skipField(field)
                    }
                }
                guard (0..<1_000_000_000).contains(nanos) else {
                    throw LokiPushDecodingError("timestamp nanos \(nanos) out of range")
                }
                entry.timestamp = seconds * 1_000_000_000 + nanos
            case 2:
                try key.expect(.lengthDelimited)
                entry.line = try string(&reader)
            case 3:
                try key.expect(.lengthDelimited)
                var pair = try reader.readMessage()
                var name = ""
                var value = ""
                while !pair.isAtEnd {
                    let field = try pair.readFieldKey()
                    switch field.number {
                    case 1:
                        try field.expect(.lengthDelimited)
                        name = try string(&pair)
                    case 2:
                        try field.expect(.lengthDelimited)
                        value = try string(&pair)
                    default: try pair.skipField(field)
                    }
                }
                entry.structuredMetadata.append([name, value])
            default: try reader.skipField(key)
            }
        }
        return entry
    }

    private static func string(_ reader: inout ProtobufReader) throws -> String {
        let range = try reader.readLengthDelimited()
        let bytes = reader.bytes(range)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw LokiPushDecodingError("a string field at byte \(range.lowerBound) is not UTF-8")
        }
        return text
    }

    /// `{"streams":[{"stream":{…},"values":[["<ns>","<line>",{…}]]}]}`. The timestamp must be a string of
    /// nanoseconds, as Loki's JSON reader requires.
    public static func decodeJSON(_ body: [UInt8]) throws -> [LokiPushedStream] {
        guard let root = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let streams = root["streams"] as? [Any]
        else { throw LokiPushDecodingError("expected an object with a \"streams\" array") }
        return try streams.map { item in
            guard let object = item as? [String: Any], let labels = object["stream"] as? [String: Any] else {
                throw LokiPushDecodingError("a stream without a \"stream\" object")
            }
            var pairs: [(String, String)] = []
            for (name, value) in labels {
                guard let text = value as? String else {
                    throw LokiPushDecodingError("label \(name) is not a string")
                }
                pairs.append((name, text))
            }
            let values = object["values"] as? [Any] ?? []
            let entries = try values.map { value -> LokiPushedEntry in
                guard let tuple = value as? [Any], tuple.count == 2 || tuple.count == 3,
                    let time = tuple[0] as? String, let timestamp = Int64(time), let line = tuple[1] as? String
                else { throw LokiPushDecodingError("a value that is not [\"<ns>\", \"<line>\"(, {…})]") }
                var metadata: [[String]] = []
                if tuple.count == 3 {
                    guard let object = tuple[2] as? [String: Any] else {
                        throw LokiPushDecodingError("structured metadata that is not an object")
                    }
                    for (name, value) in object.sorted(by: { $0.key < $1.key }) {
                        guard let text = value as? String else {
                            throw LokiPushDecodingError("structured metadata \(name) is not a string")
                        }
                        metadata.append([name, text])
                    }
                }
                return LokiPushedEntry(timestamp: timestamp, line: line, structuredMetadata: metadata)
            }
            return LokiPushedStream(labels: LokiLabelSet.text(pairs.sorted { $0.0 < $1.0 }), entries: entries)
        }
    }
}

/// Loki's label sets: parsing the text form as its LogQL parser does (`{name="value", …}`, Go string escapes), and
/// writing it back.
public enum LokiLabelSet {
    /// The pairs of `text`, in the order written, or why Loki's parser refuses it.
    public static func parse(_ text: String) -> Result<[(name: String, value: String)], LokiPushDecodingError> {
        var scalars = Array(text.unicodeScalars)[...]
        func skipSpaces() { while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() } }
        skipSpaces()
        guard scalars.first == "{" else { return .failure(LokiPushDecodingError("expected {")) }
        scalars.removeFirst()
        var pairs: [(name: String, value: String)] = []
        skipSpaces()
        if scalars.first == "}" {
            scalars.removeFirst()
            return scalars.allSatisfy({ $0 == " " }) ? .success([]) : .failure(LokiPushDecodingError("text after }"))
        }
        while true {
            skipSpaces()
            var name = ""
            while let first = scalars.first, first.isLabelNameScalar {
                name.unicodeScalars.append(scalars.removeFirst())
            }
            guard let start = name.unicodeScalars.first, !("0"..."9").contains(start) else {
                return .failure(
                    LokiPushDecodingError(
                        "expected a label name at \"\(String(String.UnicodeScalarView(scalars.prefix(20))))\""))
            }
            skipSpaces()
            guard scalars.first == "=" else { return .failure(LokiPushDecodingError("expected = after \(name)")) }
            scalars.removeFirst()
            skipSpaces()
            guard scalars.first == "\"" else {
                return .failure(LokiPushDecodingError("expected a quoted value for \(name)"))
            }
            scalars.removeFirst()
            var value = ""
            while true {
                guard let scalar = scalars.first else { return .failure(LokiPushDecodingError("unterminated value")) }
                scalars.removeFirst()
                if scalar == "\"" { break }
                if scalar == "\n" { return .failure(LokiPushDecodingError("newline in a quoted value")) }
                guard scalar == "\\" else {
                    value.unicodeScalars.append(scalar)
                    continue
                }
                guard let escaped = scalars.first else { return .failure(LokiPushDecodingError("unterminated escape")) }
                scalars.removeFirst()
                switch escaped {
                case "\"", "\\": value.unicodeScalars.append(escaped)
                case "n": value += "\n"
                case "t": value += "\t"
                case "r": value += "\r"
                case "a": value += "\u{07}"
                case "b": value += "\u{08}"
                case "f": value += "\u{0C}"
                case "v": value += "\u{0B}"
                case "x", "u":
                    let digits = escaped == "x" ? 2 : 4
                    let hex = String(String.UnicodeScalarView(scalars.prefix(digits)))
                    guard hex.count == digits, let code = UInt32(hex, radix: 16), let decoded = Unicode.Scalar(code)
                    else { return .failure(LokiPushDecodingError("invalid \\\(escaped) escape")) }
                    scalars.removeFirst(digits)
                    value.unicodeScalars.append(decoded)
                default: return .failure(LokiPushDecodingError("invalid escape \\\(escaped)"))
                }
            }
            pairs.append((name, value))
            skipSpaces()
            guard let next = scalars.first else { return .failure(LokiPushDecodingError("expected , or }")) }
            scalars.removeFirst()
            if next == "}" { break }
            guard next == "," else { return .failure(LokiPushDecodingError("expected , or } after \(name)")) }
        }
        guard scalars.allSatisfy({ $0 == " " }) else { return .failure(LokiPushDecodingError("text after }")) }
        return .success(pairs)
    }

    /// `{name="value", …}` with Go's quoting of the values.
    public static func text(_ pairs: [(String, String)]) -> String {
        "{"
            + pairs.map { name, value in
                var quoted = ""
                for scalar in value.unicodeScalars {
                    switch scalar {
                    case "\"": quoted += "\\\""
                    case "\\": quoted += "\\\\"
                    case "\n": quoted += "\\n"
                    case "\t": quoted += "\\t"
                    case "\r": quoted += "\\r"
                    default: quoted.unicodeScalars.append(scalar)
                    }
                }
                return "\(name)=\"\(quoted)\""
            }.joined(separator: ", ") + "}"
    }
}

extension Unicode.Scalar {
    fileprivate var isLabelNameScalar: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self) || self == "_"
    }
}
