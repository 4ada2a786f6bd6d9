import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf
import Testing

/// The hand-written logs decoder against swift-protobuf's messages converted: the same records for every request,
/// and an error (never a crash) for malformed ones.
@Suite struct OTLPLogDecoderTests {
    typealias Key = OTLPLogConversion.MetadataKey
    typealias ProtoRecord = Opentelemetry_Proto_Logs_V1_LogRecord

    private func expectSame(
        _ bytes: [UInt8], _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            BothDecoders.logsByHand(bytes) == BothDecoders.logsThroughMessages(bytes), comment,
            sourceLocation: sourceLocation)
    }

    /// Two resources, three scopes, records with every field and every kind of body.
    static func fullLogsRequest() -> OTLPFixtures.LogsRequest {
        var full = ProtoRecord()
        full.timeUnixNano = 1_544_712_660_300_000_000
        full.observedTimeUnixNano = 1_544_712_660_400_000_000
        full.severityNumber = .error2
        full.severityText = "ERROR"
        full.body.stringValue = "payment declined"
        full.attributes = OTLPFixtures.everyValueKind() + [OTLPFixtures.attribute("string", "duplicate key")]
        full.droppedAttributesCount = 2
        full.flags = 1
        full.traceID = OTLPFixtures.bytes(1...16)
        full.spanID = OTLPFixtures.bytes(17...24)
        full.eventName = "payment.declined"
        var structured = ProtoRecord()
        var list = Opentelemetry_Proto_Common_V1_KeyValueList()
        list.values = [OTLPFixtures.attribute("event", "login"), OTLPFixtures.attribute("user", "ada")]
        structured.body.kvlistValue = list
        structured.attributes = [OTLPFixtures.attribute("body", "an attribute named body")]
        structured.severityNumber = .warn3
        structured.observedTimeUnixNano = 7
        var strindex = ProtoRecord()
        strindex.body.stringValueStrindex = 4
        strindex.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: 77)!
        strindex.traceID = Data([0xAB, 0xCD, 0xEF])
        var emptyBody = ProtoRecord()
        emptyBody.body = Opentelemetry_Proto_Common_V1_AnyValue()
        emptyBody.severityText = "notice"
        var bare = ProtoRecord()
        bare.timeUnixNano = UInt64.max
        bare.body.stringValue = ""

        var scope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        scope.scope.name = "payments.logger"
        scope.scope.version = "2.0"
        scope.scope.attributes = [OTLPFixtures.attribute("scope.attr", "dropped by the model")]
        scope.schemaURL = "https://opentelemetry.io/schemas/1.26.0"
        scope.logRecords = [full, structured, strindex]
        var otherScope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        otherScope.scope.name = "other"
        otherScope.logRecords = [emptyBody, bare]
        var emptyScope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        emptyScope.scope.version = "9"
        var first = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        first.resource.attributes = [OTLPFixtures.attribute("service.name", "payments")] + OTLPFixtures.everyValueKind()
        first.schemaURL = "https://opentelemetry.io/schemas/1.25.0"
        first.scopeLogs = [scope, otherScope, emptyScope]
        var second = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        second.resource.attributes = [OTLPFixtures.attribute("service.name", "checkout")]
        var plainScope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        plainScope.scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        plainScope.logRecords = [bare]
        second.scopeLogs = [plainScope]
        var request = OTLPFixtures.LogsRequest()
        request.resourceLogs = [first, second, Opentelemetry_Proto_Logs_V1_ResourceLogs()]
        return request
    }

    @Test func fullRequestDecodesAsTheMessagesDo() throws {
        let request = Self.fullLogsRequest()
        let bytes: [UInt8] = try request.serializedBytes()
        let batch = try OTLPLogDecoder.decode(bytes)
        #expect(batch == OTLPLogConversion.logBatch(from: request))
        #expect(batch.records.count == 6)
        expectSame(bytes)
        // What the comparison covers, checked once by hand.
        let full = batch.records[0]
        #expect(full.message == "payment declined")
        #expect(full.fields["string"] == .string("text with ünïcödé"))
        #expect(full.metadata[Key.traceID] == "0102030405060708090a0b0c0d0e0f10")
        #expect(full.metadata[Key.scopeSchemaURL] == "https://opentelemetry.io/schemas/1.26.0")
        #expect(full.metadata[Key.resourceSchemaURL] == "https://opentelemetry.io/schemas/1.25.0")
        #expect(full.resource.count == 9)
        let structured = batch.records[1]
        #expect(structured.fields["body"] == .object(["event": .string("login"), "user": .string("ada")]))
        #expect(structured.metadata[Key.bodyInFields] == "true")
        #expect(structured.severity == "WARN3")
        #expect(structured.timestamp == 7)
        #expect(batch.records[2].fields["body"] == .null)
        #expect(batch.records[2].metadata[Key.severityNumber] == "77")
        #expect(batch.records[2].metadata[Key.traceID] == "abcdef")
        #expect(batch.records[3].fields.isEmpty)
        #expect(batch.records[4].timestamp == Int64.max)
    }

    @Test func emptyRequestsAndGroups() {
        expectSame([])
        expectSame(Wire.bytes(1, []))
        expectSame(Wire.message(1, Wire.bytes(2, [])))
        expectSame(Wire.message(1, Wire.message(2, Wire.bytes(2, []))))
        expectSame(Wire.message(1, Wire.message(2, Wire.message(2, Wire.bytes(5, [])))))
    }

    @Test func groupFieldsAfterTheRecordsStillApplyToThem() throws {
        // Schema URLs come after the records in field order; a sender may put the resource and scope there too.
        let record = Wire.message(2, Wire.message(5, Wire.string(1, "hello")), Wire.fixed64(1, 42))
        let request =
            Wire.unknown
            + Wire.message(
                1,
                Wire.message(
                    2, record, Wire.unknown, Wire.string(3, "scope schema"),
                    Wire.message(1, Wire.string(1, "lib"), Wire.unknown), Wire.message(1, Wire.string(2, "1.0")), record
                ),
                Wire.string(3, "resource schema"), Wire.unknown,
                Wire.message(1, Wire.message(1, Wire.string(1, "a"), Wire.message(2, Wire.varint(3, 1)))),
                Wire.message(
                    1, Wire.message(1, Wire.string(1, "b"), Wire.message(2, Wire.string(1, "x"), Wire.unknown))))
        expectSame(request)
        let batch = try OTLPLogDecoder.decode(request)
        #expect(batch.records.count == 2)
        for record in batch.records {
            #expect(record.message == "hello")
            #expect(record.timestamp == 42)
            #expect(record.resource == [Attribute("a", .int(1)), Attribute("b", .string("x"))])
            #expect(
                record.metadata == [
                    Key.scopeName: "lib", Key.scopeVersion: "1.0", Key.scopeSchemaURL: "scope schema",
                    Key.resourceSchemaURL: "resource schema",
                ])
        }
    }

    @Test func repeatedFieldsFollowProtobufRules() throws {
        let record = Wire.message(
            2, Wire.message(5, Wire.string(1, "first body")), Wire.varint(2, 9), Wire.string(3, "x"),
            Wire.message(6, Wire.string(1, "k"), Wire.message(2, Wire.varint(3, 1))),
            Wire.message(6, Wire.string(1, "k"), Wire.message(2, Wire.varint(3, 2))),
            Wire.message(5, Wire.message(5, Wire.message(1, Wire.varint(2, 1)))),
            Wire.message(5, Wire.message(5, Wire.message(1, Wire.varint(2, 0)))), Wire.string(3, ""),
            Wire.varint(2, UInt64(bitPattern: -3)), Wire.varint(7, 1 << 32 | 2), Wire.fixed32(8, 3),
            Wire.bytes(10, [1, 2]), Wire.string(12, "event"), Wire.fixed64(11, 5))
        let request = Wire.message(1, Wire.message(2, record))
        expectSame(request)
        let decoded = try #require(try OTLPLogDecoder.decode(request).records.first)
        #expect(decoded.fields["body"] == .array([.bool(true), .bool(false)]))
        #expect(decoded.fields["k"] == .int(1))
        #expect(decoded.severity == "")
        #expect(decoded.metadata[Key.severityNumber] == "-3")
        #expect(decoded.metadata[Key.droppedAttributesCount] == "2")
        #expect(decoded.metadata[Key.spanID] == "0102")
        #expect(decoded.timestamp == 5)
    }

    @Test func nestingAndUTF8AreCheckedAsSwiftProtobufChecksThem() {
        // The body: request 1, ResourceLogs 2, ScopeLogs 3, LogRecord 4, AnyValue 5, then 2 levels per array.
        func request(arrays: Int) -> [UInt8] {
            var value = Wire.varint(3, 1)
            for _ in 0..<arrays { value = Wire.message(5, Wire.message(1, value)) }
            return Wire.message(1, Wire.message(2, Wire.message(2, Wire.bytes(5, value))))
        }
        for arrays in [46, 47, 48, 49] {
            expectSame(request(arrays: arrays), "\(arrays) nested arrays")
        }
        #expect(!BothDecoders.logsByHand(request(arrays: 47)).failed)
        #expect(BothDecoders.logsByHand(request(arrays: 48)).failed)
        #expect(BothDecoders.logsByHand(request(arrays: 2_000)).failed)
        let invalid: [UInt8] = [0xE2, 0x82]
        for field in [3, 12] as [UInt32] {
            let bytes = Wire.message(1, Wire.message(2, Wire.message(2, Wire.bytes(field, invalid))))
            expectSame(bytes)
            #expect(BothDecoders.logsByHand(bytes).failed)
        }
        let traceID = Wire.message(1, Wire.message(2, Wire.message(2, Wire.bytes(9, invalid))))
        expectSame(traceID)
        #expect(!BothDecoders.logsByHand(traceID).failed)
    }

    @Test func truncatedAtEveryByteFailsOrDecodesAsTheMessagesDo() throws {
        let bytes: [UInt8] = try Self.fullLogsRequest().serializedBytes()
        for cut in 0..<bytes.count {
            let prefix = Array(bytes[..<cut])
            #expect(BothDecoders.logsByHand(prefix) == BothDecoders.logsThroughMessages(prefix), "cut at \(cut)")
        }
    }

    @Test func mutatedBytesNeverCrash() throws {
        let bytes: [UInt8] = try Self.fullLogsRequest().serializedBytes()
        var random = SplitMix64(seed: 0x1095)
        var bothDecoded = 0
        for _ in 0..<3_000 {
            var mutated = bytes
            for _ in 0...random.next(below: 3) {
                mutated[Int(random.next(below: UInt64(mutated.count)))] = UInt8(truncatingIfNeeded: random.next())
            }
            let actual = BothDecoders.logsByHand(mutated)
            let expected = BothDecoders.logsThroughMessages(mutated)
            // See the trace decoder's test: only when both decode must they agree.
            if !actual.failed && !expected.failed {
                bothDecoded += 1
                #expect(actual == expected)
            }
        }
        #expect(bothDecoded > 100)
    }

    @Test func wrongWireTypesAreErrors() {
        let cases: [(String, [UInt8])] = [
            ("resource_logs as fixed32", Wire.fixed32(1, 1)),
            ("scope_logs as a varint", Wire.message(1, Wire.varint(2, 1))),
            ("time as a varint", Wire.message(1, Wire.message(2, Wire.message(2, Wire.varint(1, 1))))),
            ("severity as a string", Wire.message(1, Wire.message(2, Wire.message(2, Wire.string(2, "INFO"))))),
            ("body as a varint", Wire.message(1, Wire.message(2, Wire.message(2, Wire.varint(5, 1))))),
            ("flags as a varint", Wire.message(1, Wire.message(2, Wire.message(2, Wire.varint(8, 1))))),
            (
                "a bool value as fixed64",
                Wire.message(
                    1,
                    Wire.message(
                        2,
                        Wire.message(
                            2,
                            Wire.message(
                                5, Wire.fixed64(2, 1)))))
            ),
        ]
        for (name, bytes) in cases {
            do {
                _ = try OTLPLogDecoder.decode(bytes)
                Issue.record("\(name) decoded")
            } catch {
                #expect(error.description.hasPrefix("cannot decode ExportLogsServiceRequest: malformed protobuf ("))
                #expect(error.description.contains("has wire type"), "\(name): \(error)")
            }
        }
    }
}
