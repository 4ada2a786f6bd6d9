/// JSON for `parse_json` and `encode_json`: objects are written with their keys sorted, as VRL writes them.
enum RemapJSON {
    /// Why a text is not JSON, with the byte offset where reading stopped.
    struct ParseError: Error {
        var message: String
    }

    static func encode(_ value: RemapValue, pretty: Bool = false) -> String {
        // Written as bytes into one buffer: appending to a `String` piece by piece costs more than the encoding.
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(value, to: &output, pretty: pretty, indent: 0)
        return String(decoding: output, as: UTF8.self)
    }

    private static func newline(_ output: inout [UInt8], indent: Int) {
        output.append(UInt8(ascii: "\n"))
        for _ in 0..<indent { output += [32, 32] }
    }

    private static func write(_ value: RemapValue, to output: inout [UInt8], pretty: Bool, indent: Int) {
        switch value {
        case .null: output += "null".utf8
        case .boolean(let value): output += (value ? "true" : "false").utf8
        case .integer(let value): output += String(value).utf8
        case .float(let value):
            if !value.isFinite {
                output += "null".utf8
            } else if value == value.rounded(), abs(value) < 1e16 {
                output += String(Int64(value)).utf8
                output += ".0".utf8
            } else {
                output += String(value).utf8
            }
        case .string(let value): quote(value, into: &output)
        case .timestamp(let value):
            output.append(UInt8(ascii: "\""))
            RemapTime.rfc3339(value, into: &output)
            output.append(UInt8(ascii: "\""))
        case .regex(let regex): quote(regex.pattern, into: &output)
        case .array(let values):
            if values.isEmpty {
                output += "[]".utf8
                return
            }
            output.append(UInt8(ascii: "["))
            for (index, item) in values.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                if pretty { newline(&output, indent: indent + 1) }
                write(item, to: &output, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&output, indent: indent) }
            output.append(UInt8(ascii: "]"))
        case .object(let fields):
            if fields.isEmpty {
                output += "{}".utf8
                return
            }
            output.append(UInt8(ascii: "{"))
            for (index, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                if pretty { newline(&output, indent: indent + 1) }
                quote(field.key, into: &output)
                output.append(UInt8(ascii: ":"))
                if pretty { output.append(32) }
                write(field.value, to: &output, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&output, indent: indent) }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var output: [UInt8] = []
        quote(text, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    private static func quote(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        // Runs of bytes that need no escape are copied at once, not byte by byte.
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): output += [92, 34]
                case UInt8(ascii: "\\"): output += [92, 92]
                case UInt8(ascii: "\n"): output += [92, 110]
                case UInt8(ascii: "\r"): output += [92, 114]
                case UInt8(ascii: "\t"): output += [92, 116]
                default: output += [92, 117, 48, 48, hexDigit(byte >> 4), hexDigit(byte & 0x0F)]
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        output.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// Parses one JSON document; integers that fit 64 bits stay integers.
    static func parse(_ text: String, maxDepth: Int = 128) throws(ParseError) -> RemapValue {
        // Read in place from the string's UTF-8 storage: no copy of the text per parse.
        var text = text
        let result = text.withUTF8 { bytes -> Result<RemapValue, ParseError> in
            var reader = Reader(bytes: bytes, maxDepth: maxDepth)
            do throws(ParseError) {
                reader.skipWhitespace()
                let value = try reader.value(depth: 1)
                reader.skipWhitespace()
                guard reader.index == bytes.count else { throw reader.failure("trailing characters") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// A field read but not yet in its object's dictionary (a struct, where a tuple would be generic at runtime).
    private struct PendingField {
        var key: String
        var value: RemapValue
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var index = 0
        /// The fields of the objects being read, innermost last: one buffer for the whole document, so that each
        /// object's dictionary is made once at its final size rather than grown key by key.
        var pending: [PendingField] = []

        init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        func failure(_ message: String) -> ParseError {
            ParseError(message: "\(message) at byte \(index)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                let byte = bytes[index]
                guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
                index += 1
            }
        }

        mutating func value(depth: Int) throws(ParseError) -> RemapValue {
            guard index < bytes.count else { throw failure("EOF while parsing a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard depth <= maxDepth else { throw failure("exceeded max depth of \(maxDepth)") }
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object([:])
                }
                let first = pending.count
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        throw failure("key must be a string")
                    }
                    let key = try string()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected `:`") }
                    index += 1
                    skipWhitespace()
                    let value = try value(depth: depth + 1)
                    pending.append(PendingField(key: key, value: value))
                    skipWhitespace()
                    guard index < bytes.count else { throw failure("EOF while parsing an object") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == UInt8(ascii: "}") else { throw failure("expected `,` or `}`") }
                    index += 1
                    var fields: [String: RemapValue] = [:]
                    fields.reserveCapacity(pending.count - first)
                    // A repeated key keeps its last value.
                    for field in pending[first...] { fields[field.key] = field.value }
                    pending.removeSubrange(first...)
                    return .object(fields)
                }
            case UInt8(ascii: "["):
                guard depth <= maxDepth else { throw failure("exceeded max depth of \(maxDepth)") }
                index += 1
                var values: [RemapValue] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(values)
                }
                while true {
                    skipWhitespace()
                    values.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw failure("EOF while parsing a list") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == UInt8(ascii: "]") else { throw failure("expected `,` or `]`") }
                    index += 1
                    return .array(values)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): return try word("true", .boolean(true))
            case UInt8(ascii: "f"): return try word("false", .boolean(false))
            case UInt8(ascii: "n"): return try word("null", .null)
            default: return try number()
            }
        }

        mutating func word(_ word: StaticString, _ value: RemapValue) throws(ParseError) -> RemapValue {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw failure("expected value") }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
                throw failure("expected value")
            }
            index += count
            return value
        }

        mutating func number() throws(ParseError) -> RemapValue {
            let start = index
            var isFloat = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digitsStart = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                    index += 1
                } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                    || ((byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")) && isFloat)
                {
                    isFloat = true
                    index += 1
                } else {
                    break
                }
            }
            guard index > digitsStart else { throw failure("expected value") }
            if !isFloat, index - digitsStart <= 18 {
                // Up to 18 digits always fit 64 bits: no text to build.
                var integer: Int64 = 0
                for byte in bytes[digitsStart..<index] { integer = integer * 10 + Int64(byte - UInt8(ascii: "0")) }
                return .integer(start == digitsStart ? integer : -integer)
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if !isFloat, let integer = Int64(text) { return .integer(integer) }
            guard let double = Double(text) else { throw failure("invalid number") }
            return .float(double)
        }

        mutating func string() throws(ParseError) -> String {
            index += 1
            let start = index
            // Most strings have no escapes: made straight from the input, without a buffer in between.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                index += 1
            }
            var output = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: output, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw failure("EOF while parsing a string") }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "n"): output.append(0x0A)
                    case UInt8(ascii: "t"): output.append(0x09)
                    case UInt8(ascii: "r"): output.append(0x0D)
                    case UInt8(ascii: "b"): output.append(0x08)
                    case UInt8(ascii: "f"): output.append(0x0C)
                    case UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "\""): output.append(escape)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count,
                            bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        {
                            index += 2
                            let low = try hex4()
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                        output.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw failure("invalid escape")
                    }
                default:
                    if byte < 0x20 { throw failure("control character while parsing a string") }
                    output.append(byte)
                }
            }
            throw failure("EOF while parsing a string")
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard index + 4 <= bytes.count,
                let code = UInt32(
                    String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<index + 4]), as: UTF8.self), radix: 16)
            else { throw failure("invalid unicode escape") }
            index += 4
            return code
        }
    }
}
