import Foundation
import PetrelCore
import PetrelNet

/// Reads a pipeline configuration file into a validated `PipelineConfig`, or every error it has.
///
/// It interpolates the environment, parses the YAML, reads the top-level settings, builds each component
/// from the registry (the component reads its own keys), and then checks the graph. It keeps going after
/// an error, so that one run of `petrel validate` shows all of them.
public struct ConfigLoader: Sendable {
    public var registry: ComponentRegistry
    /// The variables `${VAR}` refers to; callers pass `ProcessInfo.processInfo.environment`.
    public var environment: [String: String]

    public static let defaultDataDirectory = "/var/lib/petrel"
    public static let defaultAPIAddress = "127.0.0.1:8686"

    public init(registry: ComponentRegistry, environment: [String: String]) {
        self.registry = registry
        self.environment = environment
    }

    /// Reads and parses the file at `path`; errors name the file as `path` is written.
    public func load(file path: String) throws(ConfigLoadError) -> PipelineConfig {
        let text: String
        switch Self.readText(path) {
        case .success(let contents): text = contents
        case .failure(let problem):
            throw ConfigLoadError(errors: [
                ConfigError(file: path, line: 0, path: "", message: "cannot read the configuration: \(problem.reason)")
            ])
        }
        return try parse(text, file: path)
    }

    /// Parses configuration text; `file` is the name error messages show.
    public func parse(_ text: String, file: String) throws(ConfigLoadError) -> PipelineConfig {
        let diagnostics = ConfigDiagnostics(file: file)
        let interpolated = EnvironmentInterpolation(environment: environment).apply(to: text, diagnostics: diagnostics)
        guard let root = YAMLDocument.parse(interpolated, diagnostics: diagnostics) else {
            throw ConfigLoadError(errors: diagnostics.errors)
        }
        switch root.value {
        case .mapping, .null: break
        case .scalar, .sequence:
            diagnostics.error(
                "", line: root.line, "expected a mapping with sources, transforms and sinks, found \(root.kindName)")
            throw ConfigLoadError(errors: diagnostics.errors)
        }

        let top = ConfigReader(node: root, path: "", diagnostics: diagnostics)
        let dataDirectory = readDataDirectory(top)
        let (apiAddress, apiLimits, apiSecurity) = readAPI(top)
        let memoryLimit = readMemoryLimit(top)
        let shutdownTimeout = top.duration("shutdown_timeout", default: PipelineConfig.defaultShutdownTimeout)
        if shutdownTimeout < .zero { top.error("shutdown_timeout", "must not be negative") }
        var entries: [ComponentEntry] = []
        for kind in ComponentKind.allCases {
            entries += readSection(kind, top, dataDirectory: dataDirectory)
        }
        top.finish()

        let unique = uniqueEntries(entries, diagnostics)
        var graph = PipelineGraph(entries: unique)
        let components = graph.check(diagnostics, complete: unique.count == entries.count)
        guard diagnostics.errors.isEmpty else { throw ConfigLoadError(errors: diagnostics.errors) }
        var config = PipelineConfig(
            dataDirectory: dataDirectory, apiAddress: apiAddress, components: components, memoryLimit: memoryLimit,
            shutdownTimeout: shutdownTimeout)
        config.apiLimits = apiLimits
        config.apiSecurity = apiSecurity
        config.document = root
        config.contentHash = Self.contentHash(text)
        return config
    }

    /// FNV-1a of the text, cut to 52 bits so that it survives a metric's float exactly.
    static func contentHash(_ text: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int(hash & 0x000f_ffff_ffff_ffff)
    }

    // MARK: Top level

    private func readDataDirectory(_ top: ConfigReader) -> String {
        let directory = top.string("data_dir", default: Self.defaultDataDirectory)
        if directory.isEmpty { top.error("data_dir", "must not be empty") }
        return directory
    }

