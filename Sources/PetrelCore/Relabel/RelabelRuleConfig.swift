/// What a relabel rule does, spelled as Prometheus spells it.
public enum RelabelAction: String, Sendable, CaseIterable {
    case replace
    case keep
    case drop
    case keepequal
    case dropequal
    case hashmod
    case labelmap
    case labeldrop
    case labelkeep
    case lowercase
    case uppercase

    /// Actions that write `target_label`, which they then cannot do without.
    public var needsTargetLabel: Bool {
        switch self {
        case .replace, .hashmod, .lowercase, .uppercase, .keepequal, .dropequal: true
        default: false
        }
    }
}

/// Which label names a rule may write: Prometheus 2's `[a-zA-Z_][a-zA-Z0-9_]*`, or any UTF-8 as Prometheus 3 allows.
public enum LabelNameValidation: String, Sendable, CaseIterable {
    case legacy
    case utf8

    /// Whether `name` is a label name under this scheme.
    public func isValid(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isValid(UnsafeRawBufferPointer($0)) }
    }

    func isValid(_ name: UnsafeRawBufferPointer) -> Bool {
        guard !name.isEmpty else { return false }
        switch self {
        case .legacy:
            return PrometheusLabelName.isValid(name)
        case .utf8:
            var parser = Unicode.UTF8.ForwardParser()
            var iterator = name.makeIterator()
            while true {
                switch parser.parseScalar(from: &iterator) {
                case .valid: continue
                case .emptyInput: return true
                case .error: return false
                }
            }
        }
    }

    /// Whether a template that may hold `$` references can expand to a valid name; Prometheus checks
    /// legacy templates against `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`.
    func isValidTemplate(_ template: String) -> Bool {
        guard self == .legacy else { return !template.isEmpty }
        let bytes = Array(template.utf8)
        // Go's `\w` is exactly the characters that may follow a name's first.
        let isWord = PrometheusLabelName.isContinuation as (UInt8) -> Bool
        // That regex is: (a name start or a reference), then any mix of word characters and references.
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$") {
                index += 1
                let braced = index < bytes.count && bytes[index] == UInt8(ascii: "{")
                if braced { index += 1 }
                let start = index
                while index < bytes.count, isWord(bytes[index]) { index += 1 }
                guard index > start else { return false }
                if braced {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "}") else { return false }
                    index += 1
                }
            } else if index == 0 ? PrometheusLabelName.isStart(byte) : isWord(byte) {
                index += 1
            } else {
                return false
            }
        }
        return !bytes.isEmpty
    }
}

/// One Prometheus `relabel_config`, as written: the fields and defaults of Prometheus' `relabel.Config`.
public struct RelabelRuleConfig: Sendable, Equatable {
    public static let defaultSeparator = ";"
    public static let defaultRegex = "(.*)"
    public static let defaultReplacement = "$1"

    /// Labels whose values, joined by `separator`, are the rule's input; `nil` when not written.
    public var sourceLabels: [String]?
    public var separator: String
    /// The pattern as written; it is anchored at both ends when compiled.
    public var regex: String
    public var modulus: UInt64
    public var targetLabel: String
    public var replacement: String
    public var action: RelabelAction

    public init(
        sourceLabels: [String]? = nil, separator: String = Self.defaultSeparator, regex: String = Self.defaultRegex,
        modulus: UInt64 = 0, targetLabel: String = "", replacement: String = Self.defaultReplacement,
        action: RelabelAction = .replace
    ) {
        self.sourceLabels = sourceLabels
        self.separator = separator
        self.regex = regex
        self.modulus = modulus
        self.targetLabel = targetLabel
        self.replacement = replacement
        self.action = action
    }

