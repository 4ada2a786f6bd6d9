import PetrelCore

/// Encodes a span batch as an OTLP `ExportTraceServiceRequest`, straight from the model, byte for byte what
/// swift-protobuf writes for `OTLPTraceConversion.request(from:)`.
///
/// It measures first and writes once: the measuring pass records the length of every nested message in the order the
/// writing pass needs them, so each length is worked out once (swift-protobuf works out a nested message's length
/// again at every level above it) and no message objects are built in between. The encoder keeps its scratch space
/// from one batch to the next.
public struct OTLPTraceEncoder: Sendable {
    private typealias Wire = OTLPValueEncoding
    /// Lengths of the nested messages, and the attribute and value encoding the signals share.
    private var values = OTLPValueEncoding()

    public init() {}

    public mutating func encode(_ batch: SpanBatch) -> [UInt8] {
        values.reset()
        var total = 0
        for resourceSpans in batch.resourceSpans {
            total += Wire.field(1, measure(resourceSpans))
        }
        values.startWriting()
        return ProtobufWriter.makeBytes(count: total) { writer in
            for resourceSpans in batch.resourceSpans {
                write(resourceSpans, field: 1, to: &writer)
            }
        }
    }

    // MARK: Measuring

    private mutating func measure(_ resourceSpans: ResourceSpans) -> Int {
        let slot = values.reserveLength()
        var length = Wire.field(1, measure(resourceSpans.resource))
        for scopeSpans in resourceSpans.scopeSpans {
            length += Wire.field(2, measure(scopeSpans))
        }
        length += Wire.string(3, resourceSpans.schemaURL)
        values.lengths[slot] = length
        return length
    }

    private mutating func measure(_ resource: Resource) -> Int {
        let slot = values.reserveLength()
        let length =
            values.measure(resource.attributes, field: 1) + Wire.varint(2, UInt64(resource.droppedAttributesCount))
        values.lengths[slot] = length
        return length
    }

    private mutating func measure(_ scopeSpans: ScopeSpans) -> Int {
        let slot = values.reserveLength()
        var length = Wire.field(1, measure(scopeSpans.scope))
        for span in scopeSpans.spans {
            length += Wire.field(2, measure(span))
        }
        length += Wire.string(3, scopeSpans.schemaURL)
        values.lengths[slot] = length
        return length
    }

    private mutating func measure(_ scope: InstrumentationScope) -> Int {
        let slot = values.reserveLength()
        let length =
            Wire.string(1, scope.name) + Wire.string(2, scope.version) + values.measure(scope.attributes, field: 3)
            + Wire.varint(4, UInt64(scope.droppedAttributesCount))
        values.lengths[slot] = length
        return length
    }

    private mutating func measure(_ span: Span) -> Int {
        let slot = values.reserveLength()
        var length = Wire.field(1, 16) + Wire.field(2, 8) + Wire.string(3, span.traceState)
        if span.parentSpanID != .none { length += Wire.field(4, 8) }
        length += Wire.string(5, span.name) + Wire.varint(6, UInt64(span.kind.rawValue))
        length += Wire.fixed64(7, span.startTimeUnixNano) + Wire.fixed64(8, span.endTimeUnixNano)
        length += values.measure(span.attributes, field: 9) + Wire.varint(10, UInt64(span.droppedAttributesCount))
        for event in span.events {
            let eventSlot = values.reserveLength()
            let eventLength =
                Wire.fixed64(1, event.timeUnixNano) + Wire.string(2, event.name)
                + values.measure(event.attributes, field: 3)
                + Wire.varint(4, UInt64(event.droppedAttributesCount))
            values.lengths[eventSlot] = eventLength
            length += Wire.field(11, eventLength)
        }
        length += Wire.varint(12, UInt64(span.droppedEventsCount))
        for link in span.links {
            let linkSlot = values.reserveLength()
            let linkLength =
                Wire.field(1, 16) + Wire.field(2, 8) + Wire.string(3, link.traceState)
                + values.measure(link.attributes, field: 4) + Wire.varint(5, UInt64(link.droppedAttributesCount))
                + Wire.fixed32(6, link.flags)
            values.lengths[linkSlot] = linkLength
            length += Wire.field(13, linkLength)
        }
        length += Wire.varint(14, UInt64(span.droppedLinksCount))
        // The status is always there, as the Collector writes it.
        let statusSlot = values.reserveLength()
        let statusLength = Wire.string(2, span.status.message) + Wire.varint(3, UInt64(span.status.code.rawValue))
        values.lengths[statusSlot] = statusLength
        length += Wire.field(15, statusLength) + Wire.fixed32(16, span.flags)
        values.lengths[slot] = length
        return length
    }

