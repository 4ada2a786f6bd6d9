import Logging
import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import Synchronization

/// Batches, encodes and compresses the series routed to one endpoint, and sends them on the `RequestDriver`.
///
/// In shard mode, while another endpoint is healthy, a request that fails with a retryable error marks this
/// endpoint unhealthy and its series move to the healthy ones (the driver's `handOff`); this endpoint is then
/// probed until it answers again.
final class EndpointWriter: Sendable {
    let endpoint: HTTPEndpoint
    /// Mixed with series hashes for rendezvous hashing; derived from the URL so every node agrees.
    let seed: UInt64
    private let config: RemoteWriteSinkConfig
    /// The protocol's headers; the configured ones and the credentials are added to each request.
    private let protocolHeaders: HTTPHeaders
    private let context: SinkContext
    private let queue: BoundedQueue<RoutedBatch>
    private let client: HTTPEndpointClient
    private let healthy = Atomic<Bool>(true)
    private let probing = Atomic<Bool>(false)
    private let healthGauge: Gauge
    private let retries: Counter

    init(endpoint: HTTPEndpoint, config: RemoteWriteSinkConfig, tls: ReloadingClientTLS?, context: SinkContext) {
        self.endpoint = endpoint
        self.seed = XXHash64.hash(Array(endpoint.description.utf8))
        self.config = config
        self.protocolHeaders = Self.protocolHeaders(config.protocolVersion, compression: config.request.compression)
        self.context = context
        self.queue = BoundedQueue(capacity: config.bufferBatches, producers: 1)
        self.client = HTTPEndpointClient(
            origin: endpoint, connections: config.request.concurrency, timeout: config.request.timeout, tls: tls,
            serverName: config.request.tls.serverName)
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

    /// Closes the endpoint's connections; a request still running fails.
    func close() async {
        await client.shutdown()
    }

    func run(router: SeriesRouter) async throws {
        var driver = RequestDriver<OutgoingRequest>(
            settings: config.request, context: context, destination: endpoint.description, retries: retries,
            attempt: { request in await self.attempt(request, router: router) })
        if router.canReroute {
            driver.handOff = { request in try await self.handOff(request, router: router) }
        }
        // Requests keep their batches only where they may have to move to another endpoint; otherwise a batch's
        // memory goes as soon as it is encoded.
        try await driver.run(
            batcher: RequestBatcher(config: config, router: router),
            pull: { await self.queue.next(until: $0) }, prepare: { $0 })
    }

    /// One attempt, keeping the endpoint's health: a retryable failure while a peer is healthy marks it unhealthy.
    private func attempt(_ request: OutgoingRequest, router: SeriesRouter) async -> SendOutcome {
        let outcome = await send(request.body)
        switch outcome {
        case .delivered: markHealthy()
        case .retry: if router.hasHealthyPeer(of: self) { markUnhealthy(router: router) }
        case .drop, .itemized: break
        }
        return outcome
    }

    private func send(_ body: ByteBuffer) async -> SendOutcome {
        var headers = protocolHeaders
        config.request.addHeaders(to: &headers)
        do {
            let response = try await client.post(to: endpoint, body: body, headers: headers)
            return HTTPAnswer.outcome(
                of: response, wireBytes: body.readableBytes, retryable: HTTPAnswer.remoteWriteRetryable)
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
    }

    /// While this endpoint is unhealthy and a peer is not, moves a request's series to the healthy peers, with
    /// their acknowledgements; they are done with here.
    private func handOff(_ request: OutgoingRequest, router: SeriesRouter) async throws -> Bool {
        guard !isHealthy, router.hasHealthyPeer(of: self) else { return false }
        // Requests keep their batches whenever a peer could take them (`SeriesRouter.canReroute`).
        for part in request.batches {
            try await router.route(part.batch, part.acknowledgement, avoiding: self)
        }
        router.leave(request.seriesCount)
        return true
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
        var backoff = config.request.initialBackoff
        let empty = ByteBuffer(
            bytes: config.request.compression == .zstd ? Zstd.compress([UInt8]()) : Snappy.compress([UInt8]()))
        while !isHealthy {
            try? await Task.sleep(for: backoff * Double.random(in: 0.5...1.0))
            if case .delivered = await send(empty) {
                markHealthy()
                return
            }
            backoff = min(backoff * 2, config.request.maxBackoff)
        }
    }

    private static func protocolHeaders(
        _ version: RemoteWriteSinkConfig.ProtocolVersion, compression: SinkRequestSettings.Compression
    ) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Encoding", value: compression.rawValue)
        headers.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        switch version {
        case .v1:
            headers.add(name: "Content-Type", value: "application/x-protobuf")
            headers.add(name: "X-Prometheus-Remote-Write-Version", value: "0.1.0")
        case .v2:
            headers.add(
                name: "Content-Type", value: "application/x-protobuf;proto=io.prometheus.write.v2.Request")
            headers.add(name: "X-Prometheus-Remote-Write-Version", value: "2.0.0")
        }
        return headers
    }
}

/// A compressed remote-write request, the acknowledgements of the batches it was made from, and the batches
/// themselves when they may have to move to another endpoint.
struct OutgoingRequest: SinkRequest {
    var batches: [RoutedBatch]
    var acknowledgements: [Acknowledgement]
    var body: ByteBuffer
    var seriesCount: Int
    /// Told when the request's series are done with.
    var router: SeriesRouter

    var eventCount: Int { seriesCount }

    /// The request was delivered or dropped for good: its batches may be let go.
    func acknowledge() {
        for acknowledgement in acknowledgements { acknowledgement.acknowledge() }
        router.leave(seriesCount)
    }
}

/// Series routed to one endpoint, holding the acknowledgement of the input batch they came in.
struct RoutedBatch: Sendable {
    var batch: MetricBatch
    var acknowledgement: Acknowledgement
}
