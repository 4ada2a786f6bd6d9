import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf
import Testing

/// The hand-written logs encoder writes what swift-protobuf writes for `OTLPLogConversion.request(from:)`, to the byte.
@Suite struct OTLPLogEncoderTests {
    typealias Key = OTLPLogConversion.MetadataKey

    private func expectSameBytes(_ batch: LogBatch, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var encoder = OTLPLogEncoder()
        let encoded = encoder.encode(batch)
        let expected: [UInt8] = try OTLPLogConversion.request(from: batch).serializedBytes()
        #expect(encoded == expected, sourceLocation: sourceLocation)
        // And the encoder's scratch is reused without leaking into the next request.
        #expect(encoder.encode(batch) == expected, sourceLocation: sourceLocation)
    }

    @Test func decodedRequestsEncodeAsSwiftProtobufDoes() throws {
        let batch = try OTLPLogDecoder.decode(try OTLPLogDecoderTests.fullLogsRequest().serializedBytes())
        #expect(batch.records.count == 6)
        try expectSameBytes(batch)
    }

    @Test func recordsFromOtherSourcesEncodeAsSwiftProtobufDoes() throws {
        let values: [String: AnyValue] = [
            "null": .null, "bool": .bool(false), "int": .int(-7), "double": .double(0), "string": .string(""),
            "bytes": .bytes([0, 255]), "array": .array([.null, .array([.string("x")])]),
            "object": .object(["b": .int(2), "a": .object([:])]), "": .int(1),
        ]
        let records = [
            // What a file or syslog source makes: a message, a severity in its own spelling, its own metadata.
            LogRecord(
                timestamp: 1_700_000_000_000_000_000, message: "disk full", severity: "warning", fields: values,
                metadata: ["file": "/var/log/x.log", Key.scopeName: "syslog"],
                resource: [Attribute("host.name", .string("node-1"))]),
            LogRecord(timestamp: -5, message: "", severity: "", fields: [:], metadata: [:]),
            LogRecord(
                timestamp: 3, message: "ignored: the body is in fields", severity: "CRIT",
                fields: ["body": .array([.int(1)]), "k": .string("v")],
                metadata: [
                    Key.bodyInFields: "true", Key.severityNumber: "-3", Key.traceID: "ABCDEF",
                    Key.spanID: "not hex", Key.flags: "12", Key.observedTimeUnixNano: "0",
                    Key.droppedAttributesCount: "x", Key.eventName: "", Key.resourceSchemaURL: "https://r",
                    Key.scopeVersion: "2", Key.scopeSchemaURL: "https://s",
                ],
                resource: [Attribute("host.name", .string("node-1"))]),
            LogRecord(
                timestamp: 4, message: "same resource, other schema", fields: ["body": .null],
                metadata: [Key.bodyInFields: "true", Key.resourceSchemaURL: "https://r"], resource: []),
        ]
        try expectSameBytes(LogBatch(records: records))
        try expectSameBytes(LogBatch())
    }
}
