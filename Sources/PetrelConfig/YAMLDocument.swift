import PetrelCore
import Yams

/// Turns YAML text into a `ConfigNode` tree that keeps the line of every value.
///
/// Scalars stay text (a component's reader decides what a number or a boolean is); plain `~`,
/// `null` and empty values become `.null`, while a quoted `"null"` stays a string. Aliases are
/// expanded and `<<` merge keys are applied. Values in a mapping carry the line of their key, so an
/// error about a key points at the line where the key is written.
public enum YAMLDocument {
    /// The most values a document may hold, counting each use of an alias, so that an alias bomb (or a
    /// generated monster) fails fast with one error.
    static let maximumNodeCount = 1_000_000

    /// The document's root, or `nil` when the text is not valid YAML (the error is recorded).
    ///
    /// An empty document is a `.null` root.
    public static func parse(_ text: String, diagnostics: ConfigDiagnostics) -> ConfigNode? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            let problem = describe(error, in: text)
            diagnostics.error("", line: problem.line, problem.message)
            return nil
        } catch {
            diagnostics.error("", line: 0, "invalid YAML: \(error)")
            return nil
        }
        guard let root else { return ConfigNode(.null, line: 1) }
        var converter = Converter(diagnostics: diagnostics)
        let document = converter.convert(root, path: "")
        // What was cut off would only bring false errors ("needs at least one sink") after the real one.
        return converter.tooLarge ? nil : document
    }

    /// The line and message of a Yams error, without Yams' snippet of the document.
    static func describe(_ error: YamlError, in text: String) -> (line: Int, message: String) {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "invalid YAML: \(problem)"
            if let context, problem.hasPrefix("but ") {
                // libyaml splits some messages in two: "expected a single document" + "but found another".
                message = "invalid YAML: \(context.text) \(problem)"
            } else if let context {
                let place = context.mark.line == mark.line ? "" : " on line \(context.mark.line)"
                message += " (\(context.text)\(place))"
            }
            return (mark.line, message)
        case .reader(let problem, let offset, _, _):
            let line = offset.map { lineNumber(atCharacterOffset: $0, in: text) } ?? 0
            return (line, "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            let noun = duplicates.count == 1 ? "key" : "keys"
            return (context.mark.line, "duplicate \(noun) \(keys) in the same mapping")
        default:
            return (0, "invalid YAML: \(error)")
        }
    }

    private static func lineNumber(atCharacterOffset offset: Int, in text: String) -> Int {
        1 + text.prefix(offset).reduce(0) { count, character in count + (character.isNewline ? 1 : 0) }
    }
}

/// Walks a Yams node tree into `ConfigNode`s, recording what YAML allows and a configuration does not.
private struct Converter {
    let diagnostics: ConfigDiagnostics
    var nodeCount = 0
    var tooLarge = false

    init(diagnostics: ConfigDiagnostics) {
        self.diagnostics = diagnostics
    }

    mutating func convert(_ node: Node, path: String) -> ConfigNode {
        let line = node.mark?.line ?? 0
        nodeCount += 1
        if nodeCount > YAMLDocument.maximumNodeCount {
            if !tooLarge {
                tooLarge = true
                diagnostics.error(
                    path, line: line,
                    "the document holds more than \(YAMLDocument.maximumNodeCount) values (each use of an alias"
                        + " counts its values again); split the pipeline or use fewer aliases")
            }
            return ConfigNode(.null, line: line)
        }
        switch node {
        case .scalar(let scalar):
            if node.tag.rawValue == Tag.Name.null.rawValue { return ConfigNode(.null, line: line) }
            return ConfigNode(.scalar(scalar.string), line: line)
        case .sequence(let sequence):
            let items = sequence.enumerated().map { index, item in convert(item, path: "\(path)[\(index)]") }
            return ConfigNode(.sequence(items), line: line)
        case .mapping(let mapping):
            return ConfigNode(.mapping(convert(mapping, path: path)), line: line)
        case .alias:
            // `compose` resolves aliases itself; an unresolved one has nothing behind it.
            diagnostics.error(path, line: line, "alias refers to nothing")
            return ConfigNode(.null, line: line)
        }
    }

    private mutating func convert(_ mapping: Node.Mapping, path: String) -> [(key: String, node: ConfigNode)] {
        // Keys written in the mapping win over merged ones, and earlier merges over later ones.
        var entries: [(key: String, node: ConfigNode)] = []
        var lines: [String: Int] = [:]
        var merges: [(position: Int, entries: [(key: String, node: ConfigNode)])] = []

        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                let line = keyNode.mark?.line ?? 0
                diagnostics.error(path, line: line, "a key must be a single value, found \(describeShape(keyNode))")
                continue
            }
            let keyLine = keyNode.mark?.line ?? 0
            if keyNode.tag.rawValue == Tag.Name.merge.rawValue {
                merges.append((entries.count, merged(valueNode, path: path, line: keyLine)))
                continue
            }
            let key = keyScalar.string
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if let first = lines[key] {
                diagnostics.error(keyPath, line: keyLine, "duplicate key, first written on line \(first)")
                continue
            }
            lines[key] = keyLine
            var value = convert(valueNode, path: keyPath)
            value.line = keyLine
            entries.append((key, value))
        }

        guard !merges.isEmpty else { return entries }
        var present = Set(lines.keys)
        var result: [(key: String, node: ConfigNode)] = []
        var next = 0
        for merge in merges {
            result.append(contentsOf: entries[next..<merge.position])
            next = merge.position
            for entry in merge.entries where !present.contains(entry.key) {
                present.insert(entry.key)
                result.append(entry)
            }
        }
        result.append(contentsOf: entries[next...])
        return result
    }

    /// The entries a `<<` merge key brings in: from one mapping, or from a list of them.
    private mutating func merged(_ value: Node, path: String, line: Int) -> [(key: String, node: ConfigNode)] {
        let mergePath = path.isEmpty ? "<<" : "\(path).<<"
        switch value {
        case .mapping(let mapping):
            return convert(mapping, path: path)
        case .sequence(let sequence):
            var entries: [(key: String, node: ConfigNode)] = []
            var present: Set<String> = []
            for item in sequence {
                guard case .mapping(let mapping) = item else {
                    diagnostics.error(
                        mergePath, line: item.mark?.line ?? line,
                        "a merge key takes a mapping or a list of mappings, found \(describeShape(item)) in the list")
                    continue
                }
                for entry in convert(mapping, path: path) where !present.contains(entry.key) {
                    present.insert(entry.key)
                    entries.append(entry)
                }
            }
            return entries
        default:
            diagnostics.error(
                mergePath, line: line,
                "a merge key takes a mapping or a list of mappings, found \(describeShape(value))")
            return []
        }
    }

    private func describeShape(_ node: Node) -> String {
        switch node {
        case .scalar: "a single value"
        case .sequence: "a list"
        case .mapping: "a mapping"
        case .alias: "an alias"
        }
    }
}
