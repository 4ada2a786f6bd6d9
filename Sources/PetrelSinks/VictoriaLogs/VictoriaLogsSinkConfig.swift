import PetrelCore
import PetrelNet

/// Settings of the `victorialogs` sink.
public struct VictoriaLogsSinkConfig: Sendable {
    /// The base URL of VictoriaLogs (or vlinsert, vlagent); `/insert/jsonline` is appended.
    public var endpoint: HTTPEndpoint
    /// The fields that name a log stream (`_stream_fields`): one application instance for its lifetime.
    public var streamFields = Self.kubernetesStreamFields
    /// The tenant, sent as the `AccountID` and `ProjectID` headers; nil sends none (tenant 0:0).
    public var accountID: UInt32?
    public var projectID: UInt32?
    /// Batching, retries, timeout, concurrency, headers, compression, TLS and credentials: the keys every sink shares.
    public var request = Self.defaults

    /// The namespace, pod, container and node: what identifies a container's log for its lifetime, as VictoriaLogs
    /// asks of stream fields (never a per-request id).
    public static let kubernetesStreamFields = [
        "k8s.namespace.name", "k8s.pod.name", "k8s.container.name", "k8s.node.name",
    ]

    /// vlagent's and Vector's HTTP sinks' neighbourhood: requests of a few MiB, a second's wait, gzip.
    public static let defaults = SinkRequestSettings(
        maxEvents: 10_000, maxBytes: 4 * 1024 * 1024, maxAge: .seconds(1), timeout: .seconds(30), concurrency: 4,
        initialBackoff: .seconds(1), maxBackoff: .seconds(30), compression: .gzip)

    public init(endpoint: HTTPEndpoint) {
        self.endpoint = endpoint
    }

    public init(from reader: ConfigReader) {
        endpoint = HTTPEndpoint(host: "localhost", port: 9428, target: "/")
        if let url = reader.requiredString("endpoint") {
            switch HTTPEndpoint.parse(url) {
            case .success(let parsed):
                endpoint = parsed
                if parsed.target.contains("?") {
                    reader.error("endpoint", "expected a base URL such as http://victorialogs:9428, without a query")
                }
            case .failure(let problem):
                reader.error("endpoint", "invalid URL \"\(url)\": \(problem.message)")
            }
        }
        if let fields = reader.stringList("stream_fields") {
            if let bad = fields.first(where: { $0.isEmpty || $0.contains(",") }) {
                reader.error(
                    "stream_fields", "field names must be non-empty and hold no comma, found \(bad.quotedForMessage)")
            }
            streamFields = fields
        }
        accountID = Self.tenant(reader, "account_id")
        projectID = Self.tenant(reader, "project_id")
        request = SinkRequestSettings.read(from: reader, defaults: Self.defaults, compressions: [.gzip, .none])
    }

    /// Where requests go: the endpoint's path with `insert/jsonline` appended, and the stream fields.
    public var insertEndpoint: HTTPEndpoint {
        var base = endpoint.target
        while base.hasSuffix("/") { base.removeLast() }
        var resolved = endpoint
        resolved.target = "\(base)/insert/jsonline?_msg_field=_msg&_time_field=_time"
        if !streamFields.isEmpty {
            resolved.target += "&_stream_fields=" + streamFields.map(QueryEncoding.escape).joined(separator: ",")
        }
        return resolved
    }

    private static func tenant(_ reader: ConfigReader, _ key: String) -> UInt32? {
        guard reader.contains(key) else { return nil }
        return UInt32(reader.int(key, default: 0, range: 0...Int(UInt32.max)))
    }
}

/// Percent-encoding of a URL query value (RFC 3986): everything but the unreserved characters.
enum QueryEncoding {
    static func escape(_ text: String) -> String {
        var escaped = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                escaped += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
            }
        }
        return escaped
    }
}
