import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import Synchronization

/// Ships log records to the `_bulk` API of Elasticsearch, OpenSearch or any receiver of it (VictoriaLogs'
/// `/insert/elasticsearch`): an action line and a flat JSON document per record, into a dated index or a data stream.
///
/// The answer is read per item: items refused with 429 or 5xx are sent again, alone, with backoff; items refused for
/// good (a mapping error) are dropped and counted under their error type; the rest are delivered. Each input piece is
/// acknowledged once all its items are done with, so only the pieces of items being retried stay held. A whole request
/// answered 429 or 5xx is retried, any other non-2xx status drops it as `http_<status>`.
public struct ElasticsearchSink: Sink {
    public let config: ElasticsearchSinkConfig

    public init(config: ElasticsearchSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "elasticsearch", kind: .sink) { reader, _ in
        .sink(ElasticsearchSink(config: ElasticsearchSinkConfig(from: reader)), accepts: [.logs])
    }

    /// A `_bulk` answer lists every item, with the reason of each failure: a request of `maxEvents` failed items is
    /// read whole up to this many bytes per item.
    static let answerBytesPerItem = 2048

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let tls =
            config.endpoints.contains(where: \.usesTLS)
            ? try ReloadingClientTLS(config.request.tls, logger: context.logger) : nil
        let clients = config.endpoints.map { endpoint in
            HTTPEndpointClient(
                origin: endpoint, connections: config.request.concurrency, timeout: config.request.timeout, tls: tls,
                serverName: config.request.tls.serverName)
        }
        let retries = context.telemetry.registry.counter(
            "petrel_elasticsearch_retries_total",
            help: "Bulk requests retried, whole or for some of their items, after a retryable failure.",
            labels: [("component_id", context.id)])
        let bulk = BulkSender(config: config, clients: clients)
        let driver = RequestDriver<BulkRequest>(
            settings: config.request, context: context,
            destination: config.endpoints.map(\.description).joined(separator: ","), retries: retries,
            attempt: { await bulk.attempt($0) })
        let settings = config.request
        let encoder = BulkEncoder(config: config)
        do {
            try await driver.run(
                batcher: LogRequestBatcher(
                    maxEvents: settings.maxEvents, maxBytes: settings.maxBytes, maxAge: settings.maxAge),
                pull: { await input.next(until: $0) },
                prepare: { BulkRequest(items: encoder.encode($0.records), pieces: $0.pieces) })
        } catch {
            for client in clients { await client.shutdown() }
            throw error
        }
        for client in clients { await client.shutdown() }
    }
}

/// One attempt at a `_bulk` request: its pending items to the next endpoint in turn, the answer sorted per item.
final class BulkSender: Sendable {
    let config: ElasticsearchSinkConfig
    let clients: [HTTPEndpointClient]
    let endpoints: [HTTPEndpoint]
    let headers: HTTPHeaders
    let actionName: String
    private let turn = Atomic<Int>(0)

    init(config: ElasticsearchSinkConfig, clients: [HTTPEndpointClient]) {
        self.config = config
        self.clients = clients
        endpoints = config.endpoints.map(ElasticsearchSinkConfig.bulkEndpoint)
        actionName = BulkEncoder(config: config).actionName
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-ndjson")
        if config.request.compression == .gzip { headers.add(name: "Content-Encoding", value: "gzip") }
        headers.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        config.request.addHeaders(to: &headers)
        self.headers = headers
    }

    func attempt(_ request: BulkRequest) async -> SendOutcome {
        let (sent, lines) = request.pendingBody()
        let body = ByteBuffer(bytes: config.request.compression == .gzip ? Zlib.compress(lines, format: .gzip) : lines)
        let index = turn.wrappingAdd(1, ordering: .relaxed).oldValue % clients.count
        let response: HTTPClientResponse
        do {
            response = try await clients[index].post(
                to: endpoints[index], body: body, headers: headers,
                maxBodyBytes: max(HTTPEndpointClient.maxBodyBytes, sent.count * ElasticsearchSink.answerBytesPerItem))
        } catch {
            return .retry(reason: "\(endpoints[index]): \(error)", after: nil)
        }
        guard (200..<300).contains(response.status.code) else {
            return HTTPAnswer.outcome(
                of: response, wireBytes: body.readableBytes, retryable: HTTPAnswer.remoteWriteRetryable)
        }
        // A 2xx without a body (a proxy that took the request) lists nothing refused.
        guard response.body.readableBytes > 0 else {
            request.settle(done: sent, retried: [])
            return .itemized(ItemizedOutcome(wireBytes: body.readableBytes, delivered: sent.count))
        }
        guard
            let answer = BulkResponse.decode(Array(response.body.readableBytesView)),
            let results = BulkItemResults.sort(
                answer, sent: sent, action: actionName, idsSet: config.idField != nil)
        else {
            // Nothing says which items were stored: all are sent again (with id_field, they are stored once).
            return .retry(
                reason: "the _bulk answer does not account for every item: \(response.firstBodyLine)", after: nil)
        }
        request.settle(done: results.delivered + results.dropped.flatMap(\.items), retried: results.retried)
        var outcome = ItemizedOutcome(wireBytes: body.readableBytes, delivered: results.delivered.count)
        outcome.dropped = results.dropped.map {
            ItemizedOutcome.Dropped(reason: $0.reason, count: $0.items.count, message: $0.message)
        }
        if !results.retried.isEmpty { outcome.retry = (reason: results.retryReason, after: nil) }
        return .itemized(outcome)
    }
}
