import PetrelCore

/// A configuration value written as a Swift literal, standing in for what the YAML loader would produce.
///
/// Strings, numbers and booleans become scalars (as YAML scalars are text until a reader parses them),
/// arrays become sequences, dictionary literals become mappings in the order written, and `nil` is null.
enum ComponentConfigValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    case null
    case scalar(String)
    case list([ComponentConfigValue])
    case map([(key: String, value: ComponentConfigValue)])

    init(stringLiteral value: String) { self = .scalar(value) }
    init(integerLiteral value: Int) { self = .scalar(String(value)) }
    init(floatLiteral value: Double) { self = .scalar(String(value)) }
    init(booleanLiteral value: Bool) { self = .scalar(value ? "true" : "false") }
    init(arrayLiteral elements: ComponentConfigValue...) { self = .list(elements) }
    init(nilLiteral: ()) { self = .null }

    init(dictionaryLiteral elements: (String, ComponentConfigValue)...) {
        self = .map(elements.map { (key: $0.0, value: $0.1) })
    }

    /// The value as a `ConfigNode`, every node on `line`.
    func configNode(line: Int = 0) -> ConfigNode {
        switch self {
        case .null: ConfigNode(.null, line: line)
        case .scalar(let text): ConfigNode(.scalar(text), line: line)
        case .list(let items): ConfigNode(.sequence(items.map { $0.configNode(line: line) }), line: line)
        case .map(let entries):
            ConfigNode(.mapping(entries.map { (key: $0.key, node: $0.value.configNode(line: line)) }), line: line)
        }
    }
}

/// A component's configuration mapping (the keys beside `type` and `inputs`) as a `ConfigNode`.
func componentConfig(_ entries: KeyValuePairs<String, ComponentConfigValue>) -> ConfigNode {
    ComponentConfigValue.map(entries.map { (key: $0.key, value: $0.value) }).configNode()
}

/// What building a component from its configuration gave: the component, and every error reported.
struct ComponentBuildOutcome {
    var built: BuiltComponent?
    var diagnostics: ConfigDiagnostics

    /// The errors as a user reads them: `file: path: message`.
    var errors: [String] { diagnostics.errors.map(\.description) }
}

/// The file name the test diagnostics report errors in.
let componentConfigFile = "petrel.yaml"

/// Builds a component the way the loader does: `build`, then `finish()` to report unknown keys.
///
/// `path` is the component's key path (`sources.demo`); its last part is the component id.
func buildComponent(_ definition: ComponentDefinition, at path: String, _ node: ConfigNode) -> ComponentBuildOutcome {
    let diagnostics = ConfigDiagnostics(file: componentConfigFile)
    let reader = ConfigReader(node: node, path: path, diagnostics: diagnostics)
    let id = path.split(separator: ".").last.map(String.init) ?? path
    let built = definition.build(reader, ComponentBuildContext(id: id, dataDirectory: "/tmp/petrel-test-data"))
    reader.finish()
    return ComponentBuildOutcome(built: built, diagnostics: diagnostics)
}

/// A fresh telemetry handle for one component, on its own registry.
func componentTestTelemetry(id: String, type: String, kind: ComponentKind) -> ComponentTelemetry {
    ComponentTelemetry(id: id, type: type, kind: kind, registry: TelemetryRegistry())
}

/// Polls `condition` until it holds or `timeout` passes; whether it held. For state another task reaches.
func componentEventually(timeout: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return true
}
