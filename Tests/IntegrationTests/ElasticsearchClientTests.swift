import Foundation
import PetrelTestSupport
import Testing

/// Keeps the test receiver of the `_bulk` API honest: Elastic's official Python client (from PyPI, in the
/// `.venv-elasticsearch` that `make test-deps` creates) posts to it as to Elasticsearch, gzipped, with its own
/// content type and its product check, and gets the answers Elasticsearch would give.
@Suite struct ElasticsearchClientTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var python: URL {
        if let path = ProcessInfo.processInfo.environment["PETREL_ELASTICSEARCH_PYTHON"] {
            return URL(fileURLWithPath: path)
        }
        return packageRoot.appendingPathComponent(".venv-elasticsearch/bin/python")
    }

    private struct Outcome: Decodable {
        struct Failed: Decodable, Equatable {
            var action: String
            var status: Int
            var type: String
        }

        var stored: Int
        var failed: [Failed]
    }

    @Test func theOfficialClientsBulkHelperIsAnsweredAsElasticsearchWould() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python.path) else {
            throw TestSupportError("no Elasticsearch client venv at \(Self.python.path); `make test-deps` creates it")
        }
        let receiver = try await ElasticsearchReceiver()
        let process = Process()
        process.executableURL = Self.python
        process.arguments = [
            Self.packageRoot.appendingPathComponent("Tests/IntegrationTests/elasticsearch/bulk_with_client.py").path,
            receiver.url,
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let (text, problems) = await offload {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (text, problems)
        }
        try await receiver.stop()
        #expect(process.terminationStatus == 0, "\(problems)")
        let outcome = try JSONDecoder().decode(Outcome.self, from: Data(text.utf8))
        #expect(receiver.refusals.isEmpty, "\(receiver.refusals)")
        #expect(receiver.requests == 3, "52 actions in chunks of 20")
        #expect(outcome.stored == 51)
        #expect(outcome.failed == [.init(action: "index", status: 400, type: "document_parsing_exception")])
        let documents = receiver.documents(in: "client-2026.12.07")
        #expect(Set(documents.map(\.id)) == Set((0..<50).map { "doc-\($0)" }))
        #expect(documents.first { $0.id == "doc-7" }?.source["message"] == .string("client message 7"))
        #expect(receiver.documents(in: "logs-client-default").count == 1)
    }
}