    // MARK: Writing

    private mutating func write(_ resourceSpans: ResourceSpans, field: UInt32, to writer: inout ProtobufWriter) {
        values.header(field, &writer)
        values.header(1, &writer)
        values.write(resourceSpans.resource.attributes, field: 1, to: &writer)
        Wire.varint(2, UInt64(resourceSpans.resource.droppedAttributesCount), &writer)
        for scopeSpans in resourceSpans.scopeSpans {
            values.header(2, &writer)
            write(scopeSpans.scope, to: &writer)
            for span in scopeSpans.spans {
                write(span, to: &writer)
            }
            Wire.string(3, scopeSpans.schemaURL, &writer)
        }
        Wire.string(3, resourceSpans.schemaURL, &writer)
    }

    private mutating func write(_ scope: InstrumentationScope, to writer: inout ProtobufWriter) {
        values.header(1, &writer)
        Wire.string(1, scope.name, &writer)
        Wire.string(2, scope.version, &writer)
        values.write(scope.attributes, field: 3, to: &writer)
        Wire.varint(4, UInt64(scope.droppedAttributesCount), &writer)
    }

    private mutating func write(_ span: Span, to writer: inout ProtobufWriter) {
        values.header(2, &writer)
        Self.id(1, span.traceID, &writer)
        Self.id(2, span.spanID, &writer)
        Wire.string(3, span.traceState, &writer)
        if span.parentSpanID != .none { Self.id(4, span.parentSpanID, &writer) }
        Wire.string(5, span.name, &writer)
        Wire.varint(6, UInt64(span.kind.rawValue), &writer)
        Wire.fixed64(7, span.startTimeUnixNano, &writer)
        Wire.fixed64(8, span.endTimeUnixNano, &writer)
        values.write(span.attributes, field: 9, to: &writer)
        Wire.varint(10, UInt64(span.droppedAttributesCount), &writer)
        for event in span.events {
            values.header(11, &writer)
            Wire.fixed64(1, event.timeUnixNano, &writer)
            Wire.string(2, event.name, &writer)
            values.write(event.attributes, field: 3, to: &writer)
            Wire.varint(4, UInt64(event.droppedAttributesCount), &writer)
        }
        Wire.varint(12, UInt64(span.droppedEventsCount), &writer)
        for link in span.links {
            values.header(13, &writer)
            Self.id(1, link.traceID, &writer)
            Self.id(2, link.spanID, &writer)
            Wire.string(3, link.traceState, &writer)
            values.write(link.attributes, field: 4, to: &writer)
            Wire.varint(5, UInt64(link.droppedAttributesCount), &writer)
            Wire.fixed32(6, link.flags, &writer)
        }
        Wire.varint(14, UInt64(span.droppedLinksCount), &writer)
        values.header(15, &writer)
        Wire.string(2, span.status.message, &writer)
        Wire.varint(3, UInt64(span.status.code.rawValue), &writer)
        Wire.fixed32(16, span.flags, &writer)
    }

    // MARK: Fields

    private static func id(_ number: UInt32, _ id: TraceID, _ writer: inout ProtobufWriter) {
        var words = (id.high.bigEndian, id.low.bigEndian)
        withUnsafeBytes(of: &words) { writer.writeBytesField(number, $0) }
    }

    private static func id(_ number: UInt32, _ id: SpanID, _ writer: inout ProtobufWriter) {
        var word = id.value.bigEndian
        withUnsafeBytes(of: &word) { writer.writeBytesField(number, $0) }
    }
}
