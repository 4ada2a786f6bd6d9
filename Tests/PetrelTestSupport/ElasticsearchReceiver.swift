import Foundation
import Logging
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import Synchronization

/// Elasticsearch's `_bulk` API as its reference documents it, for tests: no Elasticsearch server is packaged here.
///
/// Strict where Elasticsearch is: `Content-Type` must be JSON or NDJSON (406 otherwise); the body may be gzipped and
/// must end with a newline (400); every action line is an object with one of `index`, `create`, `update`, `delete`
/// and only the parameters Elasticsearch knows (400 for the whole request otherwise), and names its `_index` (there
/// is no index in the path). Per item, as Elasticsearch answers in a 200: an invalid index name, a source that is not
/// a JSON object, a field whose value does not fit the index's mapping (dynamic mapping from the first value seen:
/// string, date, long, double, boolean or object; dotted names expanded into objects) is a 400 with its error type;
/// a `create` of an `_id` already stored is a 409; indices named `logs-*` are data streams, which take only `create`
/// and need `@timestamp`. Answers carry `X-Elastic-Product: Elasticsearch`, as the official clients check, and
/// `filter_path` keeps only `errors` and the items' `status` and `error.type` / `error.reason`, the paths sinks ask for.
public final class ElasticsearchReceiver: Sendable {
    /// A stored document.
    public struct Document: Sendable {
        public var index: String
        public var id: String
        public var source: [String: JSONValue]
    }

    /// What the test makes an item fail with: its status (429, 503, or 400 for a mapping error) given its source and
    /// how many times the same source was sent before; nil stores it as Elasticsearch would.
    public typealias ItemScript = @Sendable (_ source: [String: JSONValue], _ attempt: Int) -> Int?

    private enum FieldType: String {
        case string = "text"
        case date
        case long
        case double
        case boolean
        case object
    }

    private struct State {
        var script: [Int]
        var requests = 0
        /// Per index, the stored documents by id, and the order they were stored in.
        var documents: [String: [String: Document]] = [:]
        var stored: [Document] = []
        var mappings: [String: [String: FieldType]] = [:]
        var attempts: [String: Int] = [:]
        var itemErrors: [String] = []
        var refusals: [String] = []
        var nextID = 0
    }

    public let port = freePort()
    /// The state, shared with the server's handler.
    private final class Shared: Sendable {
        let state: Mutex<State>

        init(_ state: State) { self.state = Mutex(state) }
    }

    private let shared: Shared
    private let shutdown = ShutdownSignal()
    private let task: Task<Void, any Error>