    /// Reads one rule, reporting problems under the reader's path (`...rules[2].regex`); `nil` on errors.
    public static func parse(_ reader: ConfigReader, names: LabelNameValidation = .legacy) -> RelabelRuleConfig? {
        defer { reader.finish() }
        let errorCount = reader.diagnostics.errors.count
        var rule = RelabelRuleConfig()
        // An explicit null is the empty string, as Prometheus' YAML decoding makes it.
        func text(_ key: String, default fallback: String) -> String {
            guard reader.keys.contains(key) else { return fallback }
            return reader.string(key) ?? ""
        }
        rule.sourceLabels = reader.stringList("source_labels")
        rule.separator = text("separator", default: rule.separator)
        rule.regex = text("regex", default: rule.regex)
        rule.targetLabel = text("target_label", default: rule.targetLabel)
        rule.replacement = text("replacement", default: rule.replacement)
        if let modulus = reader.string("modulus") {
            if let value = UInt64(modulus) {
                rule.modulus = value
            } else {
                reader.error("modulus", "expected a whole number of 0 or more, found \(modulus.quotedForMessage)")
            }
        }
        if reader.keys.contains("action") {
            let written = reader.string("action") ?? ""
            if let action = RelabelAction(rawValue: written.lowercased()) {
                rule.action = action
            } else {
                let allowed = RelabelAction.allCases.map(\.rawValue).joined(separator: ", ")
                reader.error("action", "unknown relabel action \"\(written)\"; expected one of \(allowed)")
            }
        }
        guard reader.diagnostics.errors.count == errorCount else { return nil }
        let problems = rule.problems(names: names)
        for problem in problems {
            reader.error(problem.key, problem.message)
        }
        return problems.isEmpty ? rule : nil
    }

    /// A problem with a rule: the key it is about (`nil` for the rule as a whole) and what is wrong.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var key: String?
        public var message: String

        public var description: String { key.map { "\($0): \(message)" } ?? message }
    }

    /// What is wrong with this rule, checked as Prometheus' `relabel.Config.Validate` checks it (it
    /// stops at the first problem, and so does this), plus the regex and the source label names.
    public func problems(names: LabelNameValidation = .legacy) -> [Problem] {
        var problems: [Problem] = []
        for (index, name) in (sourceLabels ?? []).enumerated() where !names.isValid(name) {
            problems.append(Problem(key: "source_labels[\(index)]", message: "\"\(name)\" is not a valid label name"))
        }
        do {
            _ = try RE2Regex(regex)
        } catch {
            problems.append(Problem(key: "regex", message: "invalid regular expression \"\(regex)\": \(error)"))
        }
        if let problem = validationProblem(names: names) {
            problems.append(problem)
        }
        return problems
    }

    private func validationProblem(names: LabelNameValidation) -> Problem? {
        let action = action.rawValue
        if self.action == .hashmod && modulus == 0 {
            return Problem(key: "modulus", message: "relabel configuration for hashmod requires non-zero modulus")
        }
        if self.action.needsTargetLabel && targetLabel.isEmpty {
            return Problem(
                key: "target_label", message: "relabel configuration for \(action) action requires 'target_label' value"
            )
        }
        let invalidTarget = Problem(
            key: "target_label", message: "\"\(targetLabel)\" is invalid 'target_label' for \(action) action")
        switch self.action {
        case .replace:
            let valid = targetLabel.contains("$") ? names.isValidTemplate(targetLabel) : names.isValid(targetLabel)
            if !valid { return invalidTarget }
        case .lowercase, .uppercase, .keepequal, .dropequal:
            if !names.isValid(targetLabel) { return invalidTarget }
            if replacement != Self.defaultReplacement {
                return Problem(key: "replacement", message: "'replacement' can not be set for \(action) action")
            }
        case .labelmap:
            if !names.isValidTemplate(replacement) {
                return Problem(
                    key: "replacement", message: "\"\(replacement)\" is invalid 'replacement' for \(action) action")
            }
        case .hashmod:
            if !names.isValid(targetLabel) { return invalidTarget }
        default:
            break
        }
        if self.action == .keepequal || self.action == .dropequal {
            if regex != Self.defaultRegex || modulus != 0 || separator != Self.defaultSeparator
                || replacement != Self.defaultReplacement
            {
                return Problem(
                    key: nil,
                    message: "\(action) action requires only 'source_labels' and `target_label`, and no other fields")
            }
        }
        if self.action == .labeldrop || self.action == .labelkeep {
            if sourceLabels != nil || !targetLabel.isEmpty || modulus != 0 || separator != Self.defaultSeparator
                || replacement != Self.defaultReplacement
            {
                return Problem(key: nil, message: "\(action) action requires only 'regex', and no other fields")
            }
        }
        return nil
    }
}
