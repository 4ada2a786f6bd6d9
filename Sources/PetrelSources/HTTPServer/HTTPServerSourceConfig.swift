import PetrelCodecs
import PetrelCore
import PetrelNet

/// Settings of the `http_server` source.
public struct HTTPServerSourceConfig: Sendable {
    public var address = HostPort(host: "0.0.0.0", port: 8080)
    /// The one path requests are taken on; others get 404.
    public var path = "/"
    /// How a body is framed and read: `ndjson`, `json` (one value or an array) or `text`.
    public var codec = LogBodyDecoder.Codec.ndjson
    /// The JSON keys that are a record's message, time and severity.
    public var keys = LogBodyDecoder.Keys()
    /// Request headers copied into each record's fields, under the names given here.
    public var headers: [String] = []
    /// Largest request body accepted on the wire (compressed).
    public var maxBodySize = 10 * 1024 * 1024
    /// Largest request body accepted once decompressed.
    public var maxDecompressedSize = 10 * 1024 * 1024
    /// What a sender is told to wait before retrying when the pipeline is full.
    public var retryAfter: Duration = .seconds(1)
    /// `tls` and `auth`.
    public var security = ListenerSecurity()
    /// Connections and timeouts of the listener.
    public var listener = HTTPListenerLimits()

    public init() {}

    public init(from reader: ConfigReader) {
        address = reader.listenAddress("address", default: address)
        path = reader.string("path", default: path)
        if !path.hasPrefix("/") { reader.error("path", "must start with /") }
        codec = reader.choice("codec", default: codec)
        keys.message = reader.string("message_key", default: keys.message)
        keys.timestamp = reader.string("timestamp_key", default: keys.timestamp)
        keys.severity = reader.string("severity_key", default: keys.severity)
        if codec == .text {
            for key in ["message_key", "timestamp_key", "severity_key"] where reader.contains(key) {
                reader.error(key, "applies to the json and ndjson codecs only, not text")
            }
        }
        headers = reader.stringList("headers") ?? []
        for name in headers where name.isEmpty || name.contains(where: { $0 == ":" || $0 == " " }) {
            reader.error("headers", "\"\(name)\" is not a header name")
        }
        maxBodySize = reader.byteSize("max_body_size", default: maxBodySize)
        maxDecompressedSize = reader.byteSize("max_decompressed_body_size", default: maxDecompressedSize)
        for (key, value) in [("max_body_size", maxBodySize), ("max_decompressed_body_size", maxDecompressedSize)]
        where value < 1 {
            reader.error(key, "must be at least 1 byte")
        }
        retryAfter = reader.duration("retry_after", default: retryAfter)
        security = ListenerSecurity.read(from: reader)
        listener = HTTPListenerLimits(from: reader, default: listener)
    }

    /// The HTTP server's settings.
    var server: HTTPServerSettings {
        HTTPServerSettings(
            host: address.host, port: address.port, maxBodySize: maxBodySize, limits: listener, retryAfter: retryAfter)
    }
}
