import PetrelCore
import PetrelNet

/// Settings of the `otlp` sink.
public struct OTLPSinkConfig: Sendable {
    /// The OTLP transport, set by the `protocol` key.
    public enum Transport: String, Sendable, CaseIterable {
        /// OTLP/gRPC, the generated `Export` calls over HTTP/2.
        case grpc
        /// OTLP/HTTP, binary protobuf POSTed to `/v1/traces` and `/v1/logs`.
        case http
    }

    /// For gRPC the receiver's address (`http://tempo:4317`); for HTTP the base URL that `/v1/traces`
    /// and `/v1/logs` are appended to (`http://tempo:4318`), as `OTEL_EXPORTER_OTLP_ENDPOINT` works.
    public var endpoint: HTTPEndpoint
    public var transport: Transport = .grpc
    /// Batching, retries, timeout, concurrency, headers (gRPC metadata or HTTP headers), compression, TLS and
    /// credentials: the keys every sink shares.
    public var request = Self.defaults

    /// The Collector batch processor's `send_batch_size` and `timeout`, the OTel exporters' timeout, the
    /// Collector's `retry_on_failure` backoff.
    public static let defaults = SinkRequestSettings(
        maxEvents: 8192, maxBytes: 4 * 1024 * 1024, maxAge: .milliseconds(200), timeout: .seconds(10),
        concurrency: 4, initialBackoff: .seconds(5), maxBackoff: .seconds(30), compression: .gzip)

    public init(endpoint: HTTPEndpoint, transport: Transport = .grpc) {
        self.endpoint = endpoint
        self.transport = transport
    }

    public init(from reader: ConfigReader) {
        endpoint = HTTPEndpoint(host: "localhost", port: 4317, target: "/")
        transport = reader.choice("protocol", default: transport)
        if let url = reader.requiredString("endpoint") {
            switch HTTPEndpoint.parse(url) {
            case .success(let parsed):
                endpoint = parsed
                if transport == .grpc && parsed.target != "/" {
                    reader.error(
                        "endpoint",
                        "a gRPC endpoint is a host and port such as http://tempo:4317 (https:// for TLS), without a path"
                    )
                } else if parsed.target.contains("?") {
                    reader.error("endpoint", "expected a base URL such as http://tempo:4318, without a query")
                }
            case .failure(let problem):
                reader.error("endpoint", "invalid URL \"\(url)\": \(problem.message)")
            }
        }
        request = SinkRequestSettings.read(from: reader, defaults: Self.defaults, compressions: [.gzip, .none])
    }

    /// Where OTLP/HTTP requests of `signal` go: the endpoint's path with `v1/traces` or `v1/logs` appended.
    public func httpEndpoint(for signal: Signal) -> HTTPEndpoint {
        var base = endpoint.target
        while base.hasSuffix("/") { base.removeLast() }
        var resolved = endpoint
        resolved.target = "\(base)/v1/\(signal.rawValue)"
        return resolved
    }
}
