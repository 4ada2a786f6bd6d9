import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf
import Testing

/// The hand-written trace decoder against swift-protobuf's messages converted: the same batch, rejected count and
/// message for every request, and an error (never a crash) for malformed ones.
@Suite struct OTLPTraceDecoderTests {
    private func expectSame(
        _ bytes: [UInt8], dropInvalid: Bool = true, _ comment: Comment? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let expected = BothDecoders.tracesThroughMessages(bytes, dropInvalid: dropInvalid)
        let actual = BothDecoders.tracesByHand(bytes, dropInvalid: dropInvalid)
        #expect(actual == expected, comment, sourceLocation: sourceLocation)
    }

    @Test func fullRequestDecodesAsTheMessagesDo() throws {
        let request = OTLPFixtures.fullTraceRequest()
        let bytes: [UInt8] = try request.serializedBytes()
        let decoded = try OTLPTraceDecoder.decode(bytes)
        #expect(decoded.batch == OTLPTraceConversion.spanBatch(from: request))
        #expect(decoded.batch.spanCount == 3)
        #expect(decoded.rejectedSpans == 0)
        #expect(decoded.message == nil)
        // Every value kind, events, links and status arrived, not just equal-by-accident empties.
        let span = decoded.batch.resourceSpans[0].scopeSpans[0].spans[0]
        #expect(
            span.attributes["kvlist"]
                == .object([
                    "alpha": .string("one"), "beta": .object(["deep": .double(0.25)]),
                    "gamma": .array([.string("a"), .int(-7), .bool(false), .null]),
                ]))
        #expect(span.attributes["bytes"] == .bytes([0, 1, 0xfe, 0xff]))
        #expect(span.events.count == 2)
        #expect(span.links.count == 1)
        #expect(span.status == SpanStatus(code: .error, message: "upstream timed out"))
        expectSame(bytes)
        expectSame(bytes, dropInvalid: false)
    }

    @Test func benchmarkShapedRequestDecodesAsTheMessagesDo() throws {
        let bytes: [UInt8] = try OTLPFixtures.benchmarkTraceRequest(spans: 200).serializedBytes()
        expectSame(bytes)
        let decoded = try OTLPTraceDecoder.decode(bytes)
        #expect(decoded.batch.spanCount == 200)
        #expect(
            decoded.batch.resourceSpans[0].scopeSpans[0].spans[7].attributes["url.path"]
                == .string("/api/v1/orders/7"))
    }

    @Test func emptyRequestAndEmptyGroups() {
        expectSame([])
        // A resource with nothing, a scope with nothing, a span with nothing (rejected: no ids).
        expectSame(Wire.bytes(1, []))
        expectSame(Wire.message(1, Wire.bytes(2, [])))
        expectSame(Wire.message(1, Wire.message(2, Wire.bytes(2, []))))
        expectSame(Wire.message(1, Wire.message(2, Wire.bytes(2, []))), dropInvalid: false)
        // Empty strings and messages that are present on the wire.
        expectSame(
            Wire.message(
                1, Wire.bytes(1, []), Wire.string(3, ""),
                Wire.message(
                    2, Wire.bytes(1, []),
                    Wire.message(
                        2, Wire.bytes(1, Wire.id(1, count: 16)), Wire.bytes(2, Wire.id(17, count: 8)),
                        Wire.string(5, ""), Wire.bytes(9, []), Wire.bytes(11, []), Wire.bytes(15, [])))))
    }

    @Test func invalidIDsAreRejectedAndNamedAlike() throws {
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
        var badSecondLink = OTLPFixtures.fullSpan()
        badSecondLink.links.append(badSecondLink.links[0])
        badSecondLink.links[1].traceID = Data(count: 20)
        var longName = spans[0]
        longName.name = String(repeating: "ü", count: 80)
        longName.spanID = Data(count: 9)
        spans += [shortTrace, zeroTrace, zeroSpan, longParent, badLink, badSecondLink, longName]
        request.resourceSpans[1].scopeSpans[0].spans = spans
        // The first rejected span decides the message: try each at the front.
        for first in 1..<spans.count {
            var reordered = request
            reordered.resourceSpans[1].scopeSpans[0].spans.swapAt(1, first)
            let bytes: [UInt8] = try reordered.serializedBytes()
            expectSame(bytes, "span \(first) first")
            expectSame(bytes, dropInvalid: false, "span \(first) first, lenient")
        }
        let decoded = try OTLPTraceDecoder.decode(try request.serializedBytes())
        #expect(decoded.rejectedSpans == 7)
        #expect(
            decoded.message
                == "7 of 10 spans rejected for invalid ids; first: resourceSpans[1].scopeSpans[0].spans[1] "
                + "(\"short trace id\"): traceId is 15 bytes, not 16")
        // A group that lost every span goes.
        var allBad = OTLPFixtures.fullTraceRequest()
        allBad.resourceSpans[1].scopeSpans[0].spans[0].traceID = Data()
        expectSame(try allBad.serializedBytes())
    }

    @Test func unknownFieldsAtEveryLevelAreSkipped() throws {
        let value = Wire.message(2, Wire.string(1, "v"), Wire.unknown)
        let attribute = Wire.message(9, Wire.string(1, "k"), Wire.unknown, value, Wire.varint(3, 4))
        let span = Wire.message(
            2, Wire.unknown, Wire.bytes(1, Wire.id(1, count: 16)), Wire.bytes(2, Wire.id(17, count: 8)),
            Wire.string(5, "span"), attribute,
            Wire.message(11, Wire.unknown, Wire.string(2, "event"), Wire.unknown),
            Wire.message(
                13, Wire.bytes(1, Wire.id(0x40, count: 16)), Wire.unknown, Wire.bytes(2, Wire.id(0x50, count: 8))),
            Wire.message(15, Wire.varint(1, 2), Wire.unknown, Wire.varint(3, 2)), Wire.unknown)
        let scope = Wire.message(1, Wire.string(1, "lib"), Wire.unknown, Wire.string(2, "1.0"))
        let resource = Wire.message(
            1, Wire.unknown,
            Wire.message(1, Wire.string(1, "service.name"), Wire.message(2, Wire.unknown, Wire.string(1, "svc"))),
            Wire.message(3, Wire.string(1, "entity")))
        let request = Wire.unknown + Wire.message(1, resource, Wire.unknown, Wire.message(2, scope, span, Wire.unknown))
        expectSame(request)
        let decoded = try OTLPTraceDecoder.decode(request)
        let decodedSpan = try #require(decoded.batch.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(decodedSpan.attributes == [Attribute("k", .string("v"))])
        #expect(decodedSpan.status.code == .error)
        #expect(decodedSpan.links.count == 1)
        #expect(decoded.batch.resourceSpans[0].resource.attributes == [Attribute("service.name", .string("svc"))])
    }

    @Test func repeatedAndReorderedFieldsFollowProtobufRules() throws {
        let ids = Wire.bytes(1, Wire.id(1, count: 16)) + Wire.bytes(2, Wire.id(17, count: 8))
        // The last scalar wins; singular messages merge; an AnyValue merges arrays and kvlists of the same case.
        let array1 = Wire.message(5, Wire.message(1, Wire.varint(3, 1)))
        let array2 = Wire.message(5, Wire.message(1, Wire.varint(3, 2)))
        let list1 = Wire.message(6, Wire.message(1, Wire.string(1, "a"), Wire.message(2, Wire.varint(2, 1))))
        let list2 = Wire.message(
            6, Wire.message(1, Wire.string(1, "a"), Wire.message(2, Wire.varint(2, 0))),
            Wire.message(1, Wire.string(1, "b"), Wire.message(2, Wire.varint(3, 5))))
        let attributes =
            Wire.message(9, Wire.message(2, array1), Wire.string(1, "merged array"), Wire.message(2, array2))
            + Wire.message(9, Wire.string(1, "merged list"), Wire.message(2, list1), Wire.message(2, list2))
            + Wire.message(9, Wire.string(1, "replaced"), Wire.message(2, array1), Wire.message(2, list1))
            + Wire.message(9, Wire.string(1, "scalar last"), Wire.message(2, Wire.string(1, "x"), Wire.varint(3, 9)))
            + Wire.message(9, Wire.string(1, "strindex"), Wire.message(2, Wire.string(1, "x"), Wire.varint(8, 3)))
            + Wire.message(9, Wire.string(1, "first key"), Wire.string(1, "second key"))
        let span = Wire.message(
            2, Wire.message(15, Wire.string(2, "first")), Wire.fixed32(16, 1), Wire.string(5, "old name"), attributes,
            Wire.varint(6, 9), Wire.fixed64(8, 20), Wire.fixed64(7, 10), ids, Wire.string(5, "new name"),
            Wire.message(15, Wire.varint(3, 7)), Wire.varint(10, 1 << 33 | 4), Wire.bytes(1, Wire.id(0x30, count: 16)))
        let negativeKind = Wire.message(
            2, ids, Wire.varint(6, UInt64(bitPattern: -1)), Wire.message(15, Wire.varint(3, UInt64(bitPattern: -2))))
        let request = Wire.message(
            1, Wire.string(3, "schema before"),
            Wire.message(2, Wire.string(3, "scope schema"), span, negativeKind, Wire.message(1, Wire.string(2, "v"))),
            Wire.message(1, Wire.message(1, Wire.string(1, "r1"))), Wire.message(1, Wire.varint(2, 3)),
            Wire.message(1, Wire.message(1, Wire.string(1, "r2"))), Wire.string(3, "schema after"))
        expectSame(request)
        let decoded = try OTLPTraceDecoder.decode(request)
        let resourceSpans = try #require(decoded.batch.resourceSpans.first)
        #expect(resourceSpans.schemaURL == "schema after")
        #expect(resourceSpans.resource.attributes.map(\.key) == ["r1", "r2"])
        #expect(resourceSpans.resource.droppedAttributesCount == 3)
        let first = resourceSpans.scopeSpans[0].spans[0]
        #expect(first.name == "new name")
        #expect(first.traceID == TraceID(high: 0x3031_3233_3435_3637, low: 0x3839_3a3b_3c3d_3e3f))
        #expect(first.kind == .unspecified)
        #expect(first.status == SpanStatus(code: .unset, message: "first"))
        #expect(first.droppedAttributesCount == 4)
        #expect(first.attributes["merged array"] == .array([.int(1), .int(2)]))
        #expect(first.attributes["merged list"] == .object(["a": .bool(true), "b": .int(5)]))
        #expect(first.attributes["replaced"] == .object(["a": .bool(true)]))
        #expect(first.attributes["scalar last"] == .int(9))
        #expect(first.attributes["strindex"] == .null)
        #expect(first.attributes.map(\.key).last == "second key")
    }

    @Test func stringsMustBeUTF8ButBytesNeedNot() throws {
        let ids = Wire.bytes(1, Wire.id(1, count: 16)) + Wire.bytes(2, Wire.id(17, count: 8))
        let invalid: [UInt8] = [0x61, 0xC3, 0x28]
        for field in [3, 5] as [UInt32] {
            let request = Wire.message(1, Wire.message(2, Wire.message(2, ids, Wire.bytes(field, invalid))))
            expectSame(request)
            #expect(throws: OTLPDecodingError.malformedProtobuf) { try OTLPTraceDecoder.decode(request) }
        }
        let badKey = Wire.message(1, Wire.message(1, Wire.message(1, Wire.bytes(1, invalid))))
        expectSame(badKey)
        do {
            _ = try OTLPTraceDecoder.decode(badKey)
            Issue.record("an attribute key that is not UTF-8 decoded")
        } catch {
            #expect(
                error.description == "cannot decode ExportTraceServiceRequest: malformed protobuf "
                    + "(a string is not valid UTF-8 at byte 8)")
        }
        let bytesValue = Wire.message(
            1,
            Wire.message(
                1,
                Wire.message(
                    1, Wire.string(1, "k"),
                    Wire.message(
                        2, Wire.bytes(7, invalid)))))
        expectSame(bytesValue)
        #expect(
            try OTLPTraceDecoder.decode(bytesValue).batch.resourceSpans[0].resource.attributes[0].value
                == .bytes(invalid))
    }

    @Test func nestingIsLimitedAsSwiftProtobufLimitsIt() {
        // Resource attributes: request 1, ResourceSpans 2, Resource 3, KeyValue 4, AnyValue 5, then ArrayValue and
        // AnyValue in turn; the deepest AnyValue sits at 5 + 2 × arrays.
        func request(arrays: Int) -> [UInt8] {
            var value = Wire.varint(3, 1)
            for _ in 0..<arrays { value = Wire.message(5, Wire.message(1, value)) }
            return Wire.message(1, Wire.message(1, Wire.message(1, Wire.string(1, "deep"), Wire.bytes(2, value))))
        }
        for arrays in [46, 47, 48, 49, 60] {
            expectSame(request(arrays: arrays), "\(arrays) nested arrays")
        }
        #expect(!BothDecoders.tracesByHand(request(arrays: 47)).failed)
        #expect(BothDecoders.tracesByHand(request(arrays: 48)).failed)
        // Far past the limit is an error, not a stack overflow.
        #expect(BothDecoders.tracesByHand(request(arrays: 2_000)).failed)
    }

    @Test func truncatedAtEveryByteFailsOrDecodesAsTheMessagesDo() throws {
        let bytes: [UInt8] = try OTLPFixtures.fullTraceRequest().serializedBytes()
        var failures = 0
        for cut in 0..<bytes.count {
            let prefix = Array(bytes[..<cut])
            let actual = BothDecoders.tracesByHand(prefix)
            #expect(actual == BothDecoders.tracesThroughMessages(prefix), "cut at \(cut)")
            if actual.failed { failures += 1 }
        }
        // Only the cuts between the two resources decode.
        #expect(failures == bytes.count - 2)
    }

    @Test func mutatedBytesNeverCrash() throws {
        let bytes: [UInt8] = try OTLPFixtures.fullTraceRequest().serializedBytes()
        var random = SplitMix64(seed: 0x0715)
        var bothDecoded = 0
        for _ in 0..<3_000 {
            var mutated = bytes
            for _ in 0...random.next(below: 3) {
                mutated[Int(random.next(below: UInt64(mutated.count)))] = UInt8(truncatingIfNeeded: random.next())
            }
            let actual = BothDecoders.tracesByHand(mutated)
            let expected = BothDecoders.tracesThroughMessages(mutated)
            // swift-protobuf takes a known field with the wrong wire type as unknown where this decoder refuses it,
            // and it parses fields the model has no place for (which this decoder skips): only when both decode
            // must they agree.
            if !actual.failed && !expected.failed {
                bothDecoded += 1
                #expect(actual == expected)
            }
        }
        #expect(bothDecoded > 100)
    }

    @Test func wrongWireTypesAndBadLengthsAreErrors() {
        let ids = Wire.bytes(1, Wire.id(1, count: 16)) + Wire.bytes(2, Wire.id(17, count: 8))
        func span(_ fields: [UInt8]) -> [UInt8] { Wire.message(1, Wire.message(2, Wire.bytes(2, ids + fields))) }
        let cases: [(String, [UInt8], String)] = [
            ("resource_spans as a varint", Wire.varint(1, 1), "field 1 at byte 0 has wire type 0 (varint), expected 2"),
            ("name as a varint", span(Wire.varint(5, 1)), "field 5 at byte 34 has wire type 0"),
            ("kind as fixed32", span(Wire.fixed32(6, 1)), "field 6 at byte 34 has wire type 5"),
            ("start time as a varint", span(Wire.varint(7, 1)), "field 7 at byte 34 has wire type 0"),
            ("flags as fixed64", span(Wire.fixed64(16, 1)), "field 16 at byte 34 has wire type 1"),
            ("attribute as a varint", span(Wire.varint(9, 1)), "field 9 at byte 34 has wire type 0"),
            ("a length past the end", Wire.key(1, 2) + Wire.varint(50) + [1, 2], "length-delimited field of 50 bytes"),
            (
                "a nested length past its message", Wire.key(1, 2) + Wire.varint(3) + Wire.key(2, 2) + [9, 0],
                "length-delimited field of 9 bytes at byte 3"
            ),
            (
                "a varint of 11 bytes", Wire.key(50, 0) + Array(repeating: 0xFF, count: 10) + [1],
                "varint longer than 10 bytes"
            ),
            ("field number 0", [0x02, 0x00], "invalid field key 2"),
            ("a group", Wire.key(7, 3) + Wire.key(7, 4), "deprecated group wire type 3"),
            ("wire type 6", [0x0E], "invalid field key 14"),
        ]
        for (name, bytes, reason) in cases {
            do {
                _ = try OTLPTraceDecoder.decode(bytes)
                Issue.record("\(name) decoded")
            } catch {
                #expect(error == .malformedProtobuf, "\(name)")
                #expect(error.description.hasPrefix("cannot decode ExportTraceServiceRequest: malformed protobuf ("))
                #expect(error.description.contains(reason), "\(name): \(error)")
            }
        }
    }
}
