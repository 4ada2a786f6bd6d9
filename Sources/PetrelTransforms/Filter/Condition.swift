import PetrelCore

/// A test on one event, written in the configuration as a tree of `all`, `any`, `not` and leaf tests.
///
/// A leaf names a `key` and one test: `equals`, `not_equals`, `matches` (an RE2 regular expression, as
/// `relabel`'s, that must match the whole value; `.` matches a newline too) or `exists`. What `key` means depends on the signal:
/// - metrics: a label name;
/// - logs: `message`, `severity`, `metadata.NAME`, `resource.NAME`, or a field path (`http.status`);
/// - spans: `name`, `kind`, `status`, `resource.NAME`, or a span attribute.
public indirect enum Condition: Sendable {
    case all([Condition])
    case any([Condition])
    case not(Condition)
    case test(key: String, test: Test)

    /// A test on one value; `nil` means the key is absent.
    public enum Test: Sendable {
        case equals(String)
        case notEquals(String)
        case matches(RE2Regex)
        case exists(Bool)

        func evaluate(_ value: Value?) -> Bool {
            switch self {
            case .equals(let expected): value?.text == expected
            case .notEquals(let expected): value?.text != expected
            case .matches(let regex): value?.text.map(regex.matches) ?? false
            case .exists(let expected): (value != nil) == expected
            }
        }
    }

    /// Reads a condition, reporting problems to `reader`; `nil` when it has errors.
    public static func parse(_ reader: ConfigReader) -> Condition? {
        defer { reader.finish() }
        let combinators = ["all", "any", "not"].filter { reader.contains($0) }
        if combinators.count > 1 || (combinators.count == 1 && reader.contains("key")) {
            reader.error(nil, "a condition has exactly one of all, any, not or key")
            _ = reader.keys.map(reader.node)
            return nil
        }
        if reader.contains("all") || reader.contains("any") {
            let key = reader.contains("all") ? "all" : "any"
            guard let items = reader.sectionList(key) else { return nil }
            if items.isEmpty { reader.error(key, "needs at least one condition") }
            let conditions = items.compactMap(parse)
            guard conditions.count == items.count, !items.isEmpty else { return nil }
            return key == "all" ? .all(conditions) : .any(conditions)
        }
        if reader.contains("not") {
            return reader.section("not").flatMap(parse).map(Condition.not)
        }
        guard let key = reader.requiredString("key") else {
            _ = reader.keys.map(reader.node)
            return nil
        }
        let tests = ["equals", "not_equals", "matches", "exists"].filter { reader.contains($0) }
        guard tests.count == 1 else {
            reader.error(nil, "a test on \"\(key)\" needs exactly one of equals, not_equals, matches or exists")
            _ = reader.keys.map(reader.node)
            return nil
        }
        switch tests[0] {
        case "equals": return reader.string("equals").map { .test(key: key, test: .equals($0)) }
        case "not_equals": return reader.string("not_equals").map { .test(key: key, test: .notEquals($0)) }
        case "exists": return .test(key: key, test: .exists(reader.bool("exists", default: true)))
        default:
            guard let pattern = reader.string("matches") else { return nil }
            do {
                return .test(key: key, test: .matches(try RE2Regex(pattern)))
            } catch {
                reader.error("matches", "invalid regular expression \"\(pattern)\": \(error)")
                return nil
            }
        }
    }

    /// What a key looks up: text to compare, or a value that exists but has no text (an object, a list, bytes).
    public enum Value: Sendable, Equatable {
        case text(String)
        case structured

        var text: String? {
            if case .text(let text) = self { return text }
            return nil
        }

        /// A label value, attribute or field, as a condition sees it.
        public init(_ value: AnyValue) {
            self = value.text.map(Value.text) ?? .structured
        }
    }

    /// Evaluates the condition, looking values up with `lookup`.
    public func evaluate(_ lookup: (String) -> Value?) -> Bool {
        switch self {
        case .all(let conditions): conditions.allSatisfy { $0.evaluate(lookup) }
        case .any(let conditions): conditions.contains { $0.evaluate(lookup) }
        case .not(let condition): !condition.evaluate(lookup)
        case .test(let key, let test): test.evaluate(lookup(key))
        }
    }
}
