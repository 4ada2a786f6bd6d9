import PetrelCore
import PetrelNet

/// Settings of the `prometheus_remote_write` sink.
public struct RemoteWriteSinkConfig: Sendable {
    /// How series are spread over several endpoints.
    public enum Mode: String, Sendable, CaseIterable {
        /// Each series goes to one endpoint, chosen by a consistent hash of its labels.
        case shard
        /// Every endpoint gets every series.
        case replicate
    }

    /// The remote-write protocol version spoken to the endpoints.
    public enum ProtocolVersion: String, Sendable, CaseIterable {
        case v1
        case v2
    }

    public var endpoints: [HTTPEndpoint] = []
    public var mode: Mode = .replicate
    public var protocolVersion: ProtocolVersion = .v1
    /// A request is sent once it holds this many samples (histogram samples count too), or when one of the
    /// shared `batch` limits (`request.maxEvents` series, `request.maxBytes` of uncompressed protobuf,
    /// `request.maxAge`) is reached.
    public var maxSamples = 2000
    /// Batching, retries, timeout, concurrency (requests in flight per endpoint), headers, TLS and credentials: the
    /// keys every sink shares. Requests are snappy-compressed, as the protocol requires, or zstd-compressed
    /// (`compression: zstd`) for peers that take it: VictoriaMetrics, vmagent and Petrel.
    public var request = Self.defaults
    /// Batches each endpoint's batcher holds before the router waits. Small: the sink's buffer (in front of the
    /// sink, counted by `memory_limit`) is where batches wait; this only keeps the batcher busy.
    public var bufferBatches = 4

    /// The zstd level of `compression: zstd`: the fastest, for a hot path that snappy's speed sets the bar for.
    static let zstdLevel = 1

    /// vmagent's defaults; no limit on series beyond `maxSamples`.
    public static let defaults = SinkRequestSettings(
        maxEvents: .max, maxBytes: 8 * 1024 * 1024, maxAge: .seconds(5), timeout: .seconds(30), concurrency: 4,
        initialBackoff: .milliseconds(30), maxBackoff: .seconds(5), compression: .snappy)

    public init(endpoints: [HTTPEndpoint]) {
        self.endpoints = endpoints
    }

    public init(from reader: ConfigReader) {
        if let urls = reader.stringList("endpoints") {
            for (index, url) in urls.enumerated() {
                switch HTTPEndpoint.parse(url) {
                case .success(let endpoint): endpoints.append(endpoint)
                case .failure(let problem):
                    reader.diagnostics.error(
                        "\(reader.path("endpoints"))[\(index)]", line: reader.node("endpoints")?.line ?? 0,
                        "invalid URL \"\(url)\": \(problem.message)")
                }
            }
            if urls.isEmpty { reader.error("endpoints", "expected a list of URLs, found an empty list") }
        } else {
            reader.error(
                "endpoints", "is required: a list of URLs such as http://victoria:8428/api/v1/write")
        }
        mode = reader.choice("mode", default: mode)
        protocolVersion = reader.choice("protocol", default: protocolVersion)
        var maxSamples = self.maxSamples
        request = SinkRequestSettings.read(from: reader, defaults: Self.defaults, compressions: [.snappy, .zstd]) {
            batch in
            maxSamples = batch.int("max_samples", default: maxSamples, range: 1...10_000_000)
        }
        self.maxSamples = maxSamples
    }
}
