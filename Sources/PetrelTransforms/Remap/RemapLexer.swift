/// Splits a program into tokens, each with its place.
struct RemapLexer {
    enum Kind: Equatable {
        case identifier(String)
        case string(String)
        case rawString(String)
        case timestamp(String)
        case regex(String)
        case integer(Int64)
        case float(Double)
        /// An operator or punctuation: `==`, `(`, `.`...
        case symbol(String)
        case newline
        case end
    }

    struct Token {
        var kind: Kind
        var span: RemapSpan
    }

    private static let symbols = [
        "==", "!=", "<=", ">=", "&&", "||", "??", "|=", "<", ">", "!", "+", "-", "*", "/", "%", "=", "|", ",", ":",
        "(", ")", "[", "]", "{", "}", ";", ".",
    ].map { Array($0.utf8) }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || byte == 95 || byte == 64
    }

    static func isIdentifier(_ byte: UInt8) -> Bool { isIdentifierStart(byte) || (byte >= 48 && byte <= 57) }

    /// The tokens of `source`, ending with `.end`.
    static func tokens(_ source: [UInt8]) throws(RemapDiagnostic) -> [Token] {
        var tokens: [Token] = []
        var index = 0
        while index < source.count {
            let byte = source[index]
            let start = index
            if byte == 32 || byte == 9 || byte == 13 {
                index += 1
                continue
            }
            if byte == 10 {
                index += 1
                tokens.append(Token(kind: .newline, span: RemapSpan(start, index)))
                continue
            }
            if byte == UInt8(ascii: "#") {
                while index < source.count, source[index] != 10 { index += 1 }
                continue
            }
            if byte == UInt8(ascii: "\"") {
                let text = try quoted(source, &index)
                tokens.append(Token(kind: .string(text), span: RemapSpan(start, index)))
                continue
            }
            if [UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "r")].contains(byte), index + 1 < source.count,
                source[index + 1] == UInt8(ascii: "'")
            {
                index += 2
                var bytes: [UInt8] = []
                var closed = false
                while index < source.count {
                    let next = source[index]
                    if next == UInt8(ascii: "\\"), index + 1 < source.count, source[index + 1] == UInt8(ascii: "'") {
                        bytes.append(UInt8(ascii: "'"))
                        index += 2
                        continue
                    }
                    index += 1
                    if next == UInt8(ascii: "'") {
                        closed = true
                        break
                    }
                    bytes.append(next)
                }
                guard closed else {
                    throw RemapDiagnostic(
                        "E203", "syntax error", at: RemapSpan(start, index),
                        hint: "unterminated literal: add the closing '")
                }
                let text = String(decoding: bytes, as: UTF8.self)
                let kind: Kind =
                    byte == UInt8(ascii: "s")
                    ? .rawString(text) : byte == UInt8(ascii: "t") ? .timestamp(text) : .regex(text)
                tokens.append(Token(kind: kind, span: RemapSpan(start, index)))
                continue
            }
            if isIdentifierStart(byte) {
                while index < source.count, isIdentifier(source[index]) { index += 1 }
                let name = String(decoding: source[start..<index], as: UTF8.self)
                tokens.append(Token(kind: .identifier(name), span: RemapSpan(start, index)))
                continue
            }
            if byte >= 48 && byte <= 57 {
                while index < source.count, (48...57).contains(source[index]) || source[index] == 95 { index += 1 }
                var isFloat = false
                if index + 1 < source.count, source[index] == UInt8(ascii: "."), (48...57).contains(source[index + 1]) {
                    isFloat = true
                    index += 1
                    while index < source.count, (48...57).contains(source[index]) || source[index] == 95 { index += 1 }
                }
                if index < source.count, source[index] == UInt8(ascii: "e") || source[index] == UInt8(ascii: "E") {
                    var probe = index + 1
                    if probe < source.count, source[probe] == UInt8(ascii: "-") || source[probe] == UInt8(ascii: "+") {
                        probe += 1
                    }
                    if probe < source.count, (48...57).contains(source[probe]) {
                        isFloat = true
                        index = probe
                        while index < source.count, (48...57).contains(source[index]) { index += 1 }
                    }
                }
                let text = String(decoding: source[start..<index].filter { $0 != 95 }, as: UTF8.self)
                let span = RemapSpan(start, index)
                if isFloat {
                    guard let value = Double(text) else {
                        throw RemapDiagnostic("E203", "syntax error", at: span, hint: "invalid float literal")
                    }
                    tokens.append(Token(kind: .float(value), span: span))
                } else {
                    guard let value = Int64(text) else {
                        throw RemapDiagnostic("E203", "syntax error", at: span, hint: "integer literal out of range")
                    }
                    tokens.append(Token(kind: .integer(value), span: span))
                }
                continue
            }
            guard
                let symbol = symbols.first(where: { symbol in
                    index + symbol.count <= source.count && Array(source[index..<index + symbol.count]) == symbol
                })
            else {
                let character = String(decoding: source[index..<min(index + 1, source.count)], as: UTF8.self)
                throw RemapDiagnostic(
                    "E203", "syntax error", at: RemapSpan(start, start + 1),
                    hint: "unexpected character \"\(character)\"")
            }
            index += symbol.count
            tokens.append(Token(kind: .symbol(String(decoding: symbol, as: UTF8.self)), span: RemapSpan(start, index)))
        }
        tokens.append(Token(kind: .end, span: RemapSpan(source.count, source.count)))
        return tokens
    }

    /// A `"..."` string with its escapes resolved; `index` is on the opening quote.
    private static func quoted(_ source: [UInt8], _ index: inout Int) throws(RemapDiagnostic) -> String {
        let start = index
        index += 1
        var bytes: [UInt8] = []
        while index < source.count {
            let byte = source[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: bytes, as: UTF8.self) }
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                continue
            }
            guard index < source.count else { break }
            let escape = source[index]
            index += 1
            switch escape {
            case UInt8(ascii: "n"): bytes.append(10)
            case UInt8(ascii: "t"): bytes.append(9)
            case UInt8(ascii: "r"): bytes.append(13)
            case UInt8(ascii: "0"): bytes.append(0)
            case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "{"), UInt8(ascii: "}"):
                bytes.append(escape)
            case UInt8(ascii: "\n"):
                while index < source.count, source[index] == 32 || source[index] == 9 { index += 1 }
            case UInt8(ascii: "u"):
                guard index < source.count, source[index] == UInt8(ascii: "{"),
                    let close = source[index...].firstIndex(of: UInt8(ascii: "}")),
                    let code = UInt32(String(decoding: source[(index + 1)..<close], as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(code)
                else {
                    throw RemapDiagnostic(
                        "E203", "syntax error", at: RemapSpan(index - 2, index),
                        hint: "invalid unicode escape, use \\u{1F600}")
                }
                bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
                index = close + 1
            default:
                throw RemapDiagnostic(
                    "E203", "syntax error", at: RemapSpan(index - 2, index),
                    hint: "invalid escape \\\(Character(Unicode.Scalar(escape))); use s'...' for raw text")
            }
        }
        throw RemapDiagnostic(
            "E203", "syntax error", at: RemapSpan(start, index), hint: "unterminated string: add the closing \"")
    }
}
