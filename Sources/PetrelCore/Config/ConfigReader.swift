/// Reads one mapping of the configuration, recording errors instead of stopping at the first.
///
/// Every key read is remembered; `finish()` reports the keys nobody read as unknown, so a typo
/// never passes silently.
public final class ConfigReader {
    public let path: String
    public let node: ConfigNode
    public let diagnostics: ConfigDiagnostics
    private var entries: [(key: String, node: ConfigNode)]
    private var used: Set<String> = []

    /// A reader over `node`, which is expected to be a mapping (anything else is reported).
    public init(node: ConfigNode, path: String, diagnostics: ConfigDiagnostics) {
        self.node = node
        self.path = path
        self.diagnostics = diagnostics
        switch node.value {
        case .mapping(let entries):
            self.entries = entries
        case .null:
            self.entries = []
        default:
            self.entries = []
            diagnostics.error(path, line: node.line, "expected a mapping, found \(node.kindName)")
        }
    }

    /// The path of a key under this mapping.
    public func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Records an error on `key` (or on the mapping itself when `key` is nil).
    public func error(_ key: String?, _ message: String) {
        let line = key.flatMap { self.lookup($0)?.line } ?? node.line
        diagnostics.error(key.map(path) ?? path, line: line, message)
    }

    /// Whether the mapping has `key` with a non-null value; does not mark it read.
    public func contains(_ key: String) -> Bool {
        guard let node = lookup(key) else { return false }
        if case .null = node.value { return false }
        return true
    }

    /// The raw node under `key`, marked read.
    public func node(_ key: String) -> ConfigNode? {
        used.insert(key)
        guard let node = lookup(key) else { return nil }
        if case .null = node.value { return nil }
        return node
    }

    private func lookup(_ key: String) -> ConfigNode? {
        entries.first { $0.key == key }?.node
    }

    // MARK: Scalars

    /// A string value; `nil` when absent or not a scalar (reported).
    public func string(_ key: String) -> String? {
        guard let node = node(key) else { return nil }
        guard case .scalar(let text) = node.value else {
            error(key, "expected a single value, found \(node.kindName)")
            return nil
        }
        return text
    }

    public func string(_ key: String, default fallback: String) -> String {
        string(key) ?? fallback
    }

    /// A string that must be present.
    public func requiredString(_ key: String) -> String? {
        if !contains(key) {
            used.insert(key)
            error(key, "is required")
            return nil
        }
        return string(key)
    }

    public func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let text = string(key) else { return fallback }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(key, "expected true or false, found \(text.quotedForMessage)")
            return fallback
        }
    }

    public func int(_ key: String, default fallback: Int, range: ClosedRange<Int> = Int.min...Int.max) -> Int {
        guard let text = string(key) else { return fallback }
        guard let value = Int(text.replacingUnderscores) else {
            error(key, "expected a whole number, found \(text.quotedForMessage)")
            return fallback
        }
        guard range.contains(value) else {
            error(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(value)")
            return fallback
        }
        return value
    }

    public func double(_ key: String, default fallback: Double, range: ClosedRange<Double>) -> Double {
        guard let text = string(key) else { return fallback }
        guard let value = Double(text.replacingUnderscores), value.isFinite else {
            error(key, "expected a number, found \(text.quotedForMessage)")
            return fallback
        }
        guard range.contains(value) else {
            error(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(text)")
            return fallback
        }
        return value
    }

    /// A duration written as Prometheus writes them (`500ms`, `30s`, `1m30s`, `2h`, `1d`) or plain seconds.
    public func duration(_ key: String, default fallback: Duration) -> Duration {
        guard let text = string(key) else { return fallback }
        guard let value = DurationParser.parse(text) else {
            error(key, "expected a duration such as 500ms, 30s, 5m or 1h, found \(text.quotedForMessage)")
            return fallback
        }
        return value
    }

    /// A size in bytes: a plain number, or with a unit (`512KiB`, `32MiB`, `10GiB`, `1MB`).
    public func byteSize(_ key: String, default fallback: Int) -> Int {
        guard let text = string(key) else { return fallback }
        guard let value = ByteSizeParser.parse(text) else {
            error(key, "expected a size such as 4096, 512KiB, 32MiB or 10GiB, found \(text.quotedForMessage)")
            return fallback
        }
        return value
    }

    /// A `host:port` address to listen on (`0.0.0.0:9201`, `[::1]:8686`).
    public func listenAddress(_ key: String, default fallback: HostPort) -> HostPort {
        guard let text = string(key) else { return fallback }
        switch HostPort.parse(text) {
        case .success(let address): return address
        case .failure(let problem):
            error(key, "invalid address \(text.quotedForMessage): \(problem.message)")
            return fallback
        }
    }

    /// One of a fixed set of words.
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, default fallback: T) -> T
    where T.RawValue == String {
        guard let text = string(key) else { return fallback }
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map { $0.rawValue }.joined(separator: ", ")
            error(key, "expected one of \(allowed), found \(text.quotedForMessage)")
            return fallback
        }
        return value
    }

    // MARK: Collections

    /// A list of strings; a single string is not accepted, so `inputs: a` is caught.
    public func stringList(_ key: String) -> [String]? {
        guard let node = node(key) else { return nil }
        guard case .sequence(let items) = node.value else {
            error(key, "expected a list, found \(node.kindName)")
            return nil
        }
        var strings: [String] = []
        for (index, item) in items.enumerated() {
            guard case .scalar(let text) = item.value else {
                diagnostics.error(
                    "\(path(key))[\(index)]", line: item.line, "expected a single value, found \(item.kindName)")
                continue
            }
            strings.append(text)
        }
        return strings
    }

    /// A mapping of string keys to string values, in file order.
    public func stringMap(_ key: String) -> [(key: String, value: String)]? {
        guard let node = node(key) else { return nil }
        guard case .mapping(let entries) = node.value else {
            error(key, "expected a mapping, found \(node.kindName)")
            return nil
        }
        var pairs: [(key: String, value: String)] = []
        for entry in entries {
            switch entry.node.value {
            case .scalar(let text): pairs.append((entry.key, text))
            case .null: pairs.append((entry.key, ""))
            default:
                diagnostics.error(
                    "\(path(key)).\(entry.key)", line: entry.node.line,
                    "expected a single value, found \(entry.node.kindName)")
            }
        }
        return pairs
    }

    /// A nested mapping, read by its own reader (finish it too).
    public func section(_ key: String) -> ConfigReader? {
        guard let node = node(key) else { return nil }
        return ConfigReader(node: node, path: path(key), diagnostics: diagnostics)
    }

    /// A list of mappings (rules, conditions), each read by its own reader.
    public func sectionList(_ key: String) -> [ConfigReader]? {
        guard let node = node(key) else { return nil }
        guard case .sequence(let items) = node.value else {
            error(key, "expected a list, found \(node.kindName)")
            return nil
        }
        return items.enumerated().map { index, item in
            ConfigReader(node: item, path: "\(path(key))[\(index)]", diagnostics: diagnostics)
        }
    }

    /// The keys of this mapping in file order.
    public var keys: [String] { entries.map(\.key) }

    /// Reports every key that was never read as unknown.
    public func finish() {
        for entry in entries where !used.contains(entry.key) {
            var message = "unknown key"
            if let suggestion = EditDistance.closest(to: entry.key, among: used.subtracting(entries.map(\.key))) {
                message += "; did you mean \"\(suggestion)\"?"
            }
            diagnostics.error(path(entry.key), line: entry.node.line, message)
        }
    }
}

extension String {
    fileprivate var replacingUnderscores: String { filter { $0 != "_" } }
}
