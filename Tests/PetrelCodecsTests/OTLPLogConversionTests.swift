import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf
import Testing

@Suite struct OTLPLogConversionTests {
    typealias Key = OTLPLogConversion.MetadataKey

    /// The OTLP specification's log example (opentelemetry-proto `examples/logs.json`), trimmed.
    static let specLogsJSON = """
        {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
         "scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0"},
          "logRecords":[{"timeUnixNano":"1544712660300000000","observedTimeUnixNano":"1544712660300000001",
            "severityNumber":10,"severityText":"Information",
            "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
            "body":{"stringValue":"Example log record"},
            "attributes":[{"key":"string.attribute","value":{"stringValue":"some string"}},
              {"key":"boolean.attribute","value":{"boolValue":true}},
              {"key":"int.attribute","value":{"intValue":"10"}},
              {"key":"double.attribute","value":{"doubleValue":637.704}},
              {"key":"array.attribute","value":{"arrayValue":{"values":[{"stringValue":"many"},{"stringValue":"values"}]}}},
              {"key":"map.attribute","value":{"kvlistValue":{"values":[{"key":"some.map.key","value":{"stringValue":"some value"}}]}}}]}]}]}]}
        """

    @Test func specExampleBecomesARecord() throws {
        let request = try OTLPJSON.decode(Array(Self.specLogsJSON.utf8), as: OTLPFixtures.LogsRequest.self)
        let batch = OTLPLogConversion.logBatch(from: request)
        let record = try #require(batch.records.first)
        #expect(batch.records.count == 1)
        #expect(record.timestamp == 1_544_712_660_300_000_000)
        #expect(record.message == "Example log record")
        #expect(record.severity == "Information")
        #expect(
            record.fields == [
                "string.attribute": .string("some string"), "boolean.attribute": .bool(true),
                "int.attribute": .int(10), "double.attribute": .double(637.704),
                "array.attribute": .array([.string("many"), .string("values")]),
                "map.attribute": .object(["some.map.key": .string("some value")]),
            ])
        #expect(record.resource == [Attribute("service.name", .string("my.service"))])
        #expect(
            record.metadata == [
                Key.scopeName: "my.library", Key.scopeVersion: "1.0.0",
                Key.traceID: "5b8efff798038103d269b633813fc60c", Key.spanID: "eee19b7ec3c1b174",
                Key.severityNumber: "10", Key.observedTimeUnixNano: "1544712660300000001",
            ])
    }

    @Test func severityNumberNamesAnEmptyText() {
        for (number, name) in [(1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (14, "WARN2"), (24, "FATAL4")] {
            var record = Opentelemetry_Proto_Logs_V1_LogRecord()
            record.timeUnixNano = 1
            record.severityNumber = .init(rawValue: number)!
            let converted = OTLPLogConversion.logBatch(from: request([record])).records[0]
            #expect(converted.severity == name)
            #expect(converted.metadata[Key.severityNumber] == String(number))
        }
    }

    @Test func observedTimeStandsInForAMissingTime() {
        var record = Opentelemetry_Proto_Logs_V1_LogRecord()
        record.observedTimeUnixNano = 1_700_000_000_123_456_789
        let converted = OTLPLogConversion.logBatch(from: request([record])).records[0]
        #expect(converted.timestamp == 1_700_000_000_123_456_789)
        #expect(converted.message == "")
        #expect(converted.fields.isEmpty)
    }

    @Test func bodyThatIsNotAStringGoesToFields() {
        var record = Opentelemetry_Proto_Logs_V1_LogRecord()
        var list = Opentelemetry_Proto_Common_V1_KeyValueList()
        list.values = [OTLPFixtures.attribute("event", "login"), OTLPFixtures.attribute("user", "ada")]
        record.body.kvlistValue = list
        record.attributes = [OTLPFixtures.attribute("code", OTLPFixtures.value(.intValue(7)))]
        let converted = OTLPLogConversion.logBatch(from: request([record])).records[0]
        #expect(converted.message == "")
        #expect(
            converted.fields == [
                "body": .object(["event": .string("login"), "user": .string("ada")]), "code": .int(7),
            ])
        #expect(converted.metadata[Key.bodyInFields] == "true")
        #expect(
            OTLPLogConversion.request(from: LogBatch(records: [converted])).resourceLogs[0].scopeLogs[0]
                .logRecords[0] == record)
    }

    @Test func roundTripKeepsWhatTheModelHolds() throws {
        var full = Opentelemetry_Proto_Logs_V1_LogRecord()
        full.timeUnixNano = 1_544_712_660_300_000_000
        full.observedTimeUnixNano = 1_544_712_660_400_000_000
        full.severityNumber = .error2
        full.severityText = "ERROR"
        full.body.stringValue = "payment declined"
        // Attributes sorted by key: fields are a dictionary, so they come back in key order.
        full.attributes = OTLPFixtures.everyValueKind().sorted { $0.key < $1.key }
        full.droppedAttributesCount = 2
        full.flags = 1
        full.traceID = OTLPFixtures.bytes(1...16)
        full.spanID = OTLPFixtures.bytes(17...24)
        full.eventName = "payment.declined"
        var bare = Opentelemetry_Proto_Logs_V1_LogRecord()
        bare.timeUnixNano = 5
        bare.body.stringValue = "second"

        var scope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        scope.scope.name = "payments.logger"
        scope.scope.version = "2.0"
        scope.schemaURL = "https://opentelemetry.io/schemas/1.26.0"
        scope.logRecords = [full, bare]
        var otherScope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        otherScope.scope.name = "other"
        otherScope.logRecords = [bare]
        var first = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        first.resource.attributes = [OTLPFixtures.attribute("service.name", "payments")]
        first.schemaURL = "https://opentelemetry.io/schemas/1.25.0"
        first.scopeLogs = [scope, otherScope]
        var second = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        second.resource.attributes = [OTLPFixtures.attribute("service.name", "checkout")]
        var plainScope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        plainScope.scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        plainScope.logRecords = [bare]
        second.scopeLogs = [plainScope]
        var original = OTLPFixtures.LogsRequest()
        original.resourceLogs = [first, second]

        let batch = OTLPLogConversion.logBatch(from: original)
        #expect(batch.records.count == 4)
        #expect(batch.records[0].severity == "ERROR")
        #expect(batch.records[0].metadata[Key.eventName] == "payment.declined")
        #expect(batch.records[0].metadata[Key.flags] == "1")
        #expect(batch.records[0].metadata[Key.droppedAttributesCount] == "2")
        #expect(OTLPLogConversion.request(from: batch) == original)
    }

    @Test func recordsFromOtherSourcesEncode() throws {
        let node = [Attribute("k8s.node.name", .string("node-1"))]
        let batch = LogBatch(records: [
            LogRecord(
                timestamp: 10, message: "disk full", severity: "error", fields: ["mount": .string("/var")],
                metadata: ["file": "/var/log/syslog"], resource: node),
            LogRecord(timestamp: 20, message: "elsewhere", severity: "warning", resource: []),
            LogRecord(timestamp: 30, message: "again", severity: "", resource: node),
        ])
        let request = OTLPLogConversion.request(from: batch)
        #expect(request.resourceLogs.count == 2)
        let records = request.resourceLogs[0].scopeLogs[0].logRecords
        #expect(request.resourceLogs[0].resource.attributes == [OTLPFixtures.attribute("k8s.node.name", "node-1")])
        #expect(records.map(\.body.stringValue) == ["disk full", "again"])
        #expect(records[0].severityText == "error")
        #expect(records[0].severityNumber == .error)
        #expect(records[0].attributes == [OTLPFixtures.attribute("mount", "/var")])
        #expect(records[0].traceID.isEmpty)
        #expect(records[1].severityNumber == .unspecified)
        #expect(request.resourceLogs[1].scopeLogs[0].logRecords[0].severityNumber == .warn)
        #expect(request.resourceLogs[0].scopeLogs[0].scope.name == "")
    }

    private func request(_ records: [Opentelemetry_Proto_Logs_V1_LogRecord]) -> OTLPFixtures.LogsRequest {
        var scope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        scope.logRecords = records
        var resource = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        resource.scopeLogs = [scope]
        var request = OTLPFixtures.LogsRequest()
        request.resourceLogs = [resource]
        return request
    }
}
