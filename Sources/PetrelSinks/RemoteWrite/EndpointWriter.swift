import Logging
import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import Synchronization

/// Batches, encodes, compresses and sends the series routed to one endpoint, retrying failures.
///
/// A batcher task turns queued batches into requests bounded by samples, bytes and age; `concurrency`
/// sender tasks deliver them. A request that fails with a retryable error is retried with exponential
/// backoff and jitter (honouring `Retry-After`); in shard mode, while another endpoint is healthy, the
/// request's series move to it instead and this endpoint is probed until it answers again.
final class EndpointWriter: Sendable {
    let endpoint: HTTPEndpoint
    /// Mixed with series hashes for rendezvous hashing; derived from the URL so every node agrees.
    let seed: UInt64
    private let config: RemoteWriteSinkConfig
    private let headers: RequestHeaders
    private let context: SinkContext
    private let queue: BoundedQueue<RoutedBatch>
    private let pool: HTTPConnectionPool
    private let healthy = Atomic<Bool>(true)
    private let probing = Atomic<Bool>(false)
    private let healthGauge: Gauge
    private let retries: Counter

    init(
        endpoint: HTTPEndpoint, config: RemoteWriteSinkConfig, headers: RequestHeaders, tls: ReloadingTLSContext?,
        context: SinkContext
    ) {
        self.endpoint = endpoint
        self.seed = XXHash64.hash(Array(endpoint.description.utf8))
        self.config = config
        self.headers = headers
        self.context = context
        self.queue = BoundedQueue(capacity: config.bufferBatches, producers: 1)
        self.pool = HTTPConnectionPool(
            endpoint: endpoint, maxIdle: config.concurrency, tls: tls, serverName: config.tls.serverName)
        let labels = [("component_id", context.id), ("endpoint", endpoint.description)]
        self.healthGauge = context.telemetry.registry.gauge(
            "petrel_remote_write_endpoint_healthy",
            help: "1 while the endpoint accepts requests, 0 while it fails.",
            labels: labels)
        self.retries = context.telemetry.registry.counter(
            "petrel_remote_write_retries_total", help: "Requests retried after a retryable failure.",
            labels: labels)
        healthGauge.set(1)
    }

    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    func enqueue(_ batch: RoutedBatch) async throws {
        try await queue.send(batch)
    }

    /// No more batches will be routed here.
    func inputFinished() {
        queue.producerFinished()
    }

    func close() {
        pool.close()
    }

