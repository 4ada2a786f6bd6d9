import PetrelCore
import PetrelNet

/// Settings of the `loki` sink.
public struct LokiSinkConfig: Sendable {
    /// The body of a push request, set by the `encoding` key.
    public enum Encoding: String, Sendable, CaseIterable {
        /// `logproto.PushRequest`, snappy block-compressed: what Promtail and Alloy send.
        case protobuf
        /// `{"streams":[{"stream":{…},"values":[[…]]}]}`, optionally gzipped.
        case json
    }

    /// A stream label or a structured metadata pair: its name and the template of its value.
    public struct Label: Sendable, Hashable {
        public var name: String
        public var value: LogTemplate

        public init(name: String, value: LogTemplate) {
            self.name = name
            self.value = value
        }
    }

    /// The base URL of Loki (`http://loki:3100`); pushes go to its path with `/loki/api/v1/push` appended.
    public var endpoint: HTTPEndpoint
    public var encoding: Encoding = .protobuf
    /// Sent as `X-Scope-OrgID`, the tenant of a multi-tenant Loki.
    public var tenantID: String?
    /// The stream labels, in the order configured.
    public var labels: [Label] = []
    /// Per-entry key-value pairs that are not labels (Loki 2.9+), for values of high cardinality.
    public var structuredMetadata: [Label] = []
    /// At most this many streams in one push request: a record of another stream starts the next request.
    public var maxStreams = 1000
    /// Batching, retries, timeout, concurrency, headers, compression, TLS and credentials: the keys every sink shares.
    public var request = Self.defaults

    /// Promtail's batch (1 MiB, 1 s) and its backoff (500 ms to 5 min); bodies snappy-compressed as Loki expects
    /// protobuf.
    public static let defaults = SinkRequestSettings(
        maxEvents: 10_000, maxBytes: 1024 * 1024, maxAge: .seconds(1), timeout: .seconds(10), concurrency: 4,
        initialBackoff: .milliseconds(500), maxBackoff: .seconds(300), compression: .snappy)

    /// Keys whose values are unique per pod, trace or request: as stream labels they make a stream per value, which
    /// Loki's index does not survive (its docs: labels should be few and static). Matched on the reference's last
    /// key, case-insensitively.
    static let highCardinalityKeys: Set<String> = [
        "k8s.pod.uid", "container.id", "k8s.container.id", "trace_id", "traceid", "trace.id", "span_id", "spanid",
        "span.id", "request_id", "requestid", "request.id",
    ]

    public init(endpoint: HTTPEndpoint, labels: [Label] = []) {
        self.endpoint = endpoint
        self.labels = labels
    }

    public init(from reader: ConfigReader) {
        endpoint = HTTPEndpoint(host: "localhost", port: 3100, target: "/")
        if let url = reader.requiredString("endpoint") {
            switch HTTPEndpoint.parse(url) {
            case .success(let parsed):
                endpoint = parsed
                if parsed.target.contains("?") {
                    reader.error("endpoint", "expected a base URL such as http://loki:3100, without a query")
                }
            case .failure(let problem):
                reader.error("endpoint", "invalid URL \"\(url)\": \(problem.message)")
            }
        }
        encoding = reader.choice("encoding", default: encoding)
        tenantID = reader.string("tenant_id")
        if let tenantID, tenantID.isEmpty || tenantID.contains(where: { $0.isNewline }) {
            reader.error("tenant_id", "must be a non-empty single line")
        }
        labels = Self.readLabels(reader, key: "labels", refusingHighCardinality: true)
        if labels.count > 15 {
            reader.error(
                "labels", "Loki refuses streams with more than 15 labels (its default max_label_names_per_series)")
        }
        structuredMetadata = Self.readLabels(reader, key: "structured_metadata", refusingHighCardinality: false)
        maxStreams = reader.int("max_streams", default: maxStreams, range: 1...1_000_000)
        var defaults = Self.defaults
        // Loki's protobuf bodies are always snappy; a JSON body is plain unless gzip is asked for.
        if encoding == .json { defaults.compression = .none }
        request = SinkRequestSettings.read(
            from: reader, defaults: defaults, compressions: encoding == .protobuf ? [.snappy] : [.gzip, .none])
    }

    private static func readLabels(_ reader: ConfigReader, key: String, refusingHighCardinality: Bool) -> [Label] {
        guard let section = reader.section(key) else { return [] }
        var labels: [Label] = []
        for name in section.keys {
            guard let template = section.logTemplate(name) else { continue }
            if !PrometheusLabelName.isValid(name) {
                section.error(
                    name, "\"\(name)\" is not a Loki label name: letters, digits and _, not starting with a digit")
                continue
            }
            if refusingHighCardinality,
                let reference = template.references.first(where: { isHighCardinality($0) })
            {
                section.error(
                    name,
                    "\(reference) has a value per pod, trace, request or line: as a stream label it makes a stream per "
                        + "value, which Loki's index does not survive; put it in structured_metadata instead")
                continue
            }
            labels.append(Label(name: name, value: template))
        }
        section.finish()
        return labels
    }

    static func isHighCardinality(_ reference: LogTemplate.Reference) -> Bool {
        switch reference {
        case .message: true
        case .severity: false
        case .resource(let key), .field(let key), .metadata(let key):
            highCardinalityKeys.contains(key.lowercased())
                || highCardinalityKeys.contains(String(key.split(separator: ".").last ?? "").lowercased())
        }
    }

    /// Where pushes go: the endpoint's path with `loki/api/v1/push` appended.
    public var pushEndpoint: HTTPEndpoint {
        var base = endpoint.target
        while base.hasSuffix("/") { base.removeLast() }
        var resolved = endpoint
        resolved.target = "\(base)/loki/api/v1/push"
        return resolved
    }
}
