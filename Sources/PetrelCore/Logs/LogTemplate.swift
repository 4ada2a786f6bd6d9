/// Text with `{{ … }}` references to a log record, compiled once at configuration load into parts, so that rendering
/// an event never parses: `{{ resource.k8s.namespace.name }}`, `{{ fields.http.status }}` (a dotted path into nested
/// fields), `{{ message }}`, `{{ severity }}`, `{{ metadata.file }}`, with literal text around them.
///
/// A reference to a value the record does not have (or has as an object or array, which has no text form) makes the
/// whole template render nothing, as Vector's templates do: the caller decides what nothing means (a sink leaves the
/// label out). `{{` inside literal text is written `{{ "{{" }}`, which is rare enough to need no shorter form.
public struct LogTemplate: Sendable, Hashable, CustomStringConvertible {
    /// What one `{{ … }}` refers to.
    public enum Reference: Sendable, Hashable, CustomStringConvertible {
        /// A resource attribute by its full key (`k8s.pod.uid`).
        case resource(String)
        /// A field by dotted path (`http.status`).
        case field(String)
        case metadata(String)
        case message
        case severity

        /// The key the reference names (the attribute, the field path), or `message` and `severity`.
        public var key: String {
            switch self {
            case .resource(let key), .field(let key), .metadata(let key): key
            case .message: "message"
            case .severity: "severity"
            }
        }

        public var description: String {
            switch self {
            case .resource(let key): "resource.\(key)"
            case .field(let path): "fields.\(path)"
            case .metadata(let key): "metadata.\(key)"
            case .message: "message"
            case .severity: "severity"
            }
        }
    }

    private enum Part: Sendable, Hashable {
        case literal(String)
        case reference(Reference)
    }

    private let parts: [Part]
    /// The template as written.
    public let description: String

    /// The template in `text`, or why it is not one.
    public static func parse(_ text: String) -> Result<LogTemplate, LogTemplateError> {
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            literal += rest[..<open.lowerBound]
            let inner = rest[open.upperBound...]
            guard let close = inner.firstRange(of: "}}") else {
                return .failure(LogTemplateError("\"{{\" without a closing \"}}\" in \"\(text)\""))
            }
            let expression = inner[..<close.lowerBound].trimmingSpaces
            rest = inner[close.upperBound...]
            if expression == #""{{""# {
                literal += "{{"
                continue
            }
            switch Self.reference(expression) {
            case .success(let reference):
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                parts.append(.reference(reference))
            case .failure(let error):
                return .failure(error)
            }
        }
        literal += rest
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return .success(LogTemplate(parts: parts, description: text))
    }

    private static func reference(_ expression: Substring) -> Result<Reference, LogTemplateError> {
        let expected =
            "expected resource.<attribute>, fields.<path>, metadata.<key>, message or severity inside {{ }}"
        switch expression {
        case "": return .failure(LogTemplateError("empty {{ }}; \(expected)"))
        case "message": return .success(.message)
        case "severity": return .success(.severity)
        default: break
        }
        guard let dot = expression.firstIndex(of: ".") else {
            return .failure(LogTemplateError("unknown reference \"\(expression)\"; \(expected)"))
        }
        let key = String(expression[expression.index(after: dot)...])
        let namespace = expression[..<dot]
        guard !key.isEmpty, !key.contains(where: { $0 == " " || $0 == "{" || $0 == "}" }) else {
            return .failure(LogTemplateError("invalid key \"\(key)\" in {{ \(expression) }}"))
        }
        switch namespace {
        case "resource": return .success(.resource(key))
        case "fields": return .success(.field(key))
        case "metadata": return .success(.metadata(key))
        default: return .failure(LogTemplateError("unknown reference \"\(expression)\"; \(expected)"))
        }
    }

    private init(parts: [Part], description: String) {
        self.parts = parts
        self.description = description
    }

    /// A template of literal text only.
    public init(literal: String) {
        self.parts = literal.isEmpty ? [] : [.literal(literal)]
        self.description = literal
    }

    /// What the template refers to, in order.
    public var references: [Reference] {
        parts.compactMap { if case .reference(let reference) = $0 { reference } else { nil } }
    }

    /// Whether every event renders the same text.
    public var isLiteral: Bool { references.isEmpty }

    /// The text for `record`; nil when a referenced value is missing or has no text form.
    public func render(_ record: LogRecord) -> String? {
        // One reference alone (the usual label) needs no concatenation.
        if parts.count == 1 {
            switch parts[0] {
            case .literal(let text): return text
            case .reference(let reference): return Self.value(of: reference, in: record)
            }
        }
        var text = ""
        for part in parts {
            switch part {
            case .literal(let literal): text += literal
            case .reference(let reference):
                guard let value = Self.value(of: reference, in: record) else { return nil }
                text += value
            }
        }
        return text
    }

    private static func value(of reference: Reference, in record: LogRecord) -> String? {
        switch reference {
        case .resource(let key): record.resource[key]?.text
        case .field(let path): record.field(path: path)?.text
        case .metadata(let key): record.metadata[key]
        case .message: record.message
        case .severity: record.severity.isEmpty ? nil : record.severity
        }
    }
}

/// Why a text is not a log template.
public struct LogTemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

extension ConfigReader {
    /// A log template under `key`; nil when absent or invalid (reported, located on the key).
    public func logTemplate(_ key: String) -> LogTemplate? {
        guard let text = string(key) else { return nil }
        switch LogTemplate.parse(text) {
        case .success(let template): return template
        case .failure(let problem):
            error(key, "invalid template: \(problem.description)")
            return nil
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }
}