    private func readMemoryLimit(_ top: ConfigReader) -> Int? {
        guard top.contains("memory_limit") else { return nil }
        // A value that is not a size falls back to the minimum: its own error is the one to report.
        let limit = top.byteSize("memory_limit", default: Self.minimumMemoryLimit)
        if limit < Self.minimumMemoryLimit {
            top.error("memory_limit", "must be at least 16MiB, found \(limit) bytes")
        }
        return limit
    }

    /// Below this a pipeline cannot hold one large request; a smaller limit is a typo.
    static let minimumMemoryLimit = 16 << 20

    private func readAPI(_ top: ConfigReader) -> ((host: String, port: Int)?, HTTPListenerLimits, ListenerSecurity) {
        var enabled = true
        var address = Self.defaultAPIAddress
        var limits = HTTPListenerLimits()
        var security = ListenerSecurity()
        if let api = top.section("api") {
            enabled = api.bool("enabled", default: true)
            address = api.string("address", default: Self.defaultAPIAddress)
            if case .failure(let error) = HostPort.parse(address) {
                api.error("address", "invalid address \"\(address)\": \(error.message)")
            }
            limits = HTTPListenerLimits(from: api)
            security = ListenerSecurity.read(from: api)
            api.finish()
        }
        guard enabled, case .success(let parsed) = HostPort.parse(address) else { return (nil, limits, security) }
        return ((parsed.host, parsed.port), limits, security)
    }

    /// The components of one section (`sources`, `transforms` or `sinks`), each built.
    private func readSection(_ kind: ComponentKind, _ top: ConfigReader, dataDirectory: String) -> [ComponentEntry] {
        let section = kind.sectionName
        guard let node = top.node(section) else {
            if kind != .transform {
                top.diagnostics.error(section, line: 0, "the pipeline needs at least one \(kind)")
            }
            return []
        }
        guard case .mapping(let components) = node.value else {
            top.error(section, "expected a mapping of \(kind) ids to \(kind)s, found \(node.kindName)")
            return []
        }
        if components.isEmpty && kind != .transform {
            top.error(section, "the pipeline needs at least one \(kind)")
        }
        return components.map { id, node in
            readComponent(id: id, kind: kind, node: node, dataDirectory: dataDirectory, top.diagnostics)
        }
    }

    // MARK: Components

    private func readComponent(
        id: String, kind: ComponentKind, node: ConfigNode, dataDirectory: String, _ diagnostics: ConfigDiagnostics
    ) -> ComponentEntry {
        let path = "\(kind.sectionName).\(id)"
        var entry = ComponentEntry(id: id, kind: kind, type: nil, path: path, line: node.line, inputs: [], built: nil)
        if let problem = Self.idProblem(id) {
            diagnostics.error(path, line: node.line, problem)
        }
        let reader = ConfigReader(node: node, path: path, diagnostics: diagnostics)
        switch node.value {
        case .mapping, .null: break
        case .scalar, .sequence:
            // The reader reported that it is not a mapping.
            entry.inputsComplete = kind == .source
            return entry
        }

        entry.type = reader.requiredString("type")
        (entry.inputs, entry.inputsComplete) = readInputs(reader, kind: kind)
        guard let type = entry.type else { return entry }
        guard let definition = registry.definition(kind: kind, type: type) else {
            // Without a definition the other keys cannot be told known or unknown, so they are not reported.
            reader.error("type", unknownTypeMessage(type, kind: kind))
            return entry
        }
        if kind == .sink { entry.buffer = BufferConfig.read(reader) }
        let errorCount = diagnostics.errors.count
        let built = definition.build(reader, ComponentBuildContext(id: id, dataDirectory: dataDirectory))
        reader.finish()
        if let built, built.kind != kind {
            reader.error(nil, "the \(type) \(kind) type built a \(built.kind); this is a bug in Petrel")
        } else if built == nil && diagnostics.errors.count == errorCount {
            reader.error(nil, "the \(type) \(kind) could not be built")
        } else {
            entry.built = built
        }
        return entry
    }

