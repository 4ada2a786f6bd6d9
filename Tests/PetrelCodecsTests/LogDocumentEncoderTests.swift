import PetrelCodecs
import PetrelCore
import Testing

/// A log record as a log store's flat document.
@Suite struct LogDocumentEncoderTests {
    private func encode(_ record: LogRecord, _ encoder: LogDocumentEncoder, extra: [(key: String, value: String)] = [])
        -> String
    {
        var writer = JSONWriter()
        encoder.write(record, extra: extra, into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private let victoriaLogs = LogDocumentEncoder(messageKey: "_msg", timeKey: "_time", severityKey: "level")

    @Test func writesTheReservedKeysThenFieldsResourceAndMetadata() {
        let record = LogRecord(
            timestamp: 1_765_000_000_123_456_789, message: "hello \"you\"", severity: "WARN",
            fields: ["b": .int(2), "a": .object(["x": .bool(true), "y": .array([.double(1.5), .null])])],
            metadata: ["file": "/var/log/x.log"],
            resource: [Attribute("k8s.pod.name", .string("p")), Attribute("k8s.container.restart_count", .int(3))])
        #expect(
            encode(record, victoriaLogs)
                == #"{"_msg":"hello \"you\"","_time":"2025-12-06T05:46:40.123456789Z","level":"WARN","#
                + #""a":{"x":true,"y":[1.5,null]},"b":2,"k8s.pod.name":"p","k8s.container.restart_count":3,"#
                + #""file":"/var/log/x.log"}"#)
    }

    @Test func aNameIsWrittenOnceReservedKeysFirstThenFieldsThenResourceThenMetadata() {
        let record = LogRecord(
            timestamp: 0, message: "m", fields: ["_msg": .string("field"), "host": .string("from field")],
            metadata: ["host": "from metadata", "level": "from metadata"],
            resource: [Attribute("host", .string("from resource")), Attribute("_time", .string("x"))])
        #expect(
            encode(record, victoriaLogs)
                == #"{"_msg":"m","_time":"1970-01-01T00:00:00.000000000Z","host":"from field","level":"from metadata"}"#
        )
    }

    @Test func extraPairsFollowTheReservedKeysAndWin() {
        let record = LogRecord(timestamp: 0, message: "m", fields: ["data_stream.type": .string("mine")])
        let encoder = LogDocumentEncoder(messageKey: "message", timeKey: "@timestamp", severityKey: "log.level")
        #expect(
            encode(record, encoder, extra: [(key: "data_stream.type", value: "logs")])
                == #"{"message":"m","@timestamp":"1970-01-01T00:00:00.000000000Z","data_stream.type":"logs"}"#)
    }

    @Test func dedotsLabelNamesUnderTheGivenPrefixesOnly() {
        let record = LogRecord(
            timestamp: 0, message: "m",
            resource: [
                Attribute("k8s.pod.label.app", .string("a")),
                Attribute("k8s.pod.label.app.kubernetes.io/name", .string("b")),
                Attribute("k8s.pod.annotation.prometheus.io/scrape", .string("true")),
                Attribute("k8s.namespace.name", .string("ns")),
            ])
        let encoder = LogDocumentEncoder(
            messageKey: "message", timeKey: "t", severityKey: "s",
            dedottedPrefixes: LogDocumentEncoder.kubernetesLabelPrefixes)
        #expect(
            encode(record, encoder)
                == #"{"message":"m","t":"1970-01-01T00:00:00.000000000Z","k8s.pod.label.app":"a","#
                + #""k8s.pod.label.app_kubernetes_io/name":"b","k8s.pod.annotation.prometheus_io/scrape":"true","#
                + #""k8s.namespace.name":"ns"}"#)
    }

    @Test func textOfAValueIsTheStringOrItsJSON() {
        #expect(LogDocumentEncoder.text(of: .string("a\"b")) == "a\"b")
        #expect(LogDocumentEncoder.text(of: .int(-4)) == "-4")
        #expect(LogDocumentEncoder.text(of: .object(["k": .array([.bool(false)])])) == #"{"k":[false]}"#)
    }
}
