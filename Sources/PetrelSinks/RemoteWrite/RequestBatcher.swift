import NIOCore
import PetrelCodecs
import PetrelCore

/// Groups routed batches into requests of at most `maxSamples` samples, `maxEvents` series and about `maxBytes`
/// bytes.
///
/// Remote-write 1.0 requests are built by appending each part's encoding (concatenated
/// `WriteRequest`s are one `WriteRequest` on the wire). A 2.0 request carries one symbols table, so
/// it holds the series of one batch only.
struct RequestBatcher {
    private let config: RemoteWriteSinkConfig
    private var encoder = RemoteWriteEncoder()
    private var compressed: [UInt8] = []
    /// Set for `compression: zstd`; kept across requests.
    private let zstd: ZstdCompressor?
    private var parts: [RoutedBatch] = []
    private var encoded: [UInt8] = []
    private var samples = 0
    private var series = 0
    private var bytes = 0
    private var oldest: ContinuousClock.Instant?

    private let maxEvents: Int
    private let maxBytes: Int
    private let maxAge: Duration
    private let router: SeriesRouter
    /// Whether requests carry their batches (to move them to another endpoint) or only their acknowledgements.
    private let keepBatches: Bool

    init(config: RemoteWriteSinkConfig, router: SeriesRouter) {
        self.config = config
        self.maxEvents = config.request.maxEvents
        self.maxBytes = config.request.maxBytes
        self.maxAge = config.request.maxAge
        self.router = router
        self.keepBatches = router.canReroute
        zstd = config.request.compression == .zstd ? ZstdCompressor(level: RemoteWriteSinkConfig.zstdLevel) : nil
    }

    /// When the pending request must go even if it is not full.
    var deadline: ContinuousClock.Instant? { oldest.map { $0 + maxAge } }

    /// Adds a batch; returns the requests that filled up. Each request holding part of the batch holds its
    /// acknowledgement (split once per further part; none of them is sent before this returns).
    mutating func add(_ routed: RoutedBatch) -> [OutgoingRequest] {
        let batch = routed.batch
        var hold: Acknowledgement? = routed.acknowledgement
        func nextHold() -> Acknowledgement {
            defer { hold = nil }
            return hold ?? routed.acknowledgement.split()
        }
        var ready: [OutgoingRequest] = []
        if config.protocolVersion == .v2, !parts.isEmpty, let request = flush() {
            ready.append(request)
        }
        var start = 0
        var partSamples = 0
        var partBytes = 0
        for index in batch.series.indices {
            let series = batch.series[index]
            let seriesSamples = Int(series.sampleCount + series.histogramCount)
            let seriesBytes = Self.estimatedBytes(batch, index)
            if samples + partSamples + seriesSamples > config.maxSamples
                || bytes + partBytes + seriesBytes > maxBytes || self.series + index - start >= maxEvents,
                samples + partSamples > 0
            {
                if start < index {
                    append(batch, start..<index, nextHold(), samples: partSamples, bytes: partBytes)
                }
                if let request = flush() { ready.append(request) }
                start = index
                partSamples = 0
                partBytes = 0
            }
            partSamples += seriesSamples
            partBytes += seriesBytes
        }
        if start < batch.series.count {
            append(batch, start..<batch.series.count, nextHold(), samples: partSamples, bytes: partBytes)
        } else if let hold {
            hold.acknowledge()
        }
        if samples >= config.maxSamples || bytes >= maxBytes || series >= maxEvents, let request = flush() {
            ready.append(request)
        }
        return ready
    }

    /// The pending request, compressed; nil when there is none.
    mutating func flush() -> OutgoingRequest? {
        guard !parts.isEmpty else { return nil }
        defer {
            parts = []
            encoded.removeAll(keepingCapacity: true)
            samples = 0
            series = 0
            bytes = 0
            oldest = nil
        }
        if config.protocolVersion == .v2 {
            encoded = encoder.encodeV2(parts[0].batch, series: parts[0].batch.series.indices)
        }
        if let zstd {
            zstd.compress(encoded, into: &compressed)
        } else {
            Snappy.compress(encoded, into: &compressed)
        }
        let seriesCount = parts.reduce(0) { $0 + $1.batch.seriesCount }
        return OutgoingRequest(
            batches: keepBatches ? parts : [], acknowledgements: parts.map(\.acknowledgement),
            body: ByteBuffer(bytes: compressed), seriesCount: seriesCount, router: router)
    }

    private mutating func append(
        _ batch: MetricBatch, _ range: Range<Int>, _ acknowledgement: Acknowledgement, samples: Int, bytes: Int
    ) {
        var part = batch
        if range.count != batch.series.count { part.series = Array(batch.series[range]) }
        if config.protocolVersion == .v1 {
            // Written straight onto the request: no intermediate array per part.
            encoder.appendV1(part, series: part.series.indices, includeMetadata: parts.isEmpty, to: &encoded)
        }
        parts.append(RoutedBatch(batch: part, acknowledgement: acknowledgement))
        self.samples += samples
        self.series += range.count
        self.bytes += bytes
        if oldest == nil { oldest = .now }
    }

    /// About what a series takes on the wire: its label bytes, their framing, and ~20 bytes a sample.
    private static func estimatedBytes(_ batch: MetricBatch, _ index: Int) -> Int {
        var total = 8
        for label in batch.labels(of: index) {
            total += Int(label.nameLength + label.valueLength) + 6
        }
        let series = batch.series[index]
        return total + Int(series.sampleCount) * 20 + Int(series.histogramCount) * 128
    }
}

extension RequestBatcher: RequestBatching {
    mutating func flushExpired() -> [OutgoingRequest] { flush().map { [$0] } ?? [] }

    mutating func flushAll() -> [OutgoingRequest] { flushExpired() }
}
