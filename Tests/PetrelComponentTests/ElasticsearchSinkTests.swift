import Logging
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Synchronization
import Testing

@testable import PetrelSinks

/// The `elasticsearch` sink against a receiver that does what Elasticsearch's `_bulk` reference says (no Elasticsearch
/// server is packaged here): per-item answers, mapping errors, data streams, conflicts.
@Suite struct ElasticsearchSinkTests {
    private func build(_ node: ConfigNode) -> (config: ElasticsearchSinkConfig?, errors: [String]) {
        let outcome = buildComponent(ElasticsearchSink.definition, at: "sinks.es", node)
        guard case .sink(let sink as ElasticsearchSink, _)? = outcome.built else { return (nil, outcome.errors) }
        return (sink.config, outcome.errors)
    }

    private func config(_ receivers: ElasticsearchReceiver...) throws -> ElasticsearchSinkConfig {
        var config = ElasticsearchSinkConfig(endpoints: try receivers.map { try HTTPEndpoint.parse($0.url).get() })
        config.request.maxAge = .milliseconds(10)
        config.request.initialBackoff = .milliseconds(10)
        config.request.maxBackoff = .milliseconds(50)
        return config
    }

    private func run(_ config: ElasticsearchSinkConfig, _ envelopes: [Envelope]) async throws -> ComponentTelemetry {
        try await runLogStoreSink(ElasticsearchSink(config: config), id: "es", type: "elasticsearch", envelopes)
    }

