import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// The keys every request-sending sink reads the same way: `batch.*`, `retry.*`, `timeout`, `concurrency`,
/// `headers`, `compression`, `tls`, `bearer_token_file` and `basic_auth`. Each sink starts from its own defaults.
public struct SinkRequestSettings: Sendable {
    /// How request bodies are compressed; which of these a sink offers is its own affair.
    public enum Compression: String, Sendable, CaseIterable {
        case gzip
        case snappy
        case zstd
        case none
    }

    /// Basic authentication credentials.
    public struct BasicAuth: Sendable {
        public var username: String
        public var password: String?
        public var passwordFile: String?

        public init(username: String, password: String? = nil, passwordFile: String? = nil) {
            self.username = username
            self.password = password
            self.passwordFile = passwordFile
        }
    }

    /// A request is sent once it holds this many events (series, spans, log records)...
    public var maxEvents: Int
    /// ...or about this many bytes of uncompressed payload...
    public var maxBytes: Int
    /// ...or its oldest event has waited this long.
    public var maxAge: Duration
    /// How long one attempt may take.
    public var timeout: Duration
    /// Requests in flight at once (per endpoint).
    public var concurrency: Int
    /// The first wait before a retry; it doubles up to `maxBackoff`, with jitter.
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// HTTP headers or gRPC metadata added to every request.
    public var headers: [(name: String, value: String)] = []
    public var compression: Compression
    /// Sent as `Authorization: Bearer …`, read again for every request (tokens get rotated).
    public var bearerTokenFile: String?
    /// Sent as `Authorization: Basic …`; a `passwordFile` is read again for every request.
    public var basicAuth: BasicAuth?
    /// How `https://` endpoints are reached: CA, client certificate, verification.
    public var tls = TLSClientSettings()

    public init(
        maxEvents: Int, maxBytes: Int, maxAge: Duration, timeout: Duration, concurrency: Int,
        initialBackoff: Duration, maxBackoff: Duration, compression: Compression
    ) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.timeout = timeout
        self.concurrency = concurrency
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.compression = compression
    }

    /// Reads the shared keys over `defaults`. `compressions` are the values the sink offers (the first error
    /// lists them); `batchKeys` reads the sink's own keys of the `batch` section (remote-write's `max_samples`).
    public static func read(
        from reader: ConfigReader, defaults: SinkRequestSettings, compressions: [Compression],
        batchKeys: (ConfigReader) -> Void = { _ in }
    ) -> SinkRequestSettings {
        var settings = defaults
        if let batch = reader.section("batch") {
            settings.maxEvents = batch.int("max_events", default: settings.maxEvents, range: 1...10_000_000)
            settings.maxBytes = batch.byteSize("max_bytes", default: settings.maxBytes)
            if settings.maxBytes < 1 { batch.error("max_bytes", "must be at least 1 byte") }
            settings.maxAge = batch.duration("max_age", default: settings.maxAge)
            batchKeys(batch)
            batch.finish()
        }
        settings.concurrency = reader.int("concurrency", default: settings.concurrency, range: 1...1024)
        settings.timeout = reader.duration("timeout", default: settings.timeout)
        if settings.timeout <= .zero { reader.error("timeout", "must be longer than zero") }
        if let retry = reader.section("retry") {
            settings.initialBackoff = retry.duration("initial_backoff", default: settings.initialBackoff)
            settings.maxBackoff = retry.duration("max_backoff", default: settings.maxBackoff)
            if settings.initialBackoff <= .zero {
                retry.error("initial_backoff", "must be longer than zero")
            } else if settings.maxBackoff < settings.initialBackoff {
                retry.error("max_backoff", "must not be shorter than initial_backoff")
            }
            retry.finish()
        }
        if let text = reader.string("compression") {
            if let compression = Compression(rawValue: text), compressions.contains(compression) {
                settings.compression = compression
            } else {
                let allowed = compressions.map(\.rawValue).joined(separator: ", ")
                reader.error("compression", "expected one of \(allowed), found \(text.quotedForMessage)")
            }
        }
        settings.headers = reader.stringMap("headers")?.map { (name: $0.key, value: $0.value) } ?? []
        settings.tls = TLSClientSettings.read(from: reader)
        settings.bearerTokenFile = reader.string("bearer_token_file")
        if let auth = reader.section("basic_auth") {
            let username = auth.requiredString("username") ?? ""
            let password = auth.string("password")
            let passwordFile = auth.string("password_file")
            if password != nil && passwordFile != nil {
                auth.error(nil, "set password or password_file, not both")
            }
            settings.basicAuth = BasicAuth(username: username, password: password, passwordFile: passwordFile)
            auth.finish()
        }
        if settings.bearerTokenFile != nil && settings.basicAuth != nil {
            reader.error("bearer_token_file", "set bearer_token_file or basic_auth, not both")
        }
        if let file = settings.bearerTokenFile, CredentialFile.read(file) == nil {
            reader.error("bearer_token_file", "cannot read \(file)")
        }
        if let file = settings.basicAuth?.passwordFile, CredentialFile.read(file) == nil {
            reader.error("basic_auth", "cannot read password_file \(file)")
        }
        return settings
    }

    /// The `Authorization` value, with credentials read fresh (tokens and passwords get rotated).
    func authorization() -> String? {
        if let file = bearerTokenFile, let token = CredentialFile.read(file) { return "Bearer \(token)" }
        if let auth = basicAuth {
            let password = auth.password ?? auth.passwordFile.flatMap(CredentialFile.read) ?? ""
            return "Basic \(Base64.encode(Array("\(auth.username):\(password)".utf8)))"
        }
        return nil
    }

    /// Adds the configured headers and the credentials to an HTTP request's headers, replacing the sink's own.
    func addHeaders(to headers: inout HTTPHeaders) {
        for header in self.headers { headers.replaceOrAdd(name: header.name, value: header.value) }
        if let authorization = authorization() { headers.replaceOrAdd(name: "Authorization", value: authorization) }
    }

    /// The configured headers and the credentials as gRPC metadata pairs (lower-case names).
    func metadata() -> [(name: String, value: String)] {
        var pairs = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        if let authorization = authorization() {
            pairs.removeAll { $0.name == "authorization" }
            pairs.append((name: "authorization", value: authorization))
        }
        return pairs
    }
}
