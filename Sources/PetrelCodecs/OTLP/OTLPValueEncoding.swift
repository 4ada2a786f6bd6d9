import PetrelCore

/// The encoding the OTLP encoders share: attributes and `AnyValue`s, and the lengths of nested messages.
///
/// Encoders measure first and write once: the measuring pass records the length of every nested message in the order
/// the writing pass needs them, so each length is worked out once and no message objects are built in between. The
/// field helpers leave out default values, as swift-protobuf does, so the bytes are the ones it writes.
struct OTLPValueEncoding: Sendable {
    /// Lengths of the nested messages, in the order they are written.
    var lengths: [Int] = []
    private var next = 0

    /// Forgets the last message's lengths, keeping the storage.
    mutating func reset() {
        lengths.removeAll(keepingCapacity: true)
        next = 0
    }

    /// Starts the writing pass at the first length measured.
    mutating func startWriting() {
        next = 0
    }

    /// Takes the next slot for a message's length; the caller fills it once its fields are measured.
    mutating func reserveLength() -> Int {
        lengths.append(0)
        return lengths.count - 1
    }

    /// The length of `attributes` as a repeated `KeyValue` field.
    mutating func measure(_ attributes: [Attribute], field: UInt32) -> Int {
        var length = 0
        for attribute in attributes {
            length += Self.field(field, measure(key: attribute.key, attribute.value))
        }
        return length
    }

    mutating func measure(key: String, _ value: AnyValue) -> Int {
        let slot = reserveLength()
        let length = Self.string(1, key) + Self.field(2, measure(value))
        lengths[slot] = length
        return length
    }

    /// The length of an `AnyValue` message: its one field, always written when set, even with a default value.
    mutating func measure(_ value: AnyValue) -> Int {
        let slot = reserveLength()
        let length: Int
        switch value {
        case .null: length = 0
        case .string(let text): length = Self.field(1, text.utf8.count)
        case .bool(let flag): length = ProtobufWriter.varintFieldSize(2, flag ? 1 : 0)
        case .int(let number): length = ProtobufWriter.varintFieldSize(3, UInt64(bitPattern: number))
        case .double: length = ProtobufWriter.fixed64FieldSize(4)
        case .bytes(let bytes): length = Self.field(7, bytes.count)
        case .array(let values):
            let listSlot = reserveLength()
            var list = 0
            for element in values { list += Self.field(1, measure(element)) }
            lengths[listSlot] = list
            length = Self.field(5, list)
        case .object(let fields):
            let listSlot = reserveLength()
            var list = 0
            for (key, element) in Self.sorted(fields) { list += Self.field(1, measure(key: key, element)) }
            lengths[listSlot] = list
            length = Self.field(6, list)
        }
        lengths[slot] = length
        return length
    }

    mutating func header(_ field: UInt32, _ writer: inout ProtobufWriter) {
        writer.writeLengthDelimitedHeader(field, length: lengths[next])
        next += 1
    }

    mutating func write(_ attributes: [Attribute], field: UInt32, to writer: inout ProtobufWriter) {
        for attribute in attributes {
            write(key: attribute.key, attribute.value, field: field, to: &writer)
        }
    }

    mutating func write(key: String, _ value: AnyValue, field: UInt32, to writer: inout ProtobufWriter) {
        header(field, &writer)
        Self.string(1, key, &writer)
        write(value, field: 2, to: &writer)
    }

    mutating func write(_ value: AnyValue, field: UInt32, to writer: inout ProtobufWriter) {
        header(field, &writer)
        switch value {
        case .null: break
        case .string(let text): Self.bytes(1, text, &writer)
        case .bool(let flag): writer.writeVarintField(2, flag ? 1 : 0)
        case .int(let number): writer.writeVarintField(3, UInt64(bitPattern: number))
        case .double(let number): writer.writeDoubleField(4, number)
        case .bytes(let bytes): bytes.withUnsafeBytes { writer.writeBytesField(7, $0) }
        case .array(let values):
            header(5, &writer)
            for element in values { write(element, field: 1, to: &writer) }
        case .object(let fields):
            header(6, &writer)
            for (key, element) in Self.sorted(fields) { write(key: key, element, field: 1, to: &writer) }
        }
    }

    /// An object's fields in key order, as `OTLPValueConversion` writes them.
    static func sorted(_ fields: [String: AnyValue]) -> [(key: String, value: AnyValue)] {
        fields.sorted { $0.key < $1.key }
    }

    static func field(_ number: UInt32, _ length: Int) -> Int {
        ProtobufWriter.lengthDelimitedFieldSize(number, length: length)
    }

    static func string(_ number: UInt32, _ text: String) -> Int {
        text.isEmpty ? 0 : field(number, text.utf8.count)
    }

    static func varint(_ number: UInt32, _ value: UInt64) -> Int {
        value == 0 ? 0 : ProtobufWriter.varintFieldSize(number, value)
    }

    static func fixed64(_ number: UInt32, _ value: UInt64) -> Int {
        value == 0 ? 0 : ProtobufWriter.fixed64FieldSize(number)
    }

    static func fixed32(_ number: UInt32, _ value: UInt32) -> Int {
        value == 0 ? 0 : ProtobufWriter.keySize(number) + 4
    }

    static func string(_ number: UInt32, _ text: String, _ writer: inout ProtobufWriter) {
        if !text.isEmpty { bytes(number, text, &writer) }
    }

    /// A string field even when empty (a set `AnyValue.string_value`).
    static func bytes(_ number: UInt32, _ text: String, _ writer: inout ProtobufWriter) {
        var text = text
        text.withUTF8 { writer.writeBytesField(number, UnsafeRawBufferPointer($0)) }
    }

    static func varint(_ number: UInt32, _ value: UInt64, _ writer: inout ProtobufWriter) {
        if value != 0 { writer.writeVarintField(number, value) }
    }

    static func fixed64(_ number: UInt32, _ value: UInt64, _ writer: inout ProtobufWriter) {
        guard value != 0 else { return }
        writer.writeKey(number, .fixed64)
        writer.writeFixed64(value)
    }

    static func fixed32(_ number: UInt32, _ value: UInt32, _ writer: inout ProtobufWriter) {
        guard value != 0 else { return }
        writer.writeKey(number, .fixed32)
        writer.writeFixed32(value)
    }
}