    @Test func readsItsKeys() throws {
        let (config, errors) = build(
            componentConfig([
                "endpoints": ["http://es-1:9200", "https://es-2:9200/prefix/"], "index": "k8s-%Y.%m",
                "action": "create",
                "id_field": "uid", "compression": "none",
            ]))
        #expect(errors.isEmpty, "\(errors)")
        let built = try #require(config)
        #expect(built.endpoints.count == 2 && built.mode == .bulk && built.action == .create && built.idField == "uid")
        #expect(built.index.render(hour: 0) == "k8s-1970.01")
        #expect(
            ElasticsearchSinkConfig.bulkEndpoint(built.endpoints[1]).target
                == "/prefix/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason")
    }

    @Test func dataStreamModeNamesTheStream() throws {
        let (config, errors) = build(
            componentConfig([
                "endpoints": ["http://es:9200"], "mode": "data_stream",
                "data_stream": ["dataset": "kubernetes", "namespace": "prod"],
            ]))
        #expect(errors.isEmpty, "\(errors)")
        #expect(config?.dataStream.name == "logs-kubernetes-prod")
    }

    @Test func errorsNameTheKey() {
        let (_, errors) = build(
            componentConfig([
                "endpoints": ["http://es:9200?x=1", "ftp://es"], "mode": "data_stream", "index": "Logs-%Y",
                "action": "create", "data_stream": ["dataset": "a-b"], "id_field": "",
            ]))
        #expect(
            errors.sorted() == [
                "petrel.yaml: sinks.es.action: is for mode: bulk; data streams take only create",
                "petrel.yaml: sinks.es.data_stream.dataset: must not contain \"-\"",
                "petrel.yaml: sinks.es.endpoints[0]: expected a base URL such as http://elasticsearch:9200, without a query",
                "petrel.yaml: sinks.es.endpoints[1]: invalid URL \"ftp://es\": unsupported scheme \"ftp\"; expected http or https",
                "petrel.yaml: sinks.es.id_field: must not be empty",
                "petrel.yaml: sinks.es.index: is for mode: bulk; a data stream is named by data_stream.type, dataset, namespace",
                "petrel.yaml: sinks.es.index: must be lower case, as Elasticsearch requires of index names",
            ], "\(errors.sorted())")
    }

    @Test func everyRecordIsStoredOnceInItsDaysIndex() async throws {
        let receiver = try await ElasticsearchReceiver()
        var config = try config(receiver)
        config.request.maxEvents = 25
        // 60 records an hour apart: they span three days.
        let records = (0..<60).map { index in
            var record = LogStoreFixtures.records(count: 1, firstSeq: index)[0]
            record.timestamp = 1_765_065_600_000_000_000 + Int64(index) * 3_600_000_000_000
            return record
        }
        let telemetry = try await run(config, [Envelope(.logs(LogBatch(records: records)))])
        try await receiver.stop()
        #expect(receiver.refusals.isEmpty && receiver.itemErrors.isEmpty, "\(receiver.refusals) \(receiver.itemErrors)")
        // Requests go out concurrently: each record once, in whatever order the requests landed.
        #expect(receiver.stored.compactMap { $0.source["message"]?.string }.sorted() == records.map(\.message).sorted())
        #expect(Set(receiver.indices) == ["petrel-2025.12.07", "petrel-2025.12.08", "petrel-2025.12.09"])
        #expect(receiver.documents(in: "petrel-2025.12.07").count == 24)
        let first = try #require(receiver.stored.first { $0.source["n"] == .int(0) }?.source)
        #expect(first["@timestamp"] == .string("2025-12-07T00:00:00.000000000Z"))
        #expect(first["log.level"] == .string("INFO") && first["log.iostream"] == .string("stderr"))
        #expect(first["k8s.namespace.name"] == .string("shop") && first["k8s.node.name"] == .string("node-a"))
        // Dedotted, or `app` would be both a value and an object and Elasticsearch would refuse the document.
        #expect(first["k8s.pod.label.app"] == .string("api"))
        #expect(first["k8s.pod.label.app_kubernetes_io/name"] == .string("shop-api"))
        #expect(telemetry.sent == 60)
    }

    @Test func idFieldSetsTheDocumentID() async throws {
        let receiver = try await ElasticsearchReceiver()
        var config = try config(receiver)
        config.idField = "n"
        let records = LogStoreFixtures.records(count: 5)
        _ = try await run(config, [Envelope(.logs(LogBatch(records: records)))])
        try await receiver.stop()
        #expect(receiver.stored.map(\.id).sorted() == ["0", "1", "2", "3", "4"])
    }

    @Test func dataStreamModeCreatesWithTheStreamsFields() async throws {
        let receiver = try await ElasticsearchReceiver()
        var config = try config(receiver)
        config.mode = .dataStream
        config.dataStream.dataset = "kubernetes"
        let records = LogStoreFixtures.records(count: 10)
        _ = try await run(config, [Envelope(.logs(LogBatch(records: records)))])
        try await receiver.stop()
        #expect(receiver.itemErrors.isEmpty, "\(receiver.itemErrors)")
        let documents = receiver.documents(in: "logs-kubernetes-default")
        #expect(documents.count == 10)
        #expect(documents.first?.source["data_stream.dataset"] == .string("kubernetes"))
    }

    @Test func theReceiverRefusesIndexActionsIntoADataStream() async throws {
        // The receiver's own strictness: `index` into a data stream is an item error, dropped under its type.
        let receiver = try await ElasticsearchReceiver()
        var config = try config(receiver)
        config.index = try TimeTemplate.parse("logs-app-default").get()
        let telemetry = try await run(config, [Envelope(.logs(LogBatch(records: LogStoreFixtures.records(count: 3))))])
        try await receiver.stop()
        #expect(receiver.stored.isEmpty)
        #expect(telemetry.discarded("illegal_argument_exception") == 3)
    }

    @Test func tooManyRequestsThenOKStoresEverythingOnce() async throws {
        let receiver = try await ElasticsearchReceiver(script: [429, 502])
        let records = LogStoreFixtures.records(count: 30)
        let telemetry = try await run(try config(receiver), [Envelope(.logs(LogBatch(records: records)))])
        try await receiver.stop()
        #expect(receiver.requests == 3)
        #expect(receiver.stored.compactMap { $0.source["message"]?.string }.sorted() == records.map(\.message).sorted())
        #expect(telemetry.sent == 30)
    }

    @Test func failedItemsAloneAreRetriedAndMappingErrorsDroppedWithTheirReason() async throws {
        // Items 3, 13, 23 are refused with 429 twice, item 7 with 503 once; items 10 and 20 carry a string where the
        // index mapped a number: a mapping error.
        let receiver = try await ElasticsearchReceiver(items: { source, attempt in
            guard case .int(let n)? = source["n"] else { return nil }
            if n % 10 == 3 && attempt < 2 { return 429 }
            if n == 7 && attempt == 0 { return 503 }
            return nil
        })
        var config = try config(receiver)
        config.request.maxEvents = 1000
        var records = LogStoreFixtures.records(count: 30)
        for index in [10, 20] { records[index].fields["n"] = .string("not a number \(index)") }
        let probe = AcknowledgementProbe()
        let telemetry = try await run(
            config, [Envelope(.logs(LogBatch(records: records)), acknowledgement: probe.acknowledgement)])
        try await receiver.stop()
        let stored = receiver.stored.compactMap { $0.source["message"]?.string }
        let expected = records.indices.filter { $0 != 10 && $0 != 20 }.map { records[$0].message }
        #expect(stored.sorted() == expected.sorted(), "every other record once")
        #expect(stored.count == Set(stored).count, "none twice")
        // One request, then the four retried items, then the three still refused.
        #expect(receiver.requests == 3)
        #expect(telemetry.discarded("document_parsing_exception") == 2)
        #expect(telemetry.sent == 28)
        #expect(probe.isAcknowledged)
    }

    @Test func onlyThePiecesOfRetriedItemsStayHeld() async throws {
        let release = Atomic<Bool>(false)
        let receiver = try await ElasticsearchReceiver(items: { source, _ in
            source["message"] == .string("pod=held seq=0") && !release.load(ordering: .relaxed) ? 429 : nil
        })
        var config = try config(receiver)
        config.request.maxEvents = 1000
        config.request.maxAge = .milliseconds(200)
        let done = AcknowledgementProbe()
        let held = AcknowledgementProbe()
        let queue = BatchQueue(capacity: 4, producers: 1)
        try await queue.send(
            Envelope(
                .logs(LogBatch(records: LogStoreFixtures.records(count: 5))), acknowledgement: done.acknowledgement))
        try await queue.send(
            Envelope(
                .logs(LogBatch(records: LogStoreFixtures.records(pod: "held", count: 2))),
                acknowledgement: held.acknowledgement))
        queue.producerFinished()
        let telemetry = componentTestTelemetry(id: "es", type: "elasticsearch", kind: .sink)
        let sink = Task {
            try await ElasticsearchSink(config: config).run(
                SinkInput(queue: queue, telemetry: telemetry),
                SinkContext(id: "es", telemetry: telemetry, logger: Logger(label: "test")))
        }
        #expect(await componentEventually { done.isAcknowledged }, "the batch whose items all went is let go")
        #expect(await componentEventually { receiver.requests >= 3 }, "the held item is being retried")
        #expect(!held.isAcknowledged, "the batch of the retried item stays held")
        release.store(true, ordering: .relaxed)
        try await sink.value
        try await receiver.stop()
        #expect(held.isAcknowledged)
        #expect(receiver.stored.count == 7)
    }

    @Test func aConflictOnCreateWithAnIDIsAlreadyStored() async throws {
        let receiver = try await ElasticsearchReceiver()
        var config = try config(receiver)
        config.action = .create
        config.idField = "n"
        let records = LogStoreFixtures.records(count: 4)
        // The same records twice, as a retry after a lost answer would send them.
        let telemetry = try await run(
            config, [Envelope(.logs(LogBatch(records: records))), Envelope(.logs(LogBatch(records: records)))])
        try await receiver.stop()
        #expect(receiver.stored.count == 4)
        #expect(receiver.itemErrors.count == 4 && receiver.itemErrors.allSatisfy { $0.hasPrefix("409 ") })
        #expect(telemetry.sent == 8 && telemetry.discarded("version_conflict_engine_exception") == nil)
    }

    @Test func attemptsGoToTheEndpointsInTurn() async throws {
        let first = try await ElasticsearchReceiver(script: [503])
        let second = try await ElasticsearchReceiver()
        var config = try config(first, second)
        config.request.concurrency = 1
        _ = try await run(config, [Envelope(.logs(LogBatch(records: LogStoreFixtures.records(count: 3))))])
        try await first.stop()
        try await second.stop()
        #expect(first.requests == 1 && first.stored.isEmpty)
        #expect(second.stored.count == 3, "the retry went to the next endpoint")
    }
}

