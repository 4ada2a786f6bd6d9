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

    /// Basic authentication credentials.
    public struct BasicAuth: Sendable {
        public var username: String
        public var password: String?
        public var passwordFile: String?
    }

    public var endpoints: [HTTPEndpoint] = []
    public var mode: Mode = .replicate
    public var protocolVersion: ProtocolVersion = .v1
    /// A request is sent once it holds this many samples (histogram samples count too)...
    public var maxSamples = 2000
    /// ...or this many bytes of uncompressed protobuf...
    public var maxBytes = 8 * 1024 * 1024
    /// ...or its oldest series has waited this long.
    public var maxAge: Duration = .seconds(5)
    /// Requests in flight per endpoint.
    public var concurrency = 4
    public var timeout: Duration = .seconds(30)
    public var headers: [(name: String, value: String)] = []
    public var bearerTokenFile: String?
    public var basicAuth: BasicAuth?
    /// How `https://` endpoints are reached: CA, client certificate, verification.
    public var tls = TLSClientSettings()
    public var initialBackoff: Duration = .milliseconds(30)
    public var maxBackoff: Duration = .seconds(5)
    /// Batches each endpoint's batcher holds before the router waits. Small: the sink's buffer (in front of the
    /// sink, counted by `memory_limit`) is where batches wait; this only keeps the batcher busy.
    public var bufferBatches = 4

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
        if let batch = reader.section("batch") {
            maxSamples = batch.int("max_samples", default: maxSamples, range: 1...10_000_000)
            maxBytes = batch.byteSize("max_bytes", default: maxBytes)
            maxAge = batch.duration("max_age", default: maxAge)
            batch.finish()
        }
        concurrency = reader.int("concurrency", default: concurrency, range: 1...1024)
        timeout = reader.duration("timeout", default: timeout)
        headers = reader.stringMap("headers")?.map { (name: $0.key, value: $0.value) } ?? []
        tls = TLSClientSettings.read(from: reader)
        bearerTokenFile = reader.string("bearer_token_file")
        if let auth = reader.section("basic_auth") {
            let username = auth.requiredString("username") ?? ""
            let password = auth.string("password")
            let passwordFile = auth.string("password_file")
            if password != nil && passwordFile != nil {
                auth.error(nil, "set password or password_file, not both")
            }
            basicAuth = BasicAuth(username: username, password: password, passwordFile: passwordFile)
            auth.finish()
        }
        if bearerTokenFile != nil && basicAuth != nil {
            reader.error("bearer_token_file", "set bearer_token_file or basic_auth, not both")
        }
        if let retry = reader.section("retry") {
            initialBackoff = retry.duration("initial_backoff", default: initialBackoff)
            maxBackoff = retry.duration("max_backoff", default: maxBackoff)
            retry.finish()
        }
        if let file = bearerTokenFile, CredentialFile.read(file) == nil {
            reader.error("bearer_token_file", "cannot read \(file)")
        }
        if let file = basicAuth?.passwordFile, CredentialFile.read(file) == nil {
            reader.error("basic_auth", "cannot read password_file \(file)")
        }
    }
}
