import PetrelCore

/// Encodes a span batch as an OTLP `ExportTraceServiceRequest`, straight from the model, byte for byte what
/// swift-protobuf writes for `OTLPTraceConversion.request(from:)`.
///
/// It measures first and writes once: the measuring pass records the length of every nested message in the order the
/// writing pass needs them, so each length is worked out once (swift-protobuf works out a nested message's length
/// again at every level above it) and no message objects are built in between. The encoder keeps its scratch space
/// from one batch to the next.
public struct OTLPTraceEncoder: Sendable {
    /// Lengths of the nested messages, in the order they are written.
    private var lengths: [Int] = []
    private var next = 0

    public init() {}

    public mutating func encode(_ batch: SpanBatch) -> [UInt8] {
        lengths.removeAll(keepingCapacity: true)
        var total = 0
        for resourceSpans in batch.resourceSpans {
            total += Self.field(1, measure(resourceSpans))
        }
        next = 0
        return ProtobufWriter.makeBytes(count: total) { writer in
            for resourceSpans in batch.resourceSpans {
                write(resourceSpans, field: 1, to: &writer)
            }
        }
    }

    // MARK: Measuring

    /// Takes the next slot for a message's length; the caller fills it once its fields are measured.
    private mutating func reserveLength() -> Int {
        lengths.append(0)
        return lengths.count - 1
    }

    private mutating func measure(_ resourceSpans: ResourceSpans) -> Int {
        let slot = reserveLength()
        var length = Self.field(1, measure(resourceSpans.resource))
        for scopeSpans in resourceSpans.scopeSpans {
            length += Self.field(2, measure(scopeSpans))
        }
        length += Self.string(3, resourceSpans.schemaURL)
        lengths[slot] = length
        return length
    }

    private mutating func measure(_ resource: Resource) -> Int {
        let slot = reserveLength()
        let length = measure(resource.attributes, field: 1) + Self.varint(2, UInt64(resource.droppedAttributesCount))
        lengths[slot] = length
        return length
    }

    private mutating func measure(_ scopeSpans: ScopeSpans) -> Int {
        let slot = reserveLength()
        var length = Self.field(1, measure(scopeSpans.scope))
        for span in scopeSpans.spans {
            length += Self.field(2, measure(span))
        }
        length += Self.string(3, scopeSpans.schemaURL)
        lengths[slot] = length
        return length
    }

    private mutating func measure(_ scope: InstrumentationScope) -> Int {
        let slot = reserveLength()
        let length =
            Self.string(1, scope.name) + Self.string(2, scope.version) + measure(scope.attributes, field: 3)
            + Self.varint(4, UInt64(scope.droppedAttributesCount))
        lengths[slot] = length
        return length
    }

    private mutating func measure(_ span: Span) -> Int {
        let slot = reserveLength()
        var length = Self.field(1, 16) + Self.field(2, 8) + Self.string(3, span.traceState)
        if span.parentSpanID != .none { length += Self.field(4, 8) }
        length += Self.string(5, span.name) + Self.varint(6, UInt64(span.kind.rawValue))
        length += Self.fixed64(7, span.startTimeUnixNano) + Self.fixed64(8, span.endTimeUnixNano)
        length += measure(span.attributes, field: 9) + Self.varint(10, UInt64(span.droppedAttributesCount))
        for event in span.events {
            let eventSlot = reserveLength()
            let eventLength =
                Self.fixed64(1, event.timeUnixNano) + Self.string(2, event.name) + measure(event.attributes, field: 3)
                + Self.varint(4, UInt64(event.droppedAttributesCount))
            lengths[eventSlot] = eventLength
            length += Self.field(11, eventLength)
        }
        length += Self.varint(12, UInt64(span.droppedEventsCount))
        for link in span.links {
            let linkSlot = reserveLength()
            let linkLength =
                Self.field(1, 16) + Self.field(2, 8) + Self.string(3, link.traceState)
                + measure(link.attributes, field: 4) + Self.varint(5, UInt64(link.droppedAttributesCount))
                + Self.fixed32(6, link.flags)
            lengths[linkSlot] = linkLength
            length += Self.field(13, linkLength)
        }
        length += Self.varint(14, UInt64(span.droppedLinksCount))
        // The status is always there, as the Collector writes it.
        let statusSlot = reserveLength()
        let statusLength = Self.string(2, span.status.message) + Self.varint(3, UInt64(span.status.code.rawValue))
        lengths[statusSlot] = statusLength
        length += Self.field(15, statusLength) + Self.fixed32(16, span.flags)
        lengths[slot] = length
        return length
    }

    /// The length of `attributes` as a repeated `KeyValue` field.
    private mutating func measure(_ attributes: [Attribute], field: UInt32) -> Int {
        var length = 0
        for attribute in attributes {
            length += Self.field(field, measure(key: attribute.key, attribute.value))
        }
        return length
    }

    private mutating func measure(key: String, _ value: AnyValue) -> Int {
        let slot = reserveLength()
        let length = Self.string(1, key) + Self.field(2, measure(value))
        lengths[slot] = length
        return length
    }