    /// `script`: statuses answered to the first requests (storing nothing), such as `[429]`; `items` fails chosen items.
    public init(script: [Int] = [], items: ItemScript? = nil) async throws {
        let shared = Shared(State(script: script))
        self.shared = shared
        let server = HTTPIngestServer(
            host: "127.0.0.1", port: port, maxBodySize: 100 << 20, logger: Logger(label: "elasticsearch-receiver")
        ) { request in
            var response = Self.handle(request, shared, items: items)
            response.headers.replaceOrAdd(name: "X-Elastic-Product", value: "Elasticsearch")
            return response
        }
        let ready = Atomic<Bool>(false)
        let shutdown = self.shutdown
        task = Task { try await server.run(shutdown: shutdown) { _ in ready.store(true, ordering: .relaxed) } }
        for _ in 0..<1500 where !ready.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(20)) }
        guard ready.load(ordering: .relaxed) else { throw TestSupportError("the Elasticsearch receiver did not start") }
    }

    public var url: String { "http://127.0.0.1:\(port)" }
    public var requests: Int { shared.state.withLock { $0.requests } }
    /// Every write that stored a document, in order (an `index` of an existing `_id` replaces it and counts again).
    public var stored: [Document] { shared.state.withLock { $0.stored } }
    /// The documents an index holds now.
    public func documents(in index: String) -> [Document] {
        shared.state.withLock { Array(($0.documents[index] ?? [:]).values) }
    }
    public var indices: [String] { shared.state.withLock { Array($0.documents.keys) } }
    /// Items answered with an error, as `<status> <type>: <reason>`.
    public var itemErrors: [String] { shared.state.withLock { $0.itemErrors } }
    /// Requests refused whole, with why.
    public var refusals: [String] { shared.state.withLock { $0.refusals } }

    public func stop() async throws {
        shutdown.trigger()
        try await task.value
    }

    private static func json(_ status: HTTPResponseStatus, _ object: Any) -> HTTPIngestResponse {
        // Elasticsearch leaves slashes unescaped.
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: options)) ?? Data()
        return HTTPIngestResponse(status: status, headers: ["Content-Type": "application/json"], body: Array(data))
    }

    private static func error(_ status: HTTPResponseStatus, _ type: String, _ reason: String) -> HTTPIngestResponse {
        json(
            status,
            [
                "error": ["root_cause": [["type": type, "reason": reason]], "type": type, "reason": reason],
                "status": Int(status.code),
            ])
    }

    private static func handle(_ request: HTTPIngestRequest, _ shared: Shared, items: ItemScript?)
        -> HTTPIngestResponse
    {
        let scripted = shared.state.withLock { state -> Int? in
            state.requests += 1
            return state.script.isEmpty ? nil : state.script.removeFirst()
        }
        func refuse(_ status: HTTPResponseStatus, _ type: String, _ reason: String) -> HTTPIngestResponse {
            shared.state.withLock { $0.refusals.append("\(status.code) \(type): \(reason)") }
            return error(status, type, reason)
        }
        if request.method == .GET && request.path == "/" {
            return json(.ok, ["name": "receiver", "cluster_name": "test", "version": ["number": "8.15.0"]])
        }
        guard request.path == "/_bulk" else {
            return refuse(.notFound, "index_not_found_exception", "no handler for \(request.path)")
        }
        guard request.method == .POST || request.method == .PUT else {
            return refuse(.methodNotAllowed, "illegal_argument_exception", "expected POST or PUT")
        }
        let contentType = (request.headers.first(name: "Content-Type") ?? "").lowercased()
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard
            [
                "application/json", "application/x-ndjson", "application/vnd.elasticsearch+x-ndjson",
                "application/vnd.elasticsearch+json",
            ].contains(mediaType)
        else {
            shared.state.withLock { $0.refusals.append("406 Content-Type \(contentType)") }
            return json(
                .notAcceptable, ["error": "Content-Type header [\(contentType)] is not supported", "status": 406])
        }
        if let scripted {
            return error(
                HTTPResponseStatus(statusCode: scripted),
                scripted == 429 ? "es_rejected_execution_exception" : "unavailable_shards_exception", "scripted answer")
        }
        let raw = Array(request.body.readableBytesView)
        var body = raw
        if let encoding = request.headers.first(name: "Content-Encoding")?.lowercased(), encoding != "identity" {
            guard encoding == "gzip",
                let inflated = try? Zlib.decompress(raw, format: .gzip, maxDecompressedLength: 256 << 20)
            else { return refuse(.badRequest, "illegal_argument_exception", "cannot decode \(encoding) body") }
            body = inflated
        }
        guard body.last == UInt8(ascii: "\n") else {
            return refuse(
                .badRequest, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
        }
        // Whole-request checks first: Elasticsearch parses every action line before it executes any item.
        let lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        var operations: [(action: String, parameters: [String: JSONValue], source: ArraySlice<UInt8>?)] = []
        var index = lines.startIndex
        let known: Set<String> = [
            "_index", "_id", "routing", "pipeline", "require_alias", "require_data_stream", "if_seq_no",
            "if_primary_term", "version", "version_type", "dynamic_templates", "retry_on_conflict", "_source",
        ]
        while index < lines.endIndex {
            let number = index - lines.startIndex + 1
            guard case .object(let actionLine)? = JSONValue.parse(lines[index]), actionLine.count == 1,
                let (action, value) = actionLine.first, case .object(let parameters) = value,
                ["index", "create", "update", "delete"].contains(action)
            else {
                return refuse(
                    .badRequest, "illegal_argument_exception",
                    "Malformed action/metadata line [\(number)], expected one of index, create, update, delete")
            }
            if let unknown = parameters.keys.sorted().first(where: { !known.contains($0) }) {
                return refuse(
                    .badRequest, "illegal_argument_exception",
                    "Action/metadata line [\(number)] contains an unknown parameter [\(unknown)]")
            }
            guard parameters["_index"]?.string != nil else {
                return refuse(
                    .badRequest, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
            }
            index += 1
            if action == "delete" {
                operations.append((action, parameters, nil))
                continue
            }
            guard index < lines.endIndex else {
                return refuse(.badRequest, "illegal_argument_exception", "The bulk request must contain a source")
            }
            operations.append((action, parameters, lines[index]))
            index += 1
        }
        var answers: [[String: Any]] = []
        var errors = false
        shared.state.withLock { state in
            for operation in operations {
                let indexName = operation.parameters["_index"]!.string!
                var result: [String: Any] = ["_index": indexName]
                let failure = Self.execute(operation, index: indexName, state: &state, items: items, result: &result)
                if let failure {
                    errors = true
                    result["status"] = failure.status
                    result["error"] = ["type": failure.type, "reason": failure.reason]
                    state.itemErrors.append("\(failure.status) \(failure.type): \(failure.reason)")
                }
                answers.append([operation.action: result])
            }
        }
        if Self.query(request.query)["filter_path"] != nil {
            // What `filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason` leaves.
            return json(
                .ok,
                [
                    "errors": errors,
                    "items": answers.map { answer in
                        answer.mapValues { value -> [String: Any] in
                            let result = value as! [String: Any]
                            return result.filter { $0.key == "status" || $0.key == "error" }
                        }
                    },
                ])
        }
        return json(.ok, ["took": 1, "errors": errors, "items": answers])
    }

    /// Stores one item; returns its failure, or nil with `result` filled in.
    private static func execute(
        _ operation: (action: String, parameters: [String: JSONValue], source: ArraySlice<UInt8>?), index: String,
        state: inout State, items: ItemScript?, result: inout [String: Any]
    ) -> (status: Int, type: String, reason: String)? {
        if let problem = indexNameProblem(index) {
            return (400, "invalid_index_name_exception", "Invalid index name [\(index)], \(problem)")
        }
        guard operation.action == "index" || operation.action == "create" else {
            return (400, "illegal_argument_exception", "the receiver stores index and create operations only")
        }
        let isDataStream = index.hasPrefix("logs-")
        if isDataStream && operation.action != "create" {
            return (
                400, "illegal_argument_exception",
                "only write ops with an op_type of create are allowed in data streams"
            )
        }
        guard let sourceBytes = operation.source, case .object(let source)? = JSONValue.parse(sourceBytes) else {
            return (400, "document_parsing_exception", "[1:1] failed to parse: the source is not a JSON object")
        }
        let key = String(decoding: sourceBytes, as: UTF8.self)
        let attempt = state.attempts[key, default: 0]
        state.attempts[key] = attempt + 1
        if let status = items?(source, attempt) {
            let type =
                switch status {
                case 429: "es_rejected_execution_exception"
                case 400: "document_parsing_exception"
                default: "unavailable_shards_exception"
                }
            return (status, type, "scripted failure")
        }
        if isDataStream && source["@timestamp"] == nil {
            return (400, "document_parsing_exception", "data stream timestamp field [@timestamp] is missing")
        }
        var mapping = state.mappings[index] ?? [:]
        if let problem = map(source, prefix: "", into: &mapping) {
            return (400, "document_parsing_exception", problem)
        }
        let id: String
        if let given = operation.parameters["_id"]?.string {
            id = given
        } else {
            state.nextID += 1
            id = "auto-\(state.nextID)"
        }
        if operation.action == "create", state.documents[index]?[id] != nil {
            return (
                409, "version_conflict_engine_exception",
                "[\(id)]: version conflict, document already exists (current version [1])"
            )
        }
        let created = state.documents[index]?[id] == nil
        state.mappings[index] = mapping
        let document = Document(index: index, id: id, source: source)
        state.documents[index, default: [:]][id] = document
        state.stored.append(document)
        result["_id"] = id
        result["result"] = created ? "created" : "updated"
        result["status"] = created ? 201 : 200
        return nil
    }

    /// Maps `object`'s fields as dynamic mapping does (dotted names are objects), or says which value does not fit.
    private static func map(_ object: [String: JSONValue], prefix: String, into mapping: inout [String: FieldType])
        -> String?
    {
        for key in object.keys.sorted() {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false)
            guard !parts.contains(where: \.isEmpty) else {
                return "field name cannot contain only whitespace or empty segments: [\(key)]"
            }
            var path = prefix
            for part in parts.dropLast() {
                path = path.isEmpty ? String(part) : "\(path).\(part)"
                if let problem = fit(.object, path: path, into: &mapping) { return problem }
            }
            path = path.isEmpty ? String(parts.last!) : "\(path).\(parts.last!)"
            if let problem = map(object[key]!, path: path, into: &mapping) { return problem }
        }
        return nil
    }

    private static func map(_ value: JSONValue, path: String, into mapping: inout [String: FieldType]) -> String? {
        switch value {
        case .null: return nil
        case .array(let values):
            for element in values { if let problem = map(element, path: path, into: &mapping) { return problem } }
            return nil
        case .object(let fields):
            if let problem = fit(.object, path: path, into: &mapping) { return problem }
            return map(fields, prefix: path, into: &mapping)
        case .bool: return fit(.boolean, path: path, into: &mapping)
        case .int: return fit(.long, path: path, into: &mapping)
        case .double: return fit(.double, path: path, into: &mapping)
        case .string(let text):
            if let existing = mapping[path] {
                switch existing {
                case .string: return nil
                case .date where RFC3339Parser.nanoseconds(text) != nil: return nil
                case .long where Int64(text) != nil: return nil
                case .double where Double(text) != nil: return nil
                case .boolean where text == "true" || text == "false": return nil
                case .object:
                    return "object mapping for [\(path)] tried to parse field [\(path)] as object, but found a "
                        + "concrete value"
                default:
                    return "failed to parse field [\(path)] of type [\(existing.rawValue)]: cannot parse \"\(text)\""
                }
            }
            mapping[path] = RFC3339Parser.nanoseconds(text) != nil ? .date : .string
            return nil
        }
    }

    private static func fit(_ type: FieldType, path: String, into mapping: inout [String: FieldType]) -> String? {
        guard let existing = mapping[path] else {
            mapping[path] = type
            return nil
        }
        switch (existing, type) {
        case (.object, .object), (.boolean, .boolean), (.long, .long), (.double, .double), (.double, .long),
            (.string, .long), (.string, .double), (.string, .boolean):
            return nil
        case (.long, .double):
            // Coerced: the fraction is dropped, as a long field's default `coerce: true` does.
            return nil
        case (.object, _):
            return "object mapping for [\(path)] tried to parse field [\(path)] as object, but found a concrete value"
        case (_, .object):
            return "can't merge a non object mapping [\(path)] with an object mapping"
        default:
            return "failed to parse field [\(path)] of type [\(existing.rawValue)]"
        }
    }

    private static func indexNameProblem(_ name: String) -> String? {
        if name != name.lowercased() { return "must be lowercase" }
        if name.contains(where: { "\\/*?\"<>| ,#:".contains($0) }) {
            return "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]"
        }
        if let first = name.first, "-_+".contains(first) { return "must not start with '_', '-', or '+'" }
        return nil
    }

    static func query(_ text: String) -> [String: String] { VictoriaLogsReceiver.query(text) }
}
