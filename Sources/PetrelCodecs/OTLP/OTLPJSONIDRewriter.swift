/// Rewrites the trace and span ids of an OTLP/JSON document between OTLP's hex and the base64 of protobuf's
/// canonical JSON mapping, validating the JSON on the way.
///
/// One pass over the bytes, with no tree: every string followed by `:` is an object key, and the string value after
/// an id key (`traceId`, `spanId`, `parentSpanId`, or their proto names) is the only thing replaced. Ids sit at
/// different depths in spans, links, log records and exemplars, and no other OTLP field has those names, so the
/// key alone decides.
struct OTLPJSONIDRewriter {
    enum Direction {
        case hexToBase64
        case base64ToHex
    }

    enum Failure: Error {
        case syntax(String, offset: Int)
        case id(key: String, value: [UInt8])
    }

    /// JSON deeper than this is refused before swift-protobuf (whose own limit is on messages) recurses into it.
    static let maximumDepth = 512

    /// The document with its ids rewritten, nil when it holds none to rewrite, or why it is not valid JSON.
    static func rewrite(_ input: [UInt8], _ direction: Direction) -> Result<[UInt8]?, Failure> {
        input.withUnsafeBufferPointer { buffer in
            var rewriter = OTLPJSONIDRewriter(input: buffer, direction: direction)
            if let failure = rewriter.document() { return .failure(failure) }
            return .success(rewriter.finish())
        }
    }

    private let input: UnsafeBufferPointer<UInt8>
    private let direction: Direction
    private var position = 0
    private var output: [UInt8] = []
    private var copiedUpTo = 0
    /// The key just read, when it names an id, so that the string value after it is rewritten.
    private var pendingIDKey: Range<Int>?

    private init(input: UnsafeBufferPointer<UInt8>, direction: Direction) {
        self.input = input
        self.direction = direction
    }

    private mutating func finish() -> [UInt8]? {
        guard copiedUpTo > 0 else { return nil }
        output.append(contentsOf: input[copiedUpTo...])
        return output
    }

    // MARK: Grammar (RFC 8259)

    private enum Container {
        case object
        case array
    }

    private mutating func document() -> Failure? {
        var stack: [Container] = []
        // Each turn reads one value, then the punctuation that follows it, closing any containers that end.
        while true {
            skipWhitespace()
            guard position < input.count else { return syntax("unexpected end of input") }
            let idKey = pendingIDKey
            pendingIDKey = nil
            switch input[position] {
            case UInt8(ascii: "{"):
                position += 1
                skipWhitespace()
                if position < input.count && input[position] == UInt8(ascii: "}") {
                    position += 1
                } else {
                    guard stack.count < Self.maximumDepth else { return syntax("nested too deeply") }
                    stack.append(.object)
                    if let failure = member() { return failure }
                    continue
                }
            case UInt8(ascii: "["):
                position += 1
                skipWhitespace()
                if position < input.count && input[position] == UInt8(ascii: "]") {
                    position += 1
                } else {
                    guard stack.count < Self.maximumDepth else { return syntax("nested too deeply") }
                    stack.append(.array)
                    continue
                }
            case UInt8(ascii: "\""):
                let start = position
                switch string() {
                case .success(let content):
                    if let idKey, let failure = replace(quoted: start..<position, content: content, key: idKey) {
                        return failure
                    }
                case .failure(let failure):
                    return failure
                }
            case UInt8(ascii: "t"):
                if let failure = literal("true") { return failure }
            case UInt8(ascii: "f"):
                if let failure = literal("false") { return failure }
            case UInt8(ascii: "n"):
                if let failure = literal("null") { return failure }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                if let failure = number() { return failure }
            default:
                return syntax("expected a value")
            }
            // After a value: close containers, or go on to the next element or member.
            while true {
                skipWhitespace()
                guard let container = stack.last else {
                    return position == input.count ? nil : syntax("unexpected data after the document")
                }
                guard position < input.count else { return syntax("unexpected end of input") }
                let byte = input[position]
                position += 1
                switch (container, byte) {
                case (_, UInt8(ascii: ",")):
                    if container == .object, let failure = member() { return failure }
                case (.object, UInt8(ascii: "}")), (.array, UInt8(ascii: "]")):
                    stack.removeLast()
                    continue
                case (.object, _):
                    position -= 1
                    return syntax("expected ',' or '}'")
                case (.array, _):
                    position -= 1
                    return syntax("expected ',' or ']'")
                }
                break
            }
        }
    }

    /// Reads a member's key and colon, noting an id key for the value that follows.
    private mutating func member() -> Failure? {
        skipWhitespace()
        guard position < input.count, input[position] == UInt8(ascii: "\"") else {
            return syntax("expected a string key")
        }
        let key: Range<Int>
        switch string() {
        case .success(let range): key = range
        case .failure(let failure): return failure
        }
        skipWhitespace()
        guard position < input.count, input[position] == UInt8(ascii: ":") else { return syntax("expected ':'") }
        position += 1
        // A non-string id value is left for swift-protobuf to refuse with its own message.
        pendingIDKey = isIDKey(key) ? key : nil
        return nil
    }