    /// The ids under `inputs`, and whether they are all there is (none was missing or unreadable).
    private func readInputs(_ reader: ConfigReader, kind: ComponentKind) -> ([ComponentEntry.Input], Bool) {
        guard kind != .source else {
            if reader.contains("inputs") {
                _ = reader.node("inputs")
                reader.error("inputs", "a source takes no inputs; it reads from outside the pipeline")
            }
            return ([], true)
        }
        guard reader.contains("inputs") else {
            _ = reader.node("inputs")
            reader.error("inputs", "is required: list the ids of the components this \(kind) reads from")
            return ([], false)
        }
        let node = reader.node("inputs")!
        let example: String
        switch node.value {
        case .scalar(let text): example = "; write [\(text)]"
        default: example = ""
        }
        guard case .sequence(let items) = node.value else {
            reader.error("inputs", "expected a list of component ids, found \(node.kindName)\(example)")
            return ([], false)
        }
        if items.isEmpty {
            reader.error("inputs", "must list at least one component")
        }
        var inputs: [ComponentEntry.Input] = []
        for (index, item) in items.enumerated() {
            let path = "\(reader.path("inputs"))[\(index)]"
            guard case .scalar(let id) = item.value else {
                reader.diagnostics.error(path, line: item.line, "expected a component id, found \(item.kindName)")
                continue
            }
            inputs.append(ComponentEntry.Input(id: id, path: path, line: item.line))
        }
        return (inputs, inputs.count == items.count && !items.isEmpty)
    }

    private func unknownTypeMessage(_ type: String, kind: ComponentKind) -> String {
        let unknown = "unknown \(kind) type \"\(type)\""
        let known = registry.types(of: kind)
        let list = known.isEmpty ? "no \(kind) types are available" : "\(kind) types: \(known.joined(separator: ", "))"
        if let other = ComponentKind.allCases.first(where: {
            $0 != kind && registry.definition(kind: $0, type: type) != nil
        }) {
            return "\(unknown) (\(type) is a \(other) type, written under \(other.sectionName)); \(list)"
        }
        if let suggestion = EditDistance.closest(to: type, among: known) {
            return "\(unknown); did you mean \"\(suggestion)\"? \(list)"
        }
        return "\(unknown); \(list)"
    }

    /// What is wrong with a component id, if anything: ids become metric labels and file names.
    static func idProblem(_ id: String) -> String? {
        if id.isEmpty { return "a component id must not be empty" }
        let valid = id.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || scalar == "-"
        }
        return valid ? nil : "invalid component id \"\(id)\": use only letters, digits, _ and -"
    }

    /// The entries whose id is not taken by an earlier one (by line); the others are reported.
    private func uniqueEntries(_ entries: [ComponentEntry], _ diagnostics: ConfigDiagnostics) -> [ComponentEntry] {
        var first: [String: ComponentEntry] = [:]
        for entry in entries.sorted(by: { $0.line < $1.line }) {
            if let earlier = first[entry.id] {
                diagnostics.error(
                    entry.path, line: entry.line,
                    "id \"\(entry.id)\" is already used by \(earlier.path) on line \(earlier.line); ids must be"
                        + " unique across sources, transforms and sinks")
            } else {
                first[entry.id] = entry
            }
        }
        return entries.filter { first[$0.id]?.path == $0.path }
    }

    // MARK: Files

    private struct ReadProblem: Error {
        var reason: String
    }

    private static func readText(_ path: String) -> Result<String, ReadProblem> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(ReadProblem(reason: "no such file"))
        }
        guard !isDirectory.boolValue else { return .failure(ReadProblem(reason: "it is a directory")) }
        guard FileManager.default.isReadableFile(atPath: path) else {
            return .failure(ReadProblem(reason: "permission denied"))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ReadProblem(reason: "the file could not be read"))
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            return .failure(ReadProblem(reason: "the file is not UTF-8 text"))
        }
        return .success(text)
    }
}

extension ComponentKind {
    /// The top-level key components of this kind are written under.
    var sectionName: String {
        switch self {
        case .source: "sources"
        case .transform: "transforms"
        case .sink: "sinks"
        }
    }
}
