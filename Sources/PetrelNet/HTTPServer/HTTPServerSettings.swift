import PetrelCore

/// What one client may hold of a listener: connections, time, and (with `HTTPServerSettings`) body bytes.
///
/// The same limits guard the HTTP/1.1 listeners and the gRPC one; a hostile or careless client runs into them
/// instead of holding sockets, memory or a shutdown for ever.
public struct HTTPListenerLimits: Sendable, Equatable {
    /// Connections open at once; more are closed as they are accepted.
    public var maxConnections = 4096
    /// How long a new connection has to send a complete request head (gRPC: its HTTP/2 preface).
    public var requestHeaderTimeout: Duration = .seconds(10)
    /// How long a request body may go without a byte arriving.
    public var requestBodyTimeout: Duration = .seconds(30)
    /// How long a keep-alive connection may wait for its next request.
    public var idleTimeout: Duration = .seconds(60)

    public init() {}

    /// Reads `max_connections`, `request_header_timeout`, `request_body_timeout` and `idle_timeout`.
    public init(from reader: ConfigReader, default fallback: HTTPListenerLimits = HTTPListenerLimits()) {
        self = fallback
        maxConnections = reader.int("max_connections", default: maxConnections, range: 1...1_000_000)
        requestHeaderTimeout = Self.positive(reader, "request_header_timeout", requestHeaderTimeout)
        requestBodyTimeout = Self.positive(reader, "request_body_timeout", requestBodyTimeout)
        idleTimeout = Self.positive(reader, "idle_timeout", idleTimeout)
    }

    private static func positive(_ reader: ConfigReader, _ key: String, _ fallback: Duration) -> Duration {
        let value = reader.duration(key, default: fallback)
        guard value > .zero else {
            reader.error(key, "must be longer than 0s")
            return fallback
        }
        return value
    }
}

/// Everything an `HTTPIngestServer` needs to know to listen: where, and what it lets clients hold.
public struct HTTPServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Largest request body read (413 past it, before any byte of it when `Content-Length` says so).
    public var maxBodySize: Int
    public var limits: HTTPListenerLimits
    /// What a client refused for memory (429) is told to wait.
    public var retryAfter: Duration

    public init(
        host: String, port: Int, maxBodySize: Int, limits: HTTPListenerLimits = HTTPListenerLimits(),
        retryAfter: Duration = .seconds(1)
    ) {
        self.host = host
        self.port = port
        self.maxBodySize = maxBodySize
        self.limits = limits
        self.retryAfter = retryAfter
    }
}