    /// Reads a string and returns the range of its content, between the quotes.
    private mutating func string() -> Result<Range<Int>, Failure> {
        position += 1
        let start = position
        while position < input.count {
            let byte = input[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return .success(start..<(position - 1))
            case UInt8(ascii: "\\"):
                position += 1
                guard position < input.count else { break }
                switch input[position] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 1
                case UInt8(ascii: "u"):
                    guard position + 4 < input.count,
                        input[(position + 1)...(position + 4)].allSatisfy({ Self.isHexDigit($0) })
                    else { return .failure(syntax("invalid \\u escape")) }
                    position += 5
                default:
                    return .failure(syntax("invalid escape"))
                }
            case 0..<0x20:
                return .failure(syntax("control character in a string"))
            default:
                position += 1
            }
        }
        return .failure(syntax("unterminated string"))
    }

    private mutating func number() -> Failure? {
        if input[position] == UInt8(ascii: "-") { position += 1 }
        guard position < input.count, Self.isDigit(input[position]) else { return syntax("invalid number") }
        if input[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            skipDigits()
        }
        if position < input.count && input[position] == UInt8(ascii: ".") {
            position += 1
            guard position < input.count, Self.isDigit(input[position]) else { return syntax("invalid number") }
            skipDigits()
        }
        if position < input.count && (input[position] | 0x20) == UInt8(ascii: "e") {
            position += 1
            if position < input.count && (input[position] == UInt8(ascii: "+") || input[position] == UInt8(ascii: "-"))
            {
                position += 1
            }
            guard position < input.count, Self.isDigit(input[position]) else { return syntax("invalid number") }
            skipDigits()
        }
        return nil
    }

    private mutating func literal(_ word: StaticString) -> Failure? {
        let count = word.utf8CodeUnitCount
        guard position + count <= input.count else { return syntax("invalid literal") }
        for index in 0..<count where input[position + index] != word.utf8Start[index] {
            return syntax("invalid literal")
        }
        position += count
        return nil
    }

    private mutating func skipWhitespace() {
        while position < input.count {
            switch input[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): position += 1
            default: return
            }
        }
    }

    private mutating func skipDigits() {
        while position < input.count && Self.isDigit(input[position]) { position += 1 }
    }

    private func syntax(_ problem: String) -> Failure {
        .syntax(problem, offset: position)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }

    // MARK: Ids

    private static let idKeys: [[UInt8]] = [
        "traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id",
    ]
    .map { Array($0.utf8) }

    private func isIDKey(_ key: Range<Int>) -> Bool {
        // Cheap first test: every id key ends in "d" and is 6 to 14 bytes long.
        guard key.count >= 6 && key.count <= 14 && input[key.upperBound - 1] == UInt8(ascii: "d") else {
            return false
        }
        return Self.idKeys.contains { $0.elementsEqual(input[key]) }
    }

    private mutating func replace(quoted: Range<Int>, content: Range<Int>, key: Range<Int>) -> Failure? {
        let value = input[content]
        guard !value.isEmpty else { return nil }
        let bytes: [UInt8]?
        switch direction {
        case .hexToBase64: bytes = OTLPHex.decode(value)
        case .base64ToHex: bytes = Self.base64Decode(value)
        }
        guard let bytes else { return .id(key: String(decoding: input[key], as: UTF8.self), value: Array(value)) }
        if output.isEmpty { output.reserveCapacity(input.count + input.count / 8) }
        output.append(contentsOf: input[copiedUpTo..<quoted.lowerBound])
        output.append(UInt8(ascii: "\""))
        switch direction {
        case .hexToBase64: Self.base64Encode(bytes, into: &output)
        case .base64ToHex: output.append(contentsOf: OTLPHex.encode(bytes).utf8)
        }
        output.append(UInt8(ascii: "\""))
        copiedUpTo = quoted.upperBound
        return nil
    }

    // MARK: Base64 (RFC 4648, with padding, as protobuf's JSON mapping writes bytes)

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static func base64Encode(_ bytes: [UInt8], into output: inout [UInt8]) {
        var index = 0
        while index + 2 < bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(alphabet[Int(chunk >> 6 & 63)])
            output.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        let rest = bytes.count - index
        guard rest > 0 else { return }
        let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
        output.append(alphabet[Int(chunk >> 18 & 63)])
        output.append(alphabet[Int(chunk >> 12 & 63)])
        output.append(rest == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
        output.append(UInt8(ascii: "="))
    }

    /// Decodes standard or URL-safe base64, padded or not; nil for anything else.
    private static func base64Decode(_ text: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for character in text {
            let sextet: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): sextet = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): sextet = character - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sextet = character - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): sextet = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): sextet = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            guard padding == 0 else { return nil }
            accumulator = accumulator << 6 | UInt32(sextet)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return padding <= 2 ? bytes : nil
    }
}
