import Foundation
import PetrelTestSupport
import Testing

/// Syslog from util-linux `logger` (RFC 5424 with structured data, octet-counted TCP; RFC 3164 over newline TCP),
/// through the real binary's `syslog` source to the `loki`, `victorialogs` and `elasticsearch` sinks at once, each
/// against the receiver written from the product's published API: every message in every store, field by field.
@Suite struct SyslogToLogStoresTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-syslog-stores-\(UUID().uuidString)")

    @Test func loggerMessagesArriveFieldByFieldInEveryLogStore() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let loki = try LokiReceiver()
        let victoriaLogs = try await VictoriaLogsReceiver()
        let elasticsearch = try await ElasticsearchReceiver()
        let port = freePort()
        let batch = "batch: { max_age: 100ms }"
        let petrel = try PetrelProcess(
            config: """
                data_dir: \(directory.path)/data
                sources:
                  syslog: { type: syslog, mode: tcp, address: "127.0.0.1:\(port)" }
                sinks:
                  loki:
                    type: loki
                    inputs: [syslog]
                    endpoint: \(loki.baseURL)
                    labels: { appname: "{{ fields.appname }}", severity: "{{ severity }}" }
                    structured_metadata: { facility: "{{ fields.facility }}" }
                    \(batch)
                  vlogs:
                    type: victorialogs
                    inputs: [syslog]
                    endpoint: \(victoriaLogs.url)
                    stream_fields: [hostname, appname]
                    \(batch)
                  es:
                    type: elasticsearch
                    inputs: [syslog]
                    endpoints: [\(elasticsearch.url)]
                    index: "syslog-%Y.%m.%d"
                    \(batch)
                """, directory: directory)
        try await petrel.start()
        let logger = try findExecutable("logger")
        let rfc5424 = try runCommand(
            logger,
            [
                "--rfc5424", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P", "\(port)", "-t", "billing",
                "-p", "local3.warning", "--msgid", "INVOICE", "--sd-id", "order@32473", "--sd-param", #"id="42""#,
                "invoice 42 sent",
            ])
        #expect(rfc5424.status == 0, "\(rfc5424.errors)")
        let rfc3164 = try runCommand(
            logger,
            ["--rfc3164", "--tcp", "-n", "127.0.0.1", "-P", "\(port)", "-t", "cron", "-p", "cron.err", "job failed"])
        #expect(rfc3164.status == 0, "\(rfc3164.errors)")

        let deadline = ContinuousClock.now + .seconds(60)
        while loki.stored.count < 2 || victoriaLogs.entries.count < 2 || elasticsearch.stored.count < 2,
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(100))
        }

        let lines = Dictionary(loki.stored.map { ($0.line, $0) }) { first, _ in first }
        #expect(loki.stored.count == 2, "each once: \(loki.stored)")
        #expect(lines["invoice 42 sent"]?.labels == ["appname": "billing", "severity": "warning"])
        #expect(lines["invoice 42 sent"]?.structuredMetadata["facility"] == "local3")
        #expect(lines["job failed"]?.labels == ["appname": "cron", "severity": "err"])
        #expect(lines["job failed"]?.structuredMetadata["facility"] == "cron")

        let entries = Dictionary(victoriaLogs.entries.map { ($0.message, $0) }) { first, _ in first }
        #expect(victoriaLogs.entries.count == 2, "each once: \(victoriaLogs.entries)")
        let invoice = entries["invoice 42 sent"]
        #expect(invoice?.stream["appname"] == "billing")
        #expect(invoice?.stream["hostname"]?.isEmpty == false)
        #expect(invoice?.fields["level"] == "warning")
        #expect(invoice?.fields["facility"] == "local3")
        #expect(invoice?.fields["msgid"] == "INVOICE")
        #expect(invoice?.fields["structured_data.order@32473.id"] == "42")
        #expect(entries["job failed"]?.stream["appname"] == "cron")
        #expect(entries["job failed"]?.fields["level"] == "err")

        #expect(elasticsearch.stored.count == 2, "each once: \(elasticsearch.stored.map(\.source))")
        for document in elasticsearch.stored {
            #expect(document.index.hasPrefix("syslog-20"), "dated index: \(document.index)")
        }
        let documents = Dictionary(
            elasticsearch.stored.compactMap { document -> (String, [String: JSONValue])? in
                guard case .string(let message) = document.source["message"] else { return nil }
                return (message, document.source)
            }
        ) { first, _ in first }
        let sent = documents["invoice 42 sent"]
        #expect(sent?["log.level"] == .string("warning"))
        #expect(sent?["appname"] == .string("billing"))
        #expect(sent?["facility"] == .string("local3"))
        #expect(documents["job failed"]?["appname"] == .string("cron"))

        #expect(await petrel.stop() == 0)
        await loki.stop()
        try await victoriaLogs.stop()
        try await elasticsearch.stop()
    }
}
