/// Walks one Docker `json-file` line: a JSON object whose `log`, `stream` and `time` strings it reads and whose
/// other keys (`attrs`, …) it skips.
struct DockerLineScanner {
    /// The `log` value: a range of the line when it has no escapes but a final `\n`, else decoded bytes.
    enum Log {
        case raw(Range<Int>, endsWithNewline: Bool)
        /// At most the limit plus a few bytes kept (so the cut can find a character boundary), the rest counted.
        case decoded([UInt8], dropped: Int, endsWithNewline: Bool)
    }

    struct Fields {
        var log: Log
        var stream: ContainerLogStream
        var timestamp: Int64
    }

    /// A JSON string's content (between the quotes), with what the decoder needs to know about its escapes.
    private struct StringToken {
        var start: Int
        var end: Int
        var escapes: Int
        /// Where the last escape starts.
        var lastEscape: Int
    }

    let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func scanLine(decodingUpTo limit: Int) throws(ContainerLogParseError) -> Fields {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            throw .malformedJSON("expected an object", at: index)
        }
        index += 1
        skipWhitespace()
        var log: StringToken?
        var stream: ContainerLogStream?
        var timestamp: Int64?
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw .malformedJSON("expected a key", at: index)
                }
                let key = try scanString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw .malformedJSON("expected ':' after a key", at: index)
                }
                index += 1
                skipWhitespace()
                switch self.key(key) {
                case .log:
                    log = try stringValue(of: "log")
                case .stream:
                    let value = try stringValue(of: "stream")
                    stream = try ContainerLogParser.stream(text(value))
                case .time:
                    let value = try stringValue(of: "time")
                    guard let time = ContainerLogTimestamp.parse(text(value)) else {
                        throw .invalidTimestamp(text(value))
                    }
                    timestamp = time
                case .other:
                    try skipValue()
                }
                skipWhitespace()
                guard index < bytes.count else { throw .malformedJSON("object not closed", at: index) }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    break
                } else {
                    throw .malformedJSON("expected ',' or '}'", at: index)
                }
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw .malformedJSON("bytes after the object", at: index) }
        guard let log else { throw .missingKey("log") }
        guard let stream else { throw .missingKey("stream") }
        guard let timestamp else { throw .missingKey("time") }
        return Fields(log: decode(log, keeping: limit), stream: stream, timestamp: timestamp)
    }

    // MARK: Tokens

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): index += 1
            default: return
            }
        }
    }

    private enum Key {
        case log
        case stream
        case time
        case other
    }

    /// The key a string spells; escaped keys are never the known ones.
    private func key(_ token: StringToken) -> Key {
        guard token.escapes == 0 else { return .other }
        let text = self.text(token)
        if text.elementsEqual("log".utf8) { return .log }
        if text.elementsEqual("stream".utf8) { return .stream }
        if text.elementsEqual("time".utf8) { return .time }
        return .other
    }

    private func text(_ token: StringToken) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end])
    }

    private mutating func stringValue(of key: String) throws(ContainerLogParseError) -> StringToken {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            throw .malformedJSON("\"\(key)\" is not a string", at: index)
        }
        return try scanString()
    }

    /// Reads a string from its opening quote, checking its escapes.
    private mutating func scanString() throws(ContainerLogParseError) -> StringToken {
        index += 1
        var token = StringToken(start: index, end: index, escapes: 0, lastEscape: -1)
        scanning: while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                token.end = index
                index += 1
                return token
            }
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count else { break scanning }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    token.lastEscape = index
                    index += 2
                case UInt8(ascii: "u"):
                    guard index + 6 <= bytes.count else { break scanning }
                    guard Self.hex4(bytes, at: index + 2) != nil else {
                        throw .invalidEscape("\\u not followed by four hex digits", at: index)
                    }
                    token.lastEscape = index
                    index += 6
                case let other:
                    throw .invalidEscape("\\\(Character(Unicode.Scalar(other))) is not a JSON escape", at: index)
                }
                token.escapes += 1
                continue
            }
            guard byte >= 0x20 else { throw .invalidEscape("raw control character \(byte) in a string", at: index) }
            index += 1
        }
        throw .malformedJSON("string not terminated", at: bytes.count)
    }

    /// Skips a value of a key nobody reads; nested objects and arrays are skipped by their brackets.
    private mutating func skipValue() throws(ContainerLogParseError) {
        guard index < bytes.count else { throw .malformedJSON("missing value", at: index) }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    _ = try scanString()
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return
                    }
                default:
                    break
                }
                index += 1
            }
            throw .malformedJSON("nested value not closed", at: index)
        default:
            // A number, true, false or null.
            let start = index
            while index < bytes.count, Self.isScalarByte(bytes[index]) { index += 1 }
            guard index > start else { throw .malformedJSON("unexpected byte", at: index) }
        }
    }

    private static func isScalarByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    private static func hex4(_ bytes: UnsafeRawBufferPointer, at start: Int) -> UInt32? {
        guard start + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for index in start..<start + 4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    // MARK: Decoding the log value

    private func decode(_ token: StringToken, keeping limit: Int) -> Log {
        // Docker's whole lines: no escape but the final newline, so the message is a slice of the line.
        if token.escapes == 0 { return .raw(token.start..<token.end, endsWithNewline: false) }
        if token.escapes == 1, token.lastEscape == token.end - 2, bytes[token.end - 1] == UInt8(ascii: "n") {
            return .raw(token.start..<token.lastEscape, endsWithNewline: true)
        }
        // Room for a character that straddles the limit, so the cut can keep it whole or leave it out.
        let keep = limit > Int.max - 4 ? Int.max : limit + 4
        var decoded: [UInt8] = []
        decoded.reserveCapacity(min(token.end - token.start, keep))
        var dropped = 0
        var last: UInt8 = 0
        func emit(_ byte: UInt8) {
            if decoded.count < keep { decoded.append(byte) } else { dropped += 1 }
            last = byte
        }
        var index = token.start
        while index < token.end {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                emit(byte)
                index += 1
                continue
            }
            let escaped = bytes[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): emit(0x08)
            case UInt8(ascii: "f"): emit(0x0C)
            case UInt8(ascii: "n"): emit(0x0A)
            case UInt8(ascii: "r"): emit(0x0D)
            case UInt8(ascii: "t"): emit(0x09)
            case UInt8(ascii: "u"):
                var scalar = Self.hex4(bytes, at: index) ?? 0xFFFD
                index += 4
                if (0xD800...0xDBFF).contains(scalar), index + 6 <= token.end, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u"), let low = Self.hex4(bytes, at: index + 2),
                    (0xDC00...0xDFFF).contains(low)
                {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                // A lone surrogate becomes U+FFFD, as Go's decoder (Docker's) makes it.
                for byte in (Unicode.Scalar(scalar) ?? "\u{FFFD}").utf8 { emit(byte) }
            default: emit(escaped)
            }
        }
        return .decoded(decoded, dropped: dropped, endsWithNewline: last == 0x0A)
    }
}
