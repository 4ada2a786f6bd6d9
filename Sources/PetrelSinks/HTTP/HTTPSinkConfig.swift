import PetrelCore
import PetrelNet

/// Settings of the `http` sink.
public struct HTTPSinkConfig: Sendable {
    /// How a request body holds its records.
    public enum Encoding: String, Sendable, CaseIterable {
        /// One JSON object per line, each ending in `\n` (`application/x-ndjson`).
        case ndjson
        /// One JSON array of the objects (`application/json`).
        case json
    }

    /// Where requests are POSTed: any `http://` or `https://` URL, query included.
    public var uri: HTTPEndpoint
    public var encoding = Encoding.ndjson
    /// Batching, retries, timeout, concurrency, headers, compression, TLS and credentials: the keys every sink shares.
    public var request = Self.defaults

    /// Vector's `http` sink batch size and timeout, and no compression, as it has; the OTLP sink's backoff.
    public static let defaults = SinkRequestSettings(
        maxEvents: 1000, maxBytes: 10 * 1024 * 1024, maxAge: .seconds(1), timeout: .seconds(30), concurrency: 4,
        initialBackoff: .seconds(1), maxBackoff: .seconds(30), compression: .none)

    public init(uri: HTTPEndpoint, encoding: Encoding = .ndjson) {
        self.uri = uri
        self.encoding = encoding
    }

    public init(from reader: ConfigReader) {
        uri = HTTPEndpoint(host: "localhost", port: 80, target: "/")
        if let text = reader.requiredString("uri") {
            switch HTTPEndpoint.parse(text) {
            case .success(let parsed): uri = parsed
            case .failure(let problem): reader.error("uri", "invalid URL \(text.quotedForMessage): \(problem.message)")
            }
        }
        encoding = reader.choice("encoding", default: encoding)
        request = SinkRequestSettings.read(from: reader, defaults: Self.defaults, compressions: [.gzip, .zstd, .none])
    }
}