/// The `_bulk` answer, sorted per item.
@Suite struct BulkItemResultsTests {
    private func sort(_ json: String, sent: [Int], action: String = "index", ids: Bool = false) -> BulkItemResults? {
        guard let response = BulkResponse.decode(Array(json.utf8)) else { return nil }
        return BulkItemResults.sort(response, sent: sent, action: action, idsSet: ids)
    }

    @Test func noErrorsDeliversEverything() {
        #expect(sort(#"{"errors":false}"#, sent: [4, 5])?.delivered == [4, 5])
    }

    @Test func sortsTheFilteredAnswer() throws {
        let results = try #require(
            sort(
                #"""
                {"errors":true,"items":[{"index":{"status":201}},{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},{"index":{"status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [n]"}}},{"index":{"status":503,"error":{"type":"unavailable_shards_exception","reason":"primary"}}},{"index":{"status":400,"error":{"type":"document_parsing_exception","reason":"other"}}}]}
                """#, sent: [0, 2, 4, 6, 8]))
        #expect(results.delivered == [0])
        #expect(results.retried == [2, 6])
        #expect(results.retryReason == "item status 429: es_rejected_execution_exception: queue full")
        #expect(
            results.dropped == [
                .init(
                    reason: "document_parsing_exception", items: [4, 8],
                    message: "document_parsing_exception: failed to parse field [n]")
            ])
    }

    @Test func victoriaLogsAnswersCreateItemsWhateverTheAction() throws {
        // VictoriaLogs' `/insert/elasticsearch/_bulk` (app/vlinsert/elasticsearch/bulk_response.qtpl): every item under
        // `create`, a line it cannot parse as a 400 `document_parsing_exception`; it knows no `filter_path`.
        let results = try #require(
            sort(
                #"{"took":2,"errors":true,"items":[{"create":{"status":201}},{"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"cannot parse JSON"}}}]}"#,
                sent: [0, 1]))
        #expect(results.delivered == [0] && results.retried.isEmpty)
        #expect(results.dropped.map(\.reason) == ["document_parsing_exception"] && results.dropped[0].items == [1])
    }

    @Test func conflictsOnCreateWithIDsAreDeliveredOtherwiseDropped() {
        let answer =
            #"{"errors":true,"items":[{"create":{"status":409,"error":{"type":"version_conflict_engine_exception"}}}]}"#
        #expect(sort(answer, sent: [0], action: "create", ids: true)?.delivered == [0])
        #expect(
            sort(answer, sent: [0], action: "create", ids: false)?.dropped.first?.reason
                == "version_conflict_engine_exception")
    }

    @Test func anAnswerThatDoesNotListEveryItemIsNotSorted() {
        #expect(sort(#"{"errors":true,"items":[{"index":{"status":201}}]}"#, sent: [0, 1]) == nil)
        #expect(sort(#"{"errors":true}"#, sent: [0]) == nil)
        #expect(sort(#"{"errors":true,"items":[{"index":{"status":201},"create":{"status":201}}]}"#, sent: [0]) == nil)
        #expect(BulkResponse.decode(Array(#"{"errors":tr"#.utf8)) == nil, "a truncated answer")
    }

    @Test func aPlainStringErrorIsItsReason() {
        let results = sort(
            #"{"errors":true,"items":[{"index":{"status":400,"error":"MapperParsingException[x]"}}]}"#, sent: [0])
        #expect(results?.dropped == [.init(reason: "http_400", items: [0], message: "MapperParsingException[x]")])
    }
}

/// Log batches cut into requests, each knowing how many of its records each input piece holds.
@Suite struct LogRequestBatcherTests {
    @Test func splitsABatchAcrossRequestsAndCountsEachPiece() {
        var batcher = LogRequestBatcher(maxEvents: 4, maxBytes: 1 << 20, maxAge: .seconds(1))
        let first = AcknowledgementProbe()
        let second = AcknowledgementProbe()
        let now = ContinuousClock.now
        let full = batcher.add(
            Envelope(
                .logs(LogBatch(records: LogStoreFixtures.records(count: 3))), acknowledgement: first.acknowledgement),
            now: now)
        #expect(full.isEmpty && batcher.deadline == now + .seconds(1))
        let ready = batcher.add(
            Envelope(
                .logs(LogBatch(records: LogStoreFixtures.records(count: 6, firstSeq: 3))),
                acknowledgement: second.acknowledgement), now: now)
        #expect(ready.map(\.records.count) == [4, 4])
        #expect(ready.map { $0.pieces.map(\.records) } == [[3, 1], [4]])
        let rest = batcher.flushAll()
        #expect(rest.map { $0.pieces.map(\.records) } == [[1]])
        #expect(
            (ready + rest).flatMap(\.records).map(\.message) == (0..<9).map { "pod=api-7d4b9-x2x7q seq=\($0)" })
        // The second batch is held by three pieces: it is let go only once all three are.
        ready[0].acknowledge()
        #expect(first.isAcknowledged && !second.isAcknowledged)
        ready[1].acknowledge()
        #expect(!second.isAcknowledged)
        rest[0].acknowledge()
        #expect(second.isAcknowledged)
    }

    @Test func flushesOnlyOnceTheDeadlinePassed() {
        var batcher = LogRequestBatcher(maxEvents: 100, maxBytes: 1 << 20, maxAge: .seconds(1))
        let now = ContinuousClock.now
        _ = batcher.add(Envelope(.logs(LogBatch(records: LogStoreFixtures.records(count: 2)))), now: now)
        #expect(batcher.flushExpired(now: now + .milliseconds(999)).isEmpty)
        #expect(batcher.flushExpired(now: now + .seconds(1)).map(\.records.count) == [2])
        #expect(batcher.deadline == nil && batcher.flushAll().isEmpty)
    }

    @Test func anEmptyBatchIsLetGoAtOnce() {
        var batcher = LogRequestBatcher(maxEvents: 100, maxBytes: 1 << 20, maxAge: .seconds(1))
        let probe = AcknowledgementProbe()
        #expect(batcher.add(Envelope(.logs(LogBatch()), acknowledgement: probe.acknowledgement)).isEmpty)
        #expect(probe.isAcknowledged && batcher.deadline == nil)
    }
}
