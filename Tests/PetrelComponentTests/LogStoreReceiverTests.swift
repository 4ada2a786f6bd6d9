import PetrelTestSupport
import Testing

/// The test receivers refuse what the real products refuse, so a sink that passes against them is not passing
/// against something laxer than the product.
@Suite struct LogStoreReceiverTests {
    private static let ndjson = ["Content-Type": "application/x-ndjson"]

    @Test func elasticsearchRefusesABodyWithoutTheFinalNewline() async throws {
        let receiver = try await ElasticsearchReceiver()
        let response = await httpRequest(
            port: receiver.port, method: "POST", path: "/_bulk", headers: Self.ndjson,
            body: Array(#"{"index":{"_index":"a"}}"#.utf8) + Array("\n{\"m\":1}".utf8))
        try await receiver.stop()
        #expect(response?.status == 400)
        #expect(response?.text.contains("The bulk request must be terminated by a newline") == true)
        #expect(receiver.stored.isEmpty)
    }

    @Test func elasticsearchRefusesAContentTypeThatIsNotJSON() async throws {
        let receiver = try await ElasticsearchReceiver()
        let response = await httpRequest(
            port: receiver.port, method: "POST", path: "/_bulk", headers: ["Content-Type": "text/plain"],
            body: Array("{\"index\":{\"_index\":\"a\"}}\n{\"m\":1}\n".utf8))
        try await receiver.stop()
        #expect(response?.status == 406)
        #expect(response?.headers["x-elastic-product"] == "Elasticsearch")
    }

    @Test(arguments: [
        ("{\"index\":{}}\n{\"m\":1}\n", "index is missing"),
        ("{\"index\":{\"_index\":\"a\",\"_typo\":1}}\n{\"m\":1}\n", "contains an unknown parameter [_typo]"),
        ("{\"upsert\":{\"_index\":\"a\"}}\n{\"m\":1}\n", "Malformed action/metadata line [1]"),
    ])
    func elasticsearchRefusesTheWholeRequestForABadActionLine(body: String, reason: String) async throws {
        let receiver = try await ElasticsearchReceiver()
        let response = await httpRequest(
            port: receiver.port, method: "POST", path: "/_bulk", headers: Self.ndjson, body: Array(body.utf8))
        try await receiver.stop()
        #expect(response?.status == 400)
        #expect(response?.text.contains(reason) == true, "\(response?.text ?? "")")
    }

    @Test func elasticsearchRefusesPerItemWhatDoesNotFitTheMapping() async throws {
        let receiver = try await ElasticsearchReceiver()
        let lines = [
            #"{"index":{"_index":"a"}}"#, #"{"app":"x","n":1}"#,
            #"{"index":{"_index":"a"}}"#, #"{"app.kubernetes.io/name":"y"}"#,
            #"{"index":{"_index":"a"}}"#, #"{"n":"one"}"#,
            #"{"index":{"_index":"A"}}"#, #"{"n":2}"#,
            #"{"create":{"_index":"logs-x-default"}}"#, #"{"m":1}"#,
            #"{"index":{"_index":"a"}}"#, #"{"n":"3"}"#,
        ]
        let response = await httpRequest(
            port: receiver.port, method: "POST", path: "/_bulk", headers: Self.ndjson,
            body: Array((lines.joined(separator: "\n") + "\n").utf8))
        try await receiver.stop()
        #expect(response?.status == 200)
        #expect(
            receiver.itemErrors.map { String($0.prefix { $0 != ":" }) } == [
                "400 document_parsing_exception", "400 document_parsing_exception", "400 invalid_index_name_exception",
                "400 document_parsing_exception",
            ], "\(receiver.itemErrors)")
        // The first document, and a numeric string into a long field (coerced, as Elasticsearch does).
        #expect(receiver.stored.count == 2)
    }

    @Test func victoriaLogsRefusesATenantThatIsNotANumber() async throws {
        let receiver = try await VictoriaLogsReceiver()
        let response = await httpRequest(
            port: receiver.port, method: "POST", path: "/insert/jsonline", headers: ["AccountID": "team-a"],
            body: Array("{\"_msg\":\"m\",\"_time\":\"0\"}\n".utf8))
        try await receiver.stop()
        #expect(response?.status == 400)
        #expect(receiver.entries.isEmpty)
    }

    @Test func victoriaLogsSkipsBadLinesAndStoresTheRest() async throws {
        let receiver = try await VictoriaLogsReceiver()
        let body = [
            #"{"_msg":"kept","_time":"2026-12-07T01:02:03.5+01:00","a":{"b":[1,2]},"empty":""}"#, "not json",
            #"{"_msg":"bad time","_time":"yesterday"}"#, #"{"_msg":"unix ms","_time":1765000000123}"#,
        ].joined(separator: "\n")
        let response = await httpRequest(
            port: receiver.port, method: "POST", path: "/insert/jsonline?_stream_fields=a.b", body: Array(body.utf8))
        try await receiver.stop()
        #expect(response?.status == 200)
        #expect(receiver.invalidLines.count == 2)
        let entries = receiver.entries
        #expect(entries.map(\.message) == ["kept", "unix ms"])
        #expect(entries.map(\.time) == [1_796_601_723_500_000_000, 1_765_000_000_123_000_000])
        #expect(entries.first?.stream == ["a.b": "[1,2]"] && entries.first?.fields["empty"] == nil)
    }
}