    func run(router: SeriesRouter) async throws {
        let requests = BoundedQueue<OutgoingRequest>(capacity: config.concurrency, producers: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { requests.producerFinished() }
                // Requests keep their batches only where they may have to move to another endpoint; otherwise a
                // batch's memory goes as soon as it is encoded.
                var batcher = RequestBatcher(config: self.config, keepBatches: router.canReroute)
                while true {
                    switch await self.queue.next(until: batcher.deadline) {
                    case .ended:
                        if let request = batcher.flush() { try await requests.send(request) }
                        return
                    case .timedOut:
                        if let request = batcher.flush() { try await requests.send(request) }
                    case .element(let batch):
                        for request in batcher.add(batch) { try await requests.send(request) }
                    }
                }
            }
            for _ in 0..<config.concurrency {
                group.addTask {
                    while let request = await requests.next() {
                        try await self.deliver(request, router: router)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private enum Outcome {
        case delivered
        case rejected(HTTPResponseStatus, String)
        case retryable(String, retryAfter: Duration?)
    }

    /// Sends a request until it is delivered or rejected, or hands it to a healthy peer.
    private func deliver(_ request: OutgoingRequest, router: SeriesRouter) async throws {
        var backoff = config.initialBackoff
        while true {
            if !isHealthy && router.hasHealthyPeer(of: self) {
                try await reroute(request, router: router)
                return
            }
            switch await attempt(request) {
            case .delivered:
                markHealthy()
                context.telemetry.sentEvents.increment(by: request.seriesCount)
                context.telemetry.sentBytes.increment(by: request.body.readableBytes)
                request.acknowledge()
                router.leave(request.seriesCount)
                return
            case .rejected(let status, let line):
                context.telemetry.discarded(request.seriesCount, reason: "http_\(status.code)")
                context.logger.warning(
                    "endpoint rejected a request; dropping it",
                    metadata: [
                        "endpoint": "\(endpoint)", "status": "\(status.code)", "response": "\(line)",
                        "series": "\(request.seriesCount)",
                    ])
                request.acknowledge()
                router.leave(request.seriesCount)
                return
            case .retryable(let reason, let retryAfter):
                // Cancelled (shutdown deadline, second signal): the request stays unacknowledged, not failed.
                try Task.checkCancellation()
                context.telemetry.error(.sending)
                retries.increment()
                context.logger.debug(
                    "request failed; will retry",
                    metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)"])
                if router.hasHealthyPeer(of: self) {
                    markUnhealthy(router: router)
                    try await reroute(request, router: router)
                    return
                }
                let jittered = backoff * Double.random(in: 0.5...1.0)
                try await Task.sleep(for: max(jittered, retryAfter ?? .zero))
                backoff = min(backoff * 2, config.maxBackoff)
            }
        }
    }

    private func attempt(_ request: OutgoingRequest) async -> Outcome {
        do {
            let response = try await pool.post(
                body: request.body, headers: headers.make(), timeout: config.timeout)
            switch response.status.code {
            case 200..<300: return .delivered
            case 429, 500..<600:
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map {
                    Duration.seconds($0)
                }
                return .retryable(
                    "HTTP \(response.status.code): \(response.firstBodyLine)", retryAfter: retryAfter)
            default:
                return .rejected(response.status, response.firstBodyLine)
            }
        } catch {
            return .retryable("\(error)", retryAfter: nil)
        }
    }

    /// Moves a request's series to healthy peers, with their acknowledgements; they are done with here.
    private func reroute(_ request: OutgoingRequest, router: SeriesRouter) async throws {
        // Requests keep their batches whenever a peer could take them (`SeriesRouter.canReroute`).
        for part in request.batches {
            try await router.route(part.batch, part.acknowledgement, avoiding: self)
        }
        router.leave(request.seriesCount)
    }

    private func markHealthy() {
        if !healthy.exchange(true, ordering: .relaxed) {
            healthGauge.set(1)
            context.logger.info("endpoint is healthy again", metadata: ["endpoint": "\(endpoint)"])
        }
    }

    private func markUnhealthy(router: SeriesRouter) {
        guard healthy.exchange(false, ordering: .relaxed) else { return }
        healthGauge.set(0)
        context.logger.warning(
            "endpoint failing; its series move to the other endpoints",
            metadata: ["endpoint": "\(endpoint)"])
        guard !probing.exchange(true, ordering: .relaxed) else { return }
        Task { await self.probe() }
    }

    /// Sends empty requests with backoff until the endpoint answers 2xx, then marks it healthy.
    private func probe() async {
        defer { probing.store(false, ordering: .relaxed) }
        var backoff = config.initialBackoff
        let empty = OutgoingRequest(
            batches: [], acknowledgements: [], body: ByteBuffer(bytes: Snappy.compress([UInt8]())), seriesCount: 0)
        while !isHealthy {
            try? await Task.sleep(for: backoff * Double.random(in: 0.5...1.0))
            if case .delivered = await attempt(empty) {
                markHealthy()
                return
            }
            backoff = min(backoff * 2, config.maxBackoff)
        }
    }
}

/// A compressed remote-write request, the acknowledgements of the batches it was made from, and the batches
/// themselves when they may have to move to another endpoint.
struct OutgoingRequest: Sendable {
    var batches: [RoutedBatch]
    var acknowledgements: [Acknowledgement]
    var body: ByteBuffer
    var seriesCount: Int

    /// The request was delivered or dropped for good: its batches may be let go.
    func acknowledge() {
        for acknowledgement in acknowledgements { acknowledgement.acknowledge() }
    }
}

/// Series routed to one endpoint, holding the acknowledgement of the input batch they came in.
struct RoutedBatch: Sendable {
    var batch: MetricBatch
    var acknowledgement: Acknowledgement
}
