import PetrelCore

/// Reads a program into expressions. A statement that does not parse is reported and skipped to the next line, so
/// every statement's syntax error is reported at once.
struct RemapParser {
    private var tokens: [RemapLexer.Token]
    private var position = 0
    private(set) var diagnostics: [RemapDiagnostic] = []

    private init(tokens: [RemapLexer.Token]) {
        self.tokens = tokens
    }

    /// The program's statements, or every syntax error in it.
    static func parse(_ source: [UInt8]) -> Result<[RemapNode], RemapCompileError> {
        let tokens: [RemapLexer.Token]
        do {
            tokens = try RemapLexer.tokens(source)
        } catch {
            return .failure(RemapCompileError(diagnostics: [error]))
        }
        var parser = RemapParser(tokens: tokens)
        let statements = parser.program()
        return parser.diagnostics.isEmpty
            ? .success(statements) : .failure(RemapCompileError(diagnostics: parser.diagnostics))
    }

    private var current: RemapLexer.Token { tokens[position] }

    private func peek(_ offset: Int = 1) -> RemapLexer.Token { tokens[min(position + offset, tokens.count - 1)] }

    private mutating func advance() -> RemapLexer.Token {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    private func isSymbol(_ symbol: String) -> Bool { current.kind == .symbol(symbol) }

    /// Whether the current token starts right where the previous one ended (`.a.b`, `f(`).
    private var isAdjacent: Bool { position > 0 && tokens[position - 1].span.end == current.span.start }

    private mutating func skipNewlines() {
        while current.kind == .newline { position += 1 }
    }

    private func unexpected(_ expected: String) -> RemapDiagnostic {
        let found: String
        switch current.kind {
        case .end: found = "end of program"
        case .newline: found = "end of line"
        case .identifier(let name): found = "\"\(name)\""
        case .symbol(let symbol): found = "\"\(symbol)\""
        default: found = "a literal"
        }
        return RemapDiagnostic(
            "E203", "syntax error", at: current.span, hint: "unexpected \(found), expected \(expected)")
    }

    private mutating func expect(_ symbol: String) throws(RemapDiagnostic) -> RemapLexer.Token {
        guard isSymbol(symbol) else { throw unexpected("\"\(symbol)\"") }
        return advance()
    }

    private mutating func program() -> [RemapNode] {
        var statements: [RemapNode] = []
        while true {
            while current.kind == .newline || isSymbol(";") { position += 1 }
            if current.kind == .end { return statements }
            do throws(RemapDiagnostic) {
                statements.append(try statement())
                guard current.kind == .newline || current.kind == .end || isSymbol(";") else {
                    throw unexpected("a new line or \";\" after the expression")
                }
            } catch {
                diagnostics.append(error)
                var depth = 0
                while current.kind != .end {
                    if current.kind == .newline, depth <= 0 { break }
                    if isSymbol("(") || isSymbol("[") || isSymbol("{") { depth += 1 }
                    if isSymbol(")") || isSymbol("]") || isSymbol("}") { depth -= 1 }
                    position += 1
                }
            }
        }
    }

    private mutating func statements(until closing: String) throws(RemapDiagnostic) -> [RemapNode] {
        var statements: [RemapNode] = []
        while true {
            while current.kind == .newline || isSymbol(";") { position += 1 }
            if isSymbol(closing) { return statements }
            if current.kind == .end { throw unexpected("\"\(closing)\"") }
            statements.append(try statement())
            guard current.kind == .newline || isSymbol(";") || isSymbol(closing) else {
                throw unexpected("a new line or \";\" after the expression")
            }
        }
    }

    private mutating func statement() throws(RemapDiagnostic) -> RemapNode {
        let first = try expression()
        if isSymbol("=") || isSymbol("|=") || isSymbol(",") {
            guard case .query(let target) = first.kind else {
                throw RemapDiagnostic(
                    "E203", "syntax error", at: first.span,
                    hint: "only a path (.field, %field) or a variable can be assigned to")
            }
            var errorTarget: RemapQuery?
            if isSymbol(",") {
                _ = advance()
                let second = try expression()
                guard case .query(let query) = second.kind else {
                    throw RemapDiagnostic(
                        "E203", "syntax error", at: second.span, hint: "the error target must be a path or a variable")
                }
                errorTarget = query
                guard isSymbol("=") else { throw unexpected("\"=\"") }
            }
            let merge = advance().kind == .symbol("|=")
            skipNewlines()
            let value = try expression()
            return RemapNode(
                kind: .assign(target: target, error: errorTarget, merge: merge, value: value),
                span: first.span.to(value.span))
        }
        return first
    }

    // MARK: Operators, lowest precedence first

    private static let levels: [[String]] = [
        ["??"], ["||"], ["&&"], ["==", "!="], ["<", "<=", ">", ">="], ["+", "-", "|"], ["*", "/", "%"],
    ]

    private mutating func expression() throws(RemapDiagnostic) -> RemapNode {
        try binary(level: 0)
    }

    private mutating func binary(level: Int) throws(RemapDiagnostic) -> RemapNode {
        guard level < Self.levels.count else { return try unary() }
        var left = try binary(level: level + 1)
        while case .symbol(let symbol) = current.kind, Self.levels[level].contains(symbol) {
            _ = advance()
            skipNewlines()
            let right = try binary(level: level + 1)
            left = RemapNode(kind: .binary(symbol, left, right), span: left.span.to(right.span))
        }
        return left
    }

    private mutating func unary() throws(RemapDiagnostic) -> RemapNode {
        if isSymbol("!") || isSymbol("-") {
            let token = advance()
            let operand = try unary()
            if token.kind == .symbol("-") {
                if case .literal(.integer(let value)) = operand.kind {
                    return RemapNode(kind: .literal(.integer(-value)), span: token.span.to(operand.span))
                }
                if case .literal(.float(let value)) = operand.kind {
                    return RemapNode(kind: .literal(.float(-value)), span: token.span.to(operand.span))
                }
            }
            guard case .symbol(let symbol) = token.kind else { return operand }
            return RemapNode(kind: .unary(symbol, operand), span: token.span.to(operand.span))
        }
        return try postfix()
    }

    private mutating func postfix() throws(RemapDiagnostic) -> RemapNode {
        var node = try primary()
        if case .call = node.kind, isAdjacent, isSymbol(".") || isSymbol("[") {
            let segments = try segments()
            node = RemapNode(
                kind: .element(node, segments), span: RemapSpan(node.span.start, tokens[position - 1].span.end))
        }
        return node
    }

    private mutating func primary() throws(RemapDiagnostic) -> RemapNode {
        let token = current
        switch token.kind {
        case .string(let text), .rawString(let text):
            _ = advance()
            return RemapNode(kind: .literal(.string(text)), span: token.span)
        case .integer(let value):
            _ = advance()
            return RemapNode(kind: .literal(.integer(value)), span: token.span)
        case .float(let value):
            _ = advance()
            return RemapNode(kind: .literal(.float(value)), span: token.span)
        case .timestamp(let text):
            _ = advance()
            guard let value = RemapTime.parseRFC3339(text) else {
                throw RemapDiagnostic(
                    "E203", "syntax error", at: token.span,
                    hint: "invalid timestamp literal: use RFC 3339, e.g. t'2021-02-11T10:32:50Z'")
            }
            return RemapNode(kind: .literal(.timestamp(value)), span: token.span)
        case .regex(let pattern):
            _ = advance()
            do {
                return RemapNode(kind: .literal(.regex(try RE2SearchRegex(pattern))), span: token.span)
            } catch {
                throw RemapDiagnostic(
                    "E203", "syntax error", at: token.span, hint: "invalid regular expression: \(error)")
            }
        case .symbol("["):
            _ = advance()
            var items: [RemapNode] = []
            while true {
                skipNewlines()
                if isSymbol("]") { break }
                items.append(try expression())
                skipNewlines()
                if isSymbol(",") {
                    _ = advance()
                    continue
                }
                guard isSymbol("]") else { throw unexpected("\",\" or \"]\"") }
            }
            let close = advance()
            return RemapNode(kind: .array(items), span: token.span.to(close.span))
        case .symbol("{"):
            return try isObjectLiteral() ? object() : block()
        case .symbol("("):
            _ = advance()
            skipNewlines()
            var inner = try statement()
            skipNewlines()
            let close = try expect(")")
            inner.span = token.span.to(close.span)
            return inner
        case .symbol("."):
            _ = advance()
            let segments = isAdjacent ? try segments(leadingDot: false) : []
            let span = RemapSpan(token.span.start, tokens[position - 1].span.end)
            return RemapNode(kind: .query(RemapQuery(root: .event, segments: segments)), span: span)
        case .symbol("%"):
            _ = advance()
            let segments = isAdjacent ? try segments(leadingDot: false) : []
            let span = RemapSpan(token.span.start, tokens[position - 1].span.end)
            return RemapNode(kind: .query(RemapQuery(root: .metadata, segments: segments)), span: span)
        case .identifier(let name):
            switch name {
            case "true", "false":
                _ = advance()
                return RemapNode(kind: .literal(.boolean(name == "true")), span: token.span)
            case "null":
                _ = advance()
                return RemapNode(kind: .literal(.null), span: token.span)
            case "if": return try ifElse()
            case "abort":
                _ = advance()
                if current.kind == .newline || current.kind == .end || isSymbol(";") || isSymbol("}") {
                    return RemapNode(kind: .abort(nil), span: token.span)
                }
                let message = try expression()
                return RemapNode(kind: .abort(message), span: token.span.to(message.span))
            default:
                _ = advance()
                if isAdjacent, isSymbol("(") || (isSymbol("!") && peek().kind == .symbol("(")) {
                    return try call(name: name, start: token.span)
                }
                let segments = isAdjacent && (isSymbol(".") || isSymbol("[")) ? try segments() : []
                let span = RemapSpan(token.span.start, tokens[position - 1].span.end)
                return RemapNode(kind: .query(RemapQuery(root: .variable(name), segments: segments)), span: span)
            }
        default:
            throw unexpected("an expression")
        }
    }

    /// Path segments right after a root: `a.b`, `"k8s.pod"`, `[0]`; with `leadingDot`, each field starts with `.`.
    private mutating func segments(leadingDot: Bool = true) throws(RemapDiagnostic) -> [RemapSegment] {
        var segments: [RemapSegment] = []
        var first = !leadingDot
        while isAdjacent || first {
            if isSymbol("[") {
                _ = advance()
                var negative = false
                if isSymbol("-") {
                    _ = advance()
                    negative = true
                }
                guard case .integer(let index) = current.kind else { throw unexpected("an array index") }
                _ = advance()
                _ = try expect("]")
                segments.append(.index(Int(negative ? -index : index)))
                first = false
                continue
            }
            if !first {
                guard isSymbol(".") else { break }
                _ = advance()
                guard isAdjacent else { throw unexpected("a field name after \".\"") }
            }
            switch current.kind {
            case .identifier(let name): segments.append(.field(name))
            case .string(let name): segments.append(.field(name))
            case .integer(let number): segments.append(.field(String(number)))
            default:
                if first { return segments }
                throw unexpected("a field name")
            }
            _ = advance()
            first = false
        }
        return segments
    }

    private func isObjectLiteral() -> Bool {
        var offset = 1
        while peek(offset).kind == .newline { offset += 1 }
        if peek(offset).kind == .symbol("}") { return true }
        if case .string = peek(offset).kind, peek(offset + 1).kind == .symbol(":") { return true }
        if case .rawString = peek(offset).kind, peek(offset + 1).kind == .symbol(":") { return true }
        return false
    }

    private mutating func object() throws(RemapDiagnostic) -> RemapNode {
        let open = advance()
        var fields: [(key: String, value: RemapNode)] = []
        while true {
            skipNewlines()
            if isSymbol("}") { break }
            let key: String
            switch current.kind {
            case .string(let text), .rawString(let text): key = text
            default: throw unexpected("a quoted key")
            }
            _ = advance()
            _ = try expect(":")
            skipNewlines()
            fields.append((key, try expression()))
            skipNewlines()
            if isSymbol(",") {
                _ = advance()
                continue
            }
            guard isSymbol("}") else { throw unexpected("\",\" or \"}\"") }
        }
        let close = advance()
        return RemapNode(kind: .object(fields), span: open.span.to(close.span))
    }

    private mutating func block() throws(RemapDiagnostic) -> RemapNode {
        let open = try expect("{")
        let body = try statements(until: "}")
        let close = advance()
        return RemapNode(kind: .block(body), span: open.span.to(close.span))
    }

    private mutating func ifElse() throws(RemapDiagnostic) -> RemapNode {
        let start = advance()
        let condition = try expression()
        let then = try block()
        var end = then.span
        var otherwise: RemapNode?
        var lookahead = 0
        while peek(lookahead).kind == .newline { lookahead += 1 }
        if peek(lookahead).kind == .identifier("else") {
            position += lookahead
            _ = advance()
            if current.kind == .identifier("if") {
                otherwise = try ifElse()
            } else {
                otherwise = try block()
            }
            end = otherwise!.span
        }
        return RemapNode(
            kind: .ifElse(condition: condition, then: then, otherwise: otherwise), span: start.span.to(end))
    }

    private mutating func call(name: String, start: RemapSpan) throws(RemapDiagnostic) -> RemapNode {
        let abortOnError = isSymbol("!")
        if abortOnError { _ = advance() }
        _ = try expect("(")
        var arguments: [RemapArgument] = []
        while true {
            skipNewlines()
            if isSymbol(")") { break }
            var label: String?
            let argumentStart = current.span
            if case .identifier(let name) = current.kind, peek().kind == .symbol(":") {
                label = name
                position += 2
                skipNewlines()
            }
            let value = try expression()
            arguments.append(RemapArgument(label: label, value: value, span: argumentStart.to(value.span)))
            skipNewlines()
            if isSymbol(",") {
                _ = advance()
                continue
            }
            guard isSymbol(")") else { throw unexpected("\",\" or \")\"") }
        }
        let close = advance()
        return RemapNode(
            kind: .call(name: name, abortOnError: abortOnError, arguments: arguments), span: start.to(close.span))
    }
}
