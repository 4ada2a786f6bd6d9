/// An append-only JSON encoder into a byte buffer, fast enough to print every event as a JSON line.
///
/// Commas and colons are placed automatically from the nesting state. Values written at the top level are not
/// separated by commas, because JSON lines are a sequence of documents; call `newline()` between them. Misuse that
/// would produce invalid JSON (a value in an object without a key, mismatched ends) is caught by assertions in debug
/// builds only, to keep release builds branch-light.
public struct JSONWriter: Sendable {
    /// The JSON written so far.
    public private(set) var bytes: [UInt8]

    private var containers: [Container] = []
    /// Whether the next key or array element needs a comma before it.
    private var needsComma = false
    /// Whether a key was just written, so the next value is its value and takes no comma.
    private var afterKey = false

    private enum Container: Sendable {
        case object
        case array
    }

    /// Creates an empty writer, reserving `capacity` bytes up front.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// How many objects and arrays are open.
    public var depth: Int { containers.count }

    /// Empties the writer but keeps its buffers, so reusing one writer per batch stops allocating.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        containers.removeAll(keepingCapacity: true)
        needsComma = false
        afterKey = false
    }

    public mutating func beginObject() {
        beforeValue()
        bytes.append(UInt8(ascii: "{"))
        containers.append(.object)
        needsComma = false
    }

    public mutating func endObject() {
        assert(containers.last == .object && !afterKey, "endObject without a matching beginObject, or after a key")
        containers.removeLast()
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        beforeValue()
        bytes.append(UInt8(ascii: "["))
        containers.append(.array)
        needsComma = false
    }

    public mutating func endArray() {
        assert(containers.last == .array, "endArray without a matching beginArray")
        containers.removeLast()
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes an object key; the next call writes its value.
    public mutating func key(_ name: String) {
        beforeKey()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes an object key from UTF-8 bytes (such as a label name in a byte arena); invalid UTF-8 becomes U+FFFD.
    public mutating func key(utf8 name: UnsafeRawBufferPointer) {
        beforeKey()
        appendQuoted(name, validating: true)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func string(_ value: String) {
        beforeValue()
        appendQuoted(value)
        needsComma = true
    }

    /// Writes a string from UTF-8 bytes (such as a label value in a byte arena); invalid UTF-8 becomes U+FFFD.
    public mutating func string(utf8 value: UnsafeRawBufferPointer) {
        beforeValue()
        appendQuoted(value, validating: true)
        needsComma = true
    }

    public mutating func int(_ value: Int64) {
        beforeValue()
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
        }
        appendDecimal(value.magnitude)
        needsComma = true
    }

    public mutating func uint(_ value: UInt64) {
        beforeValue()
        appendDecimal(value)
        needsComma = true
    }

    /// Writes the shortest text that reads back as the same double; NaN and infinities become the strings "NaN",
    /// "+Inf" and "-Inf" (the Prometheus spelling), because JSON numbers cannot express them.
    public mutating func double(_ value: Double) {
        guard value.isFinite else {
            string(value.isNaN ? "NaN" : value < 0 ? "-Inf" : "+Inf")
            return
        }
        beforeValue()
        // Swift's description is the shortest round-trip form and always valid JSON ("1.0", "1e-05", "-0.0").
        bytes.append(contentsOf: value.description.utf8)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        beforeValue()
        bytes.append(contentsOf: value ? "true".utf8 : "false".utf8)
        needsComma = true
    }

    public mutating func null() {
        beforeValue()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// Ends a top-level value, as JSON lines separate documents with newlines.
    public mutating func newline() {
        assert(containers.isEmpty, "newline inside an open object or array")
        bytes.append(UInt8(ascii: "\n"))
    }

    private mutating func beforeKey() {
        assert(containers.last == .object && !afterKey, "a key must be written directly inside an object")
        if needsComma {
            bytes.append(UInt8(ascii: ","))
        }
        afterKey = true
    }

    private mutating func beforeValue() {
        if afterKey {
            afterKey = false
        } else if let container = containers.last {
            assert(container == .array, "a value inside an object needs a key first")
            if needsComma {
                bytes.append(UInt8(ascii: ","))
            }
        }
    }

    private mutating func appendQuoted(_ value: String) {
        // Native Swift strings are valid UTF-8 already, so they skip validation.
        let done: Void? = value.utf8.withContiguousStorageIfAvailable { utf8 in
            appendQuoted(UnsafeRawBufferPointer(utf8), validating: false)
        }
        if done == nil {
            var copy = value
            copy.withUTF8 { appendQuoted(UnsafeRawBufferPointer($0), validating: false) }
        }
    }

    /// Appends `source` as a JSON string literal, copying runs that need no escaping in bulk.
    private mutating func appendQuoted(_ source: UnsafeRawBufferPointer, validating: Bool) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        var index = 0
        while index < source.count {
            let byte = source[index]
            if byte >= 0x80 {
                guard validating else {
                    index += 1
                    continue
                }
                let sequence = UTF8Sequence.measure(source, at: index)
                if sequence.isValid {
                    index += sequence.length
                    continue
                }
                appendRun(source, from: runStart, to: index)
                appendReplacementCharacter()
                index += sequence.length
                runStart = index
            } else if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                appendRun(source, from: runStart, to: index)
                appendEscape(byte)
                index += 1
                runStart = index
            } else {
                index += 1
            }
        }
        appendRun(source, from: runStart, to: index)
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendRun(_ source: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        if start < end {
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[start..<end]))
        }
    }

    private mutating func appendEscape(_ byte: UInt8) {
        let short: UInt8? =
            switch byte {
            case UInt8(ascii: "\""): UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): UInt8(ascii: "\\")
            case 0x08: UInt8(ascii: "b")
            case 0x09: UInt8(ascii: "t")
            case 0x0A: UInt8(ascii: "n")
            case 0x0C: UInt8(ascii: "f")
            case 0x0D: UInt8(ascii: "r")
            default: nil
            }
        if let short {
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(short)
            return
        }
        bytes.append(contentsOf: "\\u00".utf8)
        bytes.append(hexDigit(byte >> 4))
        bytes.append(hexDigit(byte & 0x0F))
    }

    private func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// U+FFFD REPLACEMENT CHARACTER, which stands in for ill-formed UTF-8 so the output stays valid JSON.
    private mutating func appendReplacementCharacter() {
        bytes.append(0xEF)
        bytes.append(0xBF)
        bytes.append(0xBD)
    }

    private mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        // Digits come out last first, so they go into a stack buffer and are then copied in order.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var remaining = value
            var start = digits.count
            while remaining != 0 {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }
}
