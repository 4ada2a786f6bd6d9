import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf
import Testing

/// The hand-written trace encoder writes what swift-protobuf writes, to the byte.
@Suite struct OTLPTraceEncoderTests {
    private func swiftProtobufBytes(_ batch: SpanBatch) throws -> [UInt8] {
        try OTLPTraceConversion.request(from: batch).serializedBytes()
    }

    @Test func aFullRequestEncodesByteForByteAsSwiftProtobufDoes() throws {
        let batch = OTLPTraceConversion.spanBatch(from: OTLPFixtures.fullTraceRequest())
        #expect(batch.spanCount > 0)
        var encoder = OTLPTraceEncoder()
        #expect(encoder.encode(batch) == (try swiftProtobufBytes(batch)))
    }

    @Test func everyValueKindAndEveryDefaultEncodesAsSwiftProtobufDoes() throws {
        let values: [AnyValue] = [
            .null, .bool(false), .bool(true), .int(0), .int(-7), .double(0), .double(-2.5), .string(""),
            .string("élan"), .bytes([]), .bytes([0, 255]), .array([]),
            .array([.null, .int(1), .array([.string("x")])]),
            .object([:]), .object(["b": .int(2), "a": .object(["z": .null])]),
        ]
        let attributes = values.enumerated().map { Attribute("k\($0.offset)", $0.element) } + [Attribute("", .int(1))]
        let span = Span(
            traceID: TraceID(high: 0, low: 1), spanID: SpanID(2), parentSpanID: SpanID(3), traceState: "a=b",
            flags: 257,
            name: "op", kind: .consumer, startTimeUnixNano: 1, endTimeUnixNano: 2, attributes: attributes,
            droppedAttributesCount: 4,
            events: [
                SpanEvent(timeUnixNano: 0, name: "", attributes: attributes), SpanEvent(timeUnixNano: 9, name: "e"),
            ],
            droppedEventsCount: 5,
            links: [
                SpanLink(
                    traceID: TraceID(high: 9, low: 9), spanID: SpanID(9), traceState: "x", attributes: attributes,
                    droppedAttributesCount: 1, flags: 1),
                SpanLink(traceID: TraceID(high: 0, low: 0), spanID: SpanID(0)),
            ],
            droppedLinksCount: 6, status: SpanStatus(code: .error, message: "boom"))
        let bare = Span(
            traceID: TraceID(high: 1, low: 1), spanID: SpanID(1), name: "", startTimeUnixNano: 0, endTimeUnixNano: 0)
        let batch = SpanBatch(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: attributes, droppedAttributesCount: 3), schemaURL: "https://r",
                scopeSpans: [
                    ScopeSpans(
                        scope: InstrumentationScope(
                            name: "s", version: "1", attributes: attributes, droppedAttributesCount: 2),
                        schemaURL: "https://s", spans: [span, bare]),
                    ScopeSpans(),
                ]),
            ResourceSpans(),
        ])
        var encoder = OTLPTraceEncoder()
        let encoded = encoder.encode(batch)
        #expect(encoded == (try swiftProtobufBytes(batch)))
        let decoded = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: encoded)
        #expect(OTLPTraceConversion.spanBatch(from: decoded, dropInvalid: false).batch == batch)
        #expect(encoder.encode(SpanBatch()) == [], "an empty batch is an empty request")
        #expect(encoder.encode(batch) == encoded, "the encoder's scratch space does not leak between batches")
    }
}
