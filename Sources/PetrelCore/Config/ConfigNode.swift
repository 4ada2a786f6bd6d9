/// A parsed configuration document: YAML reduced to scalars, sequences and mappings, with line numbers.
public struct ConfigNode: Sendable {
    /// The shape of a node.
    public enum Value: Sendable {
        case null
        case scalar(String)
        case sequence([ConfigNode])
        case mapping([(key: String, node: ConfigNode)])
    }

    public var value: Value
    /// 1-based line in the file; 0 when unknown.
    public var line: Int

    public init(_ value: Value, line: Int = 0) {
        self.value = value
        self.line = line
    }

    /// The node under `key` when this is a mapping.
    public subscript(key: String) -> ConfigNode? {
        guard case .mapping(let entries) = value else { return nil }
        return entries.first { $0.key == key }?.node
    }

    /// Whether the two say the same, wherever they are written: lines are ignored, and so is the order of the keys of
    /// a mapping. A reload compares a component's configuration this way.
    public func hasSameContent(as other: ConfigNode) -> Bool {
        switch (value, other.value) {
        case (.null, .null):
            return true
        case (.scalar(let left), .scalar(let right)):
            return left == right
        case (.sequence(let left), .sequence(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { $0.hasSameContent(as: $1) }
        case (.mapping(let left), .mapping(let right)):
            guard left.count == right.count else { return false }
            return left.allSatisfy { entry in
                right.first { $0.key == entry.key }.map { entry.node.hasSameContent(as: $0.node) } ?? false
            }
        default:
            return false
        }
    }

    /// A word for the node's shape in error messages.
    public var kindName: String {
        switch value {
        case .null: "nothing"
        case .scalar: "a single value"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// One problem in a configuration, located by file, line and key path.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// 1-based column on `line`, for errors inside a program (a `remap` source); 0 when not known.
    public var column: Int
    /// Dotted key path, e.g. `sinks.vm.endpoints`.
    public var path: String
    public var message: String

    public init(file: String, line: Int, column: Int = 0, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String {
        let location = line > 0 ? (column > 0 ? "\(file):\(line):\(column)" : "\(file):\(line)") : file
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// Collects every configuration error so that all of them are reported at once.
public final class ConfigDiagnostics {
    public let file: String
    public private(set) var errors: [ConfigError] = []

    public init(file: String) {
        self.file = file
    }

    public func error(_ path: String, line: Int, _ message: String) {
        errors.append(ConfigError(file: file, line: line, path: path, message: Self.bounded(message)))
    }

    /// Records an error located by the caller, possibly in another file (a program the configuration names).
    public func report(_ error: ConfigError) {
        var error = error
        error.message = Self.bounded(error.message)
        errors.append(error)
    }

    /// The longest message kept whole: one that quotes a huge value is cut in the middle, so its start and its
    /// hint at the end stay readable and a 50 MB value is not printed.
    static let maximumMessageLength = 1_000

    private static func bounded(_ message: String) -> String {
        guard message.utf8.count > maximumMessageLength else { return message }
        let head = message.prefix(maximumMessageLength * 3 / 5)
        let tail = message.suffix(maximumMessageLength / 5)
        let omitted = message.count - head.count - tail.count
        return "\(head)… (\(omitted) characters left out) …\(tail)"
    }
}

extension StringProtocol {
    /// The value in double quotes for an error message: whole when short, else its first characters and its
    /// length, so a message about a huge value stays short.
    public var quotedForMessage: String {
        guard count > 100 else { return "\"\(self)\"" }
        return "\"\(prefix(60))…\" (\(utf8.count) bytes)"
    }
}
