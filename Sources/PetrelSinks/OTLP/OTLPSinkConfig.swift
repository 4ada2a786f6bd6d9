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

    /// How request payloads are compressed.
    public enum Compression: String, Sendable, CaseIterable {
        case gzip
        case none
    }

    /// For gRPC the receiver's address (`http://tempo:4317`); for HTTP the base URL that `/v1/traces`
    /// and `/v1/logs` are appended to (`http://tempo:4318`), as `OTEL_EXPORTER_OTLP_ENDPOINT` works.
    public var endpoint: HTTPEndpoint
    public var transport: Transport = .grpc
    public var compression: Compression = .gzip
    /// gRPC metadata or HTTP headers added to every request.
    public var headers: [(name: String, value: String)] = []
    /// Sent as `Authorization: Bearer …`, read again for every request (tokens get rotated).
    public var bearerTokenFile: String?
    /// How an `https://` endpoint is reached (gRPC with TLS, or HTTPS).
    public var tls = TLSClientSettings()
    /// A request is sent once it holds this many spans or log records (the Collector batch
    /// processor's `send_batch_size`)...
    public var maxEvents = 8192
    /// ...or about this many bytes of uncompressed protobuf (estimated from the events' size in memory)...
    public var maxBytes = 4 * 1024 * 1024
    /// ...or its first event has waited this long (the batch processor's `timeout`).
    public var maxAge: Duration = .milliseconds(200)
    /// Requests in flight at once.
    public var concurrency = 4
    /// How long one attempt may take (the OTel exporters' default).
    public var timeout: Duration = .seconds(10)
    /// The first wait before a retry; it doubles up to `maxBackoff` (the Collector's `retry_on_failure`).
    public var initialBackoff: Duration = .seconds(5)
    public var maxBackoff: Duration = .seconds(30)

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
        compression = reader.choice("compression", default: compression)
        headers = reader.stringMap("headers")?.map { (name: $0.key, value: $0.value) } ?? []
        tls = TLSClientSettings.read(from: reader)
        bearerTokenFile = reader.string("bearer_token_file")
        if let file = bearerTokenFile, CredentialFile.read(file) == nil {
            reader.error("bearer_token_file", "cannot read \(file)")
        }
        if let batch = reader.section("batch") {
            maxEvents = batch.int("max_events", default: maxEvents, range: 1...10_000_000)
            maxBytes = batch.byteSize("max_bytes", default: maxBytes)
            if maxBytes < 1 { batch.error("max_bytes", "must be at least 1 byte") }
            maxAge = batch.duration("max_age", default: maxAge)
            batch.finish()
        }
        concurrency = reader.int("concurrency", default: concurrency, range: 1...1024)
        timeout = reader.duration("timeout", default: timeout)
        if timeout <= .zero { reader.error("timeout", "must be longer than zero") }
        if let retry = reader.section("retry") {
            initialBackoff = retry.duration("initial_backoff", default: initialBackoff)
            maxBackoff = retry.duration("max_backoff", default: maxBackoff)
            if initialBackoff <= .zero {
                retry.error("initial_backoff", "must be longer than zero")
            } else if maxBackoff < initialBackoff {
                retry.error("max_backoff", "must not be shorter than initial_backoff")
            }
            retry.finish()
        }
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