    /// The length of an `AnyValue` message: its one field, always written when set, even with a default value.
    private mutating func measure(_ value: AnyValue) -> Int {
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

    // MARK: Writing

    private mutating func header(_ field: UInt32, _ writer: inout ProtobufWriter) {
        writer.writeLengthDelimitedHeader(field, length: lengths[next])
        next += 1
    }

    private mutating func write(_ resourceSpans: ResourceSpans, field: UInt32, to writer: inout ProtobufWriter) {
        header(field, &writer)
        header(1, &writer)
        write(resourceSpans.resource.attributes, field: 1, to: &writer)
        Self.varint(2, UInt64(resourceSpans.resource.droppedAttributesCount), &writer)
        for scopeSpans in resourceSpans.scopeSpans {
            header(2, &writer)
            write(scopeSpans.scope, to: &writer)
            for span in scopeSpans.spans {
                write(span, to: &writer)
            }
            Self.string(3, scopeSpans.schemaURL, &writer)
        }
        Self.string(3, resourceSpans.schemaURL, &writer)
    }

    private mutating func write(_ scope: InstrumentationScope, to writer: inout ProtobufWriter) {
        header(1, &writer)
        Self.string(1, scope.name, &writer)
        Self.string(2, scope.version, &writer)
        write(scope.attributes, field: 3, to: &writer)
        Self.varint(4, UInt64(scope.droppedAttributesCount), &writer)
    }

    private mutating func write(_ span: Span, to writer: inout ProtobufWriter) {
        header(2, &writer)
        Self.id(1, span.traceID, &writer)
        Self.id(2, span.spanID, &writer)
        Self.string(3, span.traceState, &writer)
        if span.parentSpanID != .none { Self.id(4, span.parentSpanID, &writer) }
        Self.string(5, span.name, &writer)
        Self.varint(6, UInt64(span.kind.rawValue), &writer)
        Self.fixed64(7, span.startTimeUnixNano, &writer)
        Self.fixed64(8, span.endTimeUnixNano, &writer)
        write(span.attributes, field: 9, to: &writer)
        Self.varint(10, UInt64(span.droppedAttributesCount), &writer)
        for event in span.events {
            header(11, &writer)
            Self.fixed64(1, event.timeUnixNano, &writer)
            Self.string(2, event.name, &writer)
            write(event.attributes, field: 3, to: &writer)
            Self.varint(4, UInt64(event.droppedAttributesCount), &writer)
        }
        Self.varint(12, UInt64(span.droppedEventsCount), &writer)
        for link in span.links {
            header(13, &writer)
            Self.id(1, link.traceID, &writer)
            Self.id(2, link.spanID, &writer)
            Self.string(3, link.traceState, &writer)
            write(link.attributes, field: 4, to: &writer)
            Self.varint(5, UInt64(link.droppedAttributesCount), &writer)
            Self.fixed32(6, link.flags, &writer)
        }
        Self.varint(14, UInt64(span.droppedLinksCount), &writer)
        header(15, &writer)
        Self.string(2, span.status.message, &writer)
        Self.varint(3, UInt64(span.status.code.rawValue), &writer)
        Self.fixed32(16, span.flags, &writer)
    }

    private mutating func write(_ attributes: [Attribute], field: UInt32, to writer: inout ProtobufWriter) {
        for attribute in attributes {
            write(key: attribute.key, attribute.value, field: field, to: &writer)
        }
    }

    private mutating func write(key: String, _ value: AnyValue, field: UInt32, to writer: inout ProtobufWriter) {
        header(field, &writer)
        Self.string(1, key, &writer)
        write(value, field: 2, to: &writer)
    }

    private mutating func write(_ value: AnyValue, field: UInt32, to writer: inout ProtobufWriter) {
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

    // MARK: Fields

    /// An object's fields in key order, as `OTLPValueConversion` writes them.
    private static func sorted(_ fields: [String: AnyValue]) -> [(key: String, value: AnyValue)] {
        fields.sorted { $0.key < $1.key }
    }

    private static func field(_ number: UInt32, _ length: Int) -> Int {
        ProtobufWriter.lengthDelimitedFieldSize(number, length: length)
    }

    private static func string(_ number: UInt32, _ text: String) -> Int {
        text.isEmpty ? 0 : field(number, text.utf8.count)
    }

    private static func varint(_ number: UInt32, _ value: UInt64) -> Int {
        value == 0 ? 0 : ProtobufWriter.varintFieldSize(number, value)
    }

    private static func fixed64(_ number: UInt32, _ value: UInt64) -> Int {
        value == 0 ? 0 : ProtobufWriter.fixed64FieldSize(number)
    }

    private static func fixed32(_ number: UInt32, _ value: UInt32) -> Int {
        value == 0 ? 0 : ProtobufWriter.keySize(number) + 4
    }

    private static func string(_ number: UInt32, _ text: String, _ writer: inout ProtobufWriter) {
        if !text.isEmpty { bytes(number, text, &writer) }
    }

    /// A string field even when empty (a set `AnyValue.string_value`).
    private static func bytes(_ number: UInt32, _ text: String, _ writer: inout ProtobufWriter) {
        var text = text
        text.withUTF8 { writer.writeBytesField(number, UnsafeRawBufferPointer($0)) }
    }

    private static func varint(_ number: UInt32, _ value: UInt64, _ writer: inout ProtobufWriter) {
        if value != 0 { writer.writeVarintField(number, value) }
    }

    private static func fixed64(_ number: UInt32, _ value: UInt64, _ writer: inout ProtobufWriter) {
        guard value != 0 else { return }
        writer.writeKey(number, .fixed64)
        writer.writeFixed64(value)
    }

    private static func fixed32(_ number: UInt32, _ value: UInt32, _ writer: inout ProtobufWriter) {
        guard value != 0 else { return }
        writer.writeKey(number, .fixed32)
        writer.writeFixed32(value)
    }

    private static func id(_ number: UInt32, _ id: TraceID, _ writer: inout ProtobufWriter) {
        var words = (id.high.bigEndian, id.low.bigEndian)
        withUnsafeBytes(of: &words) { writer.writeBytesField(number, $0) }
    }

    private static func id(_ number: UInt32, _ id: SpanID, _ writer: inout ProtobufWriter) {
        var word = id.value.bigEndian
        withUnsafeBytes(of: &word) { writer.writeBytesField(number, $0) }
    }
}
