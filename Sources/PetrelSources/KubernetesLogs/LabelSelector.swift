/// A Kubernetes label selector (`app=web,tier!=db,env in (a,b),!canary,track`), parsed once from configuration and
/// matched against a pod's labels, with the semantics of `k8s.io/apimachinery/pkg/labels`.
public struct LabelSelector: Sendable, Equatable, CustomStringConvertible {
    /// One comma-separated term.
    public enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)

        /// Whether `labels` satisfy it; as Kubernetes, `!=` and `notin` hold for a label that is absent.
        public func matches(_ labels: [String: String]) -> Bool {
            switch self {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .in(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }
    }

    public let requirements: [Requirement]
    public let description: String

    /// Every requirement holds; the empty selector matches every pod.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    /// Parses `text`, or throws an error that names the position and what was expected there.
    public init(parsing text: String) throws(LabelSelectorError) {
        var parser = LabelSelectorParser(text)
        requirements = try parser.parse()
        description = text
    }
}

/// What is wrong with a label selector, and where (a 0-based character offset).
public struct LabelSelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public let position: Int
    public let message: String

    public var description: String { "\(message) at position \(position)" }
}

/// A recursive-descent parser over the selector's characters.
private struct LabelSelectorParser {
    private let characters: [Character]
    private var index = 0

    init(_ text: String) { characters = Array(text) }

    mutating func parse() throws(LabelSelectorError) -> [LabelSelector.Requirement] {
        var requirements: [LabelSelector.Requirement] = []
        skipSpaces()
        if index == characters.count { return [] }
        while true {
            requirements.append(try requirement())
            skipSpaces()
            if index == characters.count { return requirements }
            guard characters[index] == "," else {
                throw fail("expected \",\" between requirements, found \"\(characters[index])\"")
            }
            index += 1
            skipSpaces()
            if index == characters.count { throw fail("expected a requirement after \",\"") }
        }
    }

    private mutating func requirement() throws(LabelSelectorError) -> LabelSelector.Requirement {
        if characters[index] == "!" {
            index += 1
            skipSpaces()
            return .doesNotExist(try key())
        }
        let key = try key()
        skipSpaces()
        guard index < characters.count, characters[index] != "," else { return .exists(key) }
        if take("==") || take("=") { return .equals(key, try value()) }
        if take("!=") { return .notEquals(key, try value()) }
        let start = index
        let word = String(characters[index...].prefix { $0.isLetter })
        index += word.count
        switch word {
        case "in": return .in(key, try valueSet())
        case "notin": return .notIn(key, try valueSet())
        default:
            index = start
            if characters[index] == ">" || characters[index] == "<" {
                throw fail("\"\(characters[index])\" is for node selectors; pod selectors take =, ==, !=, in, notin")
            }
            throw fail("expected =, ==, !=, in or notin after \"\(key)\", found \"\(characters[index])\"")
        }
    }

    /// `[prefix/]name`: the prefix a DNS subdomain of at most 253 characters, the name at most 63.
    private mutating func key() throws(LabelSelectorError) -> String {
        let start = index
        let text = word()
        guard !text.isEmpty else {
            throw fail(
                index < characters.count
                    ? "expected a label key, found \"\(characters[index])\"" : "expected a label key")
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            throw LabelSelectorError(position: start, message: "\"\(text)\" has more than one \"/\"")
        }
        if parts.count == 2 {
            let prefix = parts[0]
            guard !prefix.isEmpty, prefix.count <= 253,
                prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(Self.isDNSLabel)
            else {
                throw LabelSelectorError(
                    position: start,
                    message: "the prefix of \"\(text)\" is not a DNS subdomain (lowercase, 253 at most)")
            }
        }
        guard Self.isName(parts[parts.count - 1]) else {
            throw LabelSelectorError(
                position: start,
                message: "\"\(text)\" is not a label key: a name of 1 to 63 letters, digits, \"-\", \"_\" or \".\", "
                    + "starting and ending with a letter or digit, after an optional \"prefix/\"")
        }
        return text
    }

    private mutating func value() throws(LabelSelectorError) -> String {
        skipSpaces()
        let start = index
        let text = word()
        guard text.isEmpty || Self.isName(Substring(text)) else {
            throw LabelSelectorError(
                position: start,
                message: "\"\(text)\" is not a label value: at most 63 letters, digits, \"-\", \"_\" or \".\", "
                    + "starting and ending with a letter or digit")
        }
        return text
    }

    private mutating func valueSet() throws(LabelSelectorError) -> Set<String> {
        skipSpaces()
        guard take("(") else { throw fail("expected \"(\" to open the set of values") }
        var values: Set<String> = []
        while true {
            values.insert(try value())
            skipSpaces()
            if take(")") { return values }
            guard take(",") else {
                throw fail(
                    index < characters.count
                        ? "expected \",\" or \")\" in the set of values" : "the set of values is not closed with \")\"")
            }
        }
    }

    private mutating func word() -> String {
        let text = characters[index...].prefix { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./".contains($0)) }
        index += text.count
        return String(text)
    }

    private mutating func take(_ token: String) -> Bool {
        let token = Array(token)
        guard characters.count - index >= token.count, Array(characters[index..<index + token.count]) == token else {
            return false
        }
        index += token.count
        return true
    }

    private mutating func skipSpaces() {
        while index < characters.count, characters[index].isWhitespace { index += 1 }
    }

    private func fail(_ message: String) -> LabelSelectorError {
        LabelSelectorError(position: index, message: message)
    }

    private static func isAlphanumeric(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber)
    }

    private static func isName(_ text: Substring) -> Bool {
        guard let first = text.first, let last = text.last, text.count <= 63 else { return false }
        return isAlphanumeric(first) && isAlphanumeric(last)
            && text.allSatisfy { isAlphanumeric($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    private static func isDNSLabel(_ text: Substring) -> Bool {
        guard let first = text.first, let last = text.last, text.count <= 63 else { return false }
        let isLowerAlphanumeric = { (c: Character) in c.isASCII && (c.isLowercase || c.isNumber) }
        return isLowerAlphanumeric(first) && isLowerAlphanumeric(last)
            && text.allSatisfy { isLowerAlphanumeric($0) || $0 == "-" }
    }
}
