import PetrelCore
import PetrelNet

/// Settings of the `elasticsearch` sink.
public struct ElasticsearchSinkConfig: Sendable {
    /// Where documents go, set by `mode`.
    public enum Mode: String, Sendable, CaseIterable {
        /// Into `index` (a template with the event's date), with `action`.
        case bulk
        /// Into the data stream `<type>-<dataset>-<namespace>`, always with `create` (data streams take no other).
        case dataStream = "data_stream"
    }

    /// The bulk action of `bulk` mode.
    public enum Action: String, Sendable, CaseIterable {
        /// Creates or replaces the document.
        case index
        /// Creates the document; one with the same `_id` already there is a conflict (409).
        case create
    }

    /// The data stream of `data_stream` mode, named as Elastic's data stream naming scheme has it.
    public struct DataStream: Sendable, Equatable {
        public var type = "logs"
        public var dataset = "generic"
        public var namespace = "default"

        public init() {}

        public var name: String { "\(type)-\(dataset)-\(namespace)" }
    }

    /// Base URLs of the cluster's nodes (or of any `_bulk` receiver); `/_bulk` is appended. Attempts go to them in
    /// turn, so a retry goes to the next one.
    public var endpoints: [HTTPEndpoint]
    public var mode = Mode.bulk
    /// The index of `bulk` mode; `%Y`, `%m`, `%d` and `%H` are the event's UTC date and hour.
    public var index = Self.defaultIndex
    public var action = Action.index
    public var dataStream = DataStream()
    /// A field (a dotted path into the record's fields, or a resource attribute or metadata name) whose value becomes
    /// the document's `_id`, so a retried document is stored once.
    public var idField: String?
    /// Batching, retries, timeout, concurrency, headers, compression, TLS and credentials: the keys every sink shares.
    public var request = Self.defaults

    public static let defaultIndex = try! TimeTemplate.parse("petrel-%Y.%m.%d").get()

    /// Vector's `elasticsearch` sink's neighbourhood: bulk requests of a few MiB, a second's wait.
    public static let defaults = SinkRequestSettings(
        maxEvents: 10_000, maxBytes: 8 * 1024 * 1024, maxAge: .seconds(1), timeout: .seconds(60), concurrency: 4,
        initialBackoff: .seconds(1), maxBackoff: .seconds(30), compression: .gzip)

    public init(endpoints: [HTTPEndpoint]) {
        self.endpoints = endpoints
    }

    public init(from reader: ConfigReader) {
        endpoints = []
        if let urls = reader.stringList("endpoints") {
            for (index, url) in urls.enumerated() {
                switch HTTPEndpoint.parse(url) {
                case .success(let endpoint) where endpoint.target.contains("?"):
                    reader.diagnostics.error(
                        "\(reader.path("endpoints"))[\(index)]", line: reader.node("endpoints")?.line ?? 0,
                        "expected a base URL such as http://elasticsearch:9200, without a query")
                case .success(let endpoint): endpoints.append(endpoint)
                case .failure(let problem):
                    reader.diagnostics.error(
                        "\(reader.path("endpoints"))[\(index)]", line: reader.node("endpoints")?.line ?? 0,
                        "invalid URL \"\(url)\": \(problem.message)")
                }
            }
            if urls.isEmpty { reader.error("endpoints", "expected a list of URLs, found an empty list") }
        } else {
            reader.error("endpoints", "is required: a list of base URLs such as http://elasticsearch:9200")
        }
        mode = reader.choice("mode", default: mode)
        if let text = reader.string("index") {
            if mode == .dataStream {
                reader.error(
                    "index", "is for mode: bulk; a data stream is named by data_stream.type, dataset, namespace")
            }
            switch TimeTemplate.parse(text) {
            case .success(let template):
                if let problem = Self.indexNameProblem(template.render(hour: 0)) {
                    reader.error("index", problem)
                } else {
                    index = template
                }
            case .failure(let problem): reader.error("index", problem.description)
            }
        }
        if reader.contains("action") {
            action = reader.choice("action", default: action)
            if mode == .dataStream { reader.error("action", "is for mode: bulk; data streams take only create") }
        }
        if let section = reader.section("data_stream") {
            if mode != .dataStream { section.error(nil, "is for mode: data_stream") }
            for key in ["type", "dataset", "namespace"] {
                guard let value = section.string(key) else { continue }
                if let problem = Self.indexNameProblem(value) ?? (value.contains("-") ? "must not contain \"-\"" : nil)
                {
                    section.error(key, problem)
                }
                switch key {
                case "type": dataStream.type = value
                case "dataset": dataStream.dataset = value
                default: dataStream.namespace = value
                }
            }
            section.finish()
        }
        idField = reader.string("id_field")
        if idField?.isEmpty == true { reader.error("id_field", "must not be empty") }
        request = SinkRequestSettings.read(from: reader, defaults: Self.defaults, compressions: [.gzip, .none])
    }

    /// What Elasticsearch would refuse in an index name (`invalid_index_name_exception`), or nil.
    static func indexNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name != name.lowercased() { return "must be lower case, as Elasticsearch requires of index names" }
        if let bad = name.first(where: { "\\/*?\"<>| ,#:".contains($0) }) {
            return "must not contain \"\(bad)\", as Elasticsearch requires of index names"
        }
        if let first = name.first, "-_+".contains(first) {
            return "must not start with \"\(first)\", as Elasticsearch requires of index names"
        }
        return nil
    }

    /// Where requests to `endpoint` go: its path with `_bulk` appended, asking only for what the sink reads of the
    /// answer (`filter_path`, which receivers that do not know it ignore).
    static func bulkEndpoint(_ endpoint: HTTPEndpoint) -> HTTPEndpoint {
        var base = endpoint.target
        while base.hasSuffix("/") { base.removeLast() }
        var resolved = endpoint
        resolved.target = "\(base)/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"
        return resolved
    }
}
