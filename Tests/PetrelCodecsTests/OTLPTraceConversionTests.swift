import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf
import Testing

@Suite struct OTLPTraceConversionTests {
    @Test func roundTripKeepsEveryField() throws {
        let request = OTLPFixtures.fullTraceRequest()
        let batch = OTLPTraceConversion.spanBatch(from: request)
        #expect(batch.spanCount == 3)
        #expect(OTLPTraceConversion.request(from: batch) == request)
        // And through the wire, both ways.
        let bytes: [UInt8] = try request.serializedBytes()
        let decoded = try OTLPJSON.decodeProtobuf(bytes, as: OTLPFixtures.TraceRequest.self)
        let again: [UInt8] = try OTLPTraceConversion.request(from: OTLPTraceConversion.spanBatch(from: decoded))
            .serializedBytes()
        #expect(again == bytes)
    }

    @Test func modelHoldsTheValuesSent() throws {
        let batch = OTLPTraceConversion.spanBatch(from: OTLPFixtures.fullTraceRequest())
        let resource = try #require(batch.resourceSpans.first)
        #expect(resource.schemaURL == "https://opentelemetry.io/schemas/1.26.0")
        #expect(resource.resource.droppedAttributesCount == 6)
        #expect(resource.resource.attributes["service.name"] == .string("checkout"))
        #expect(resource.resource.attributes["bytes"] == .bytes([0, 1, 0xfe, 0xff]))
        #expect(resource.resource.attributes["empty"] == .null)
        #expect(
            resource.resource.attributes["kvlist"]
                == .object([
                    "alpha": .string("one"), "beta": .object(["deep": .double(0.25)]),
                    "gamma": .array([.string("a"), .int(-7), .bool(false), .null]),
                ]))
        let scope = resource.scopeSpans[0]
        #expect(
            scope.scope
                == InstrumentationScope(
                    name: "io.opentelemetry.http", version: "1.2.3", attributes: [Attribute("scope.attr", .int(1))],
                    droppedAttributesCount: 7))
        #expect(scope.schemaURL == "https://opentelemetry.io/schemas/1.25.0")
        #expect(resource.scopeSpans[1].spans.isEmpty)

        let span = scope.spans[0]
        // Ids are big-endian: the first byte sent is the most significant.
        #expect(span.traceID == TraceID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10))
        #expect(span.traceID.description == "0102030405060708090a0b0c0d0e0f10")
        #expect(span.spanID == SpanID(0x1112_1314_1516_1718))
        #expect(span.parentSpanID == SpanID(0x191a_1b1c_1d1e_1f20))
        #expect(span.traceState == "vendor=value,other=1")
        #expect(span.flags == 0x301)
        #expect(span.kind == .server)
        #expect(span.startTimeUnixNano == 1_544_712_660_000_000_000)
        #expect(span.endTimeUnixNano == 1_544_712_661_000_000_000)
        #expect(span.attributes["int"] == .int(Int64.min))
        #expect(span.droppedAttributesCount == 3)
        #expect(span.events.count == 2)
        #expect(
            span.events[0]
                == SpanEvent(
                    timeUnixNano: 1_544_712_660_500_000_000, name: "exception",
                    attributes: [Attribute("exception.type", .string("IOError"))], droppedAttributesCount: 1))
        #expect(span.droppedEventsCount == 4)
        #expect(
            span.links == [
                SpanLink(
                    traceID: TraceID(high: 0xa0a1_a2a3_a4a5_a6a7, low: 0xa8a9_aaab_acad_aeaf),
                    spanID: SpanID(0xb0b1_b2b3_b4b5_b6b7),
                    traceState: "linked=yes", attributes: [Attribute("link.kind", .string("follows"))],
                    droppedAttributesCount: 2, flags: 0x101)
            ])
        #expect(span.droppedLinksCount == 5)
        #expect(span.status == SpanStatus(code: .error, message: "upstream timed out"))
        #expect(scope.spans[1].parentSpanID == .none)
    }

    @Test func invalidIDsAreCountedAndNamed() {
        var request = OTLPFixtures.fullTraceRequest()
        var spans = request.resourceSpans[1].scopeSpans[0].spans
        var shortTrace = spans[0]
        shortTrace.name = "short trace id"
        shortTrace.traceID = Data(count: 15)
        var zeroTrace = spans[0]
        zeroTrace.traceID = Data(count: 16)
        var zeroSpan = spans[0]
        zeroSpan.spanID = Data(count: 8)
        var longParent = spans[0]
        longParent.parentSpanID = Data(count: 4)
        var badLink = OTLPFixtures.fullSpan()
        badLink.links[0].spanID = Data([1, 2, 3])
        spans += [shortTrace, zeroTrace, zeroSpan, longParent, badLink]
        request.resourceSpans[1].scopeSpans[0].spans = spans

        let validation = OTLPTraceConversion.validate(request)
        #expect(validation.rejectedSpans == 5)
        #expect(
            validation.message
                == "5 of 8 spans rejected for invalid ids; first: resourceSpans[1].scopeSpans[0].spans[1] "
                + "(\"short trace id\"): traceId is 15 bytes, not 16")

        let strict = OTLPTraceConversion.spanBatch(from: request, dropInvalid: true)
        #expect(strict.rejectedSpans == 5)
        #expect(strict.message == validation.message)
        #expect(strict.batch.spanCount == 3)
        #expect(OTLPTraceConversion.spanBatch(from: request) == strict.batch)

        // Zero ids fit the model, so a lenient caller keeps them; wrong lengths do not fit.
        let lenient = OTLPTraceConversion.spanBatch(from: request, dropInvalid: false)
        #expect(lenient.rejectedSpans == 3)
        #expect(lenient.batch.spanCount == 5)
        let kept = lenient.batch.resourceSpans[1].scopeSpans[0].spans
        #expect(kept.map(\.traceID).contains(TraceID(high: 0, low: 0)))
        #expect(kept.map(\.spanID).contains(.none))
    }

    @Test func linkAndParentLengthsAreNamed() {
        var span = OTLPFixtures.fullSpan()
        span.links[0].traceID = Data(count: 3)
        var request = OTLPFixtures.TraceRequest()
        var resource = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scope.spans = [span]
        resource.scopeSpans = [scope]
        request.resourceSpans = [resource]
        #expect(OTLPTraceConversion.validate(request).message?.hasSuffix("links[0].traceId is 3 bytes, not 16") == true)
        request.resourceSpans[0].scopeSpans[0].spans[0].parentSpanID = Data(count: 9)
        #expect(
            OTLPTraceConversion.validate(request).message?.hasSuffix("parentSpanId is 9 bytes, not 0 or 8") == true)
    }

    @Test func groupsEmptiedByRejectionGo() {
        var request = OTLPFixtures.fullTraceRequest()
        request.resourceSpans[1].scopeSpans[0].spans[0].traceID = Data()
        let result = OTLPTraceConversion.spanBatch(from: request, dropInvalid: true)
        #expect(result.rejectedSpans == 1)
        #expect(result.message?.contains("traceId is 0 bytes, not 16") == true)
        #expect(result.batch.resourceSpans.count == 1)
        // The scope that came empty stays: it round-trips.
        #expect(result.batch.resourceSpans[0].scopeSpans.count == 2)
    }

    @Test func validRequestHasNoMessage() {
        let validation = OTLPTraceConversion.validate(OTLPFixtures.fullTraceRequest())
        #expect(validation.rejectedSpans == 0)
        #expect(validation.message == nil)
        let result = OTLPTraceConversion.spanBatch(from: OTLPFixtures.fullTraceRequest(), dropInvalid: true)
        #expect(result.rejectedSpans == 0)
        #expect(result.message == nil)
    }

    @Test func batchBuiltInCodeEncodes() {
        let span = Span(
            traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), name: "work", startTimeUnixNano: 10,
            endTimeUnixNano: 20, attributes: [Attribute("object", .object(["b": .int(2), "a": .int(1)]))])
        let batch = SpanBatch(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [span])])])
        let request = OTLPTraceConversion.request(from: batch)
        let proto = request.resourceSpans[0].scopeSpans[0].spans[0]
        #expect(proto.traceID == Data([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]))
        #expect(proto.spanID == Data([0, 0, 0, 0, 0, 0, 0, 3]))
        #expect(proto.parentSpanID.isEmpty)
        #expect(proto.kind == .internal)
        // Object keys come out sorted, so equal batches encode to equal bytes.
        #expect(proto.attributes[0].value.kvlistValue.values.map(\.key) == ["a", "b"])
        #expect(OTLPTraceConversion.spanBatch(from: request) == batch)
    }
}
