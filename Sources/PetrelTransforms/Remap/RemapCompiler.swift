import PetrelCore

/// Checks a parsed program as VRL does (types, fallibility, undefined names) and turns it into closures.
///
/// Every expression becomes one closure over `RemapState`, built once at load; nothing is parsed per event. What an
/// expression may evaluate to is tracked as a `RemapKind`: literals and assignments make kinds known, event fields
/// are `any` until the program assigns them. An expression that can fail at runtime must be handled (`!`, `??`, or
/// `value, err = ...`); otherwise the program is refused, as VRL refuses it.
struct RemapCompiler {
    /// Why an expression can fail, pointing at its origin so the error names the call or operand to handle.
    struct Fallibility {
        var span: RemapSpan
        var hint: String
        /// An argument whose type is not known to fit (VRL's E110), rather than a function that can fail.
        var isArgumentType = false
    }

    struct Compiled {
        var evaluate: RemapEvaluation
        var kind: RemapKind
        var fallibility: Fallibility?
        /// The value when it is a literal, for functions that compile constant arguments at load.
        var constant: RemapValue?
        var isAssignment = false
    }

    /// What is known at a point of the program: variables defined and the kinds of paths assigned so far.
    private struct TypeState {
        var variables: [String: RemapKind] = [:]
        var paths: [String: RemapKind] = [:]

        /// What is known after one of two branches ran.
        func merged(with other: TypeState) -> TypeState {
            var result = TypeState()
            for (name, kind) in variables { result.variables[name] = kind.union(other.variables[name] ?? .null) }
            for (name, kind) in other.variables where variables[name] == nil {
                result.variables[name] = kind.union(.null)
            }
            for (path, kind) in paths {
                if let otherKind = other.paths[path] { result.paths[path] = kind.union(otherKind) }
            }
            return result
        }
    }

    private let source: [UInt8]
    private var diagnostics: [RemapDiagnostic] = []
    private var state = TypeState()
    private var slots: [String: Int] = [:]
    private var usesMetadata = false

    private init(source: [UInt8]) {
        self.source = source
    }

    /// Compiles `statements` of `source`; the evaluation returns the last statement's value.
    static func compile(_ statements: [RemapNode], source: [UInt8])
        -> Result<(evaluation: RemapEvaluation, variables: Int, usesMetadata: Bool), RemapCompileError>
    {
        var compiler = RemapCompiler(source: source)
        let body = statements.map { compiler.statement($0) }
        guard compiler.diagnostics.isEmpty else {
            return .failure(RemapCompileError(diagnostics: compiler.diagnostics))
        }
        let evaluations = body.map(\.evaluate)
        let evaluation: RemapEvaluation = { state in
            var result = RemapValue.null
            for evaluate in evaluations { result = try evaluate(&state) }
            return result
        }
        return .success((evaluation, compiler.slots.count, compiler.usesMetadata))
    }

    /// `line:column` of a place, for runtime error messages.
    private func location(_ span: RemapSpan) -> String {
        var line = 1
        var column = 1
        for byte in source[0..<min(span.start, source.count)] {
            if byte == 10 {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return "\(line):\(column)"
    }

    private func text(_ span: RemapSpan) -> String {
        String(decoding: source[min(span.start, source.count)..<min(span.end, source.count)], as: UTF8.self)
    }

    private mutating func error(_ code: String, _ message: String, _ span: RemapSpan, hint: String = "") {
        diagnostics.append(RemapDiagnostic(code, message, at: span, hint: hint))
    }

    /// An expression whose value is not assigned: it must not fail unhandled (VRL's E100).
    private mutating func statement(_ node: RemapNode) -> Compiled {
        let compiled = expression(node)
        if !compiled.isAssignment, let fallibility = compiled.fallibility {
            report(fallibility, code: "E100", message: "unhandled error")
        }
        return compiled
    }

    private mutating func report(_ fallibility: Fallibility, code: String, message: String) {
        if fallibility.isArgumentType {
            error("E110", "invalid argument type", fallibility.span, hint: fallibility.hint)
        } else {
            error(code, message, fallibility.span, hint: fallibility.hint)
        }
    }

    private func constant(_ value: RemapValue) -> Compiled {
        Compiled(evaluate: { _ in value }, kind: value.kind, fallibility: nil, constant: value)
    }

    private mutating func expression(_ node: RemapNode) -> Compiled {
        switch node.kind {
        case .literal(let value):
            return constant(value)
        case .array(let items):
            let compiled = items.map { expression($0) }
            if compiled.allSatisfy({ $0.constant != nil }) { return constant(.array(compiled.map { $0.constant! })) }
            let evaluations = compiled.map(\.evaluate)
            return Compiled(
                evaluate: { state in .array(try evaluations.map { try $0(&state) }) }, kind: .array,
                fallibility: compiled.lazy.compactMap(\.fallibility).first)
        case .object(let fields):
            let compiled = fields.map { (key: $0.key, value: expression($0.value)) }
            if compiled.allSatisfy({ $0.value.constant != nil }) {
                return constant(
                    .object(Dictionary(compiled.map { ($0.key, $0.value.constant!) }, uniquingKeysWith: { $1 })))
            }
            let evaluations = compiled.map { (key: $0.key, evaluate: $0.value.evaluate) }
            return Compiled(
                evaluate: { state in
                    var object: [String: RemapValue] = [:]
                    object.reserveCapacity(evaluations.count)
                    for field in evaluations { object[field.key] = try field.evaluate(&state) }
                    return .object(object)
                }, kind: .object, fallibility: compiled.lazy.compactMap(\.value.fallibility).first)
        case .query(let query):
            return read(query, node.span)
        case .element(let base, let segments):
            let compiled = expression(base)
            let evaluate = compiled.evaluate
            return Compiled(
                evaluate: { state in try evaluate(&state).get(segments[...]) }, kind: .any,
                fallibility: compiled.fallibility)
        case .unary(let symbol, let operand):
            return unary(symbol, operand, node.span)
        case .binary(let symbol, let left, let right):
            return binary(symbol, left, right, node.span)
        case .assign(let target, let errorTarget, let merge, let value):
            return assign(target, errorTarget, merge: merge, value, node.span)
        case .ifElse(let condition, let then, let otherwise):
            return ifElse(condition, then, otherwise)
        case .block(let statements):
            let compiled = statements.map { statement($0) }
            let evaluations = compiled.map(\.evaluate)
            return Compiled(
                evaluate: { state in
                    var result = RemapValue.null
                    for evaluate in evaluations { result = try evaluate(&state) }
                    return result
                }, kind: compiled.last?.kind ?? .null, fallibility: nil)
        case .abort(let message):
            var evaluateMessage: RemapEvaluation?
            if let message {
                let compiled = expression(message)
                if let fallibility = compiled.fallibility {
                    report(fallibility, code: "E630", message: "fallible abort message expression")
                }
                if !compiled.kind.isSubset(of: .string) {
                    error(
                        "E110", "invalid argument type", message.span,
                        hint: "the abort message resolves to \(compiled.kind) but must be a string")
                }
                evaluateMessage = compiled.evaluate
            }
            let place = location(node.span)
            let message = evaluateMessage
            return Compiled(
                evaluate: { state in
                    let text = try message?(&state).text ?? "aborted"
                    throw RemapRuntimeError("\(text) at (\(place))", isAbort: true, isHandleable: false)
                }, kind: .null, fallibility: nil)
        case .call(let name, let abortOnError, let arguments):
            return call(name, abortOnError: abortOnError, arguments, node.span)
        }
    }

    // MARK: Paths and variables

    private mutating func read(_ query: RemapQuery, _ span: RemapSpan) -> Compiled {
        let segments = query.segments
        switch query.root {
        case .event:
            let kind: RemapKind = segments.isEmpty ? .object : state.paths[query.description] ?? .any
            if segments.isEmpty { return Compiled(evaluate: { state in state.event }, kind: kind) }
            if segments.count == 1, case .field(let name) = segments[0] {
                return Compiled(
                    evaluate: { state in
                        guard case .object(let fields) = state.event else { return .null }
                        return fields[name] ?? .null
                    }, kind: kind)
            }
            return Compiled(evaluate: { state in state.event.get(segments[...]) }, kind: kind)
        case .metadata:
            usesMetadata = true
            let kind: RemapKind = segments.isEmpty ? .object : state.paths[query.description] ?? .any
            return Compiled(evaluate: { state in state.metadata.get(segments[...]) }, kind: kind)
        case .variable(let name):
            guard let kind = state.variables[name], let slot = slots[name] else {
                var hint = "assign the variable before using it"
                if let suggestion = EditDistance.closest(to: name, among: state.variables.keys) {
                    hint += "; did you mean \"\(suggestion)\"?"
                }
                error("E701", "call to undefined variable", span, hint: hint)
                return constant(.null)
            }
            let known = segments.isEmpty ? kind : (state.paths[query.description] ?? .any)
            if segments.isEmpty { return Compiled(evaluate: { state in state.variables[slot] }, kind: known) }
            return Compiled(evaluate: { state in state.variables[slot].get(segments[...]) }, kind: known)
        }
    }

    /// Forgets what was known about `query` and below it, then records its new kind.
    private mutating func record(_ query: RemapQuery, kind: RemapKind?) {
        let path = query.description
        let rootPrefix: String
        switch query.root {
        case .event: rootPrefix = "."
        case .metadata: rootPrefix = "%"
        case .variable(let name): rootPrefix = name
        }
        state.paths = state.paths.filter { key, _ in
            guard key.hasPrefix(rootPrefix) else { return true }
            if query.segments.isEmpty { return false }
            return !(key == path || key.hasPrefix(path + ".") || key.hasPrefix(path + "[") || path.hasPrefix(key))
        }
        if case .variable(let name) = query.root {
            if slots[name] == nil { slots[name] = slots.count }
            if query.segments.isEmpty {
                state.variables[name] = kind ?? .any
            } else {
                state.variables[name] = (state.variables[name] ?? .null).union(.object).union(.array)
            }
        }
        if let kind, !query.segments.isEmpty { state.paths[path] = kind }
    }

    /// A closure storing a value at `query`.
    private mutating func writer(_ query: RemapQuery) -> @Sendable (inout RemapState, RemapValue) -> Void {
        let segments = query.segments
        if query.root == .metadata { usesMetadata = true }
        switch query.root {
        case .event:
            if segments.count == 1, case .field(let name) = segments[0] {
                return { state, value in
                    guard case .object(var fields) = state.event else {
                        state.event = .object([name: value])
                        return
                    }
                    state.event = .null
                    fields[name] = value
                    state.event = .object(fields)
                }
            }
            return { state, value in state.event.set(segments[...], value) }
        case .metadata:
            return { state, value in state.metadata.set(segments[...], value) }
        case .variable(let name):
            let slot = slots[name] ?? 0
            return { state, value in state.variables[slot].set(segments[...], value) }
        }
    }

    private mutating func assign(
        _ target: RemapQuery, _ errorTarget: RemapQuery?, merge: Bool, _ valueNode: RemapNode, _ span: RemapSpan
    ) -> Compiled {
        var value = expression(valueNode)
        if merge, target.root == .event, target.segments.isEmpty {
            value = mergeIntoEvent(value, span)
        } else if merge {
            let current = read(target, span)
            value = mergeObjects(current, value, span)
        }
        if target.segments.isEmpty, target.root == .event || target.root == .metadata, !value.kind.intersects(.object) {
            error(
                "E110", "invalid argument type", valueNode.span,
                hint: "\(target) can only be set to an object, but this expression resolves to \(value.kind)")
        }
        if let errorTarget {
            guard value.fallibility != nil else {
                error(
                    "E104", "unnecessary error assignment", span,
                    hint: "this expression cannot fail: assign it without \", \(errorTarget)\"")
                return value
            }
            record(target, kind: value.kind.union(Self.defaultValue(value.kind).kind))
            record(errorTarget, kind: [.string, .null])
            let write = writer(target)
            let writeError = writer(errorTarget)
            let evaluate = value.evaluate
            let fallback = Self.defaultValue(value.kind)
            return Compiled(
                evaluate: { state in
                    do {
                        let result = try evaluate(&state)
                        write(&state, result)
                        writeError(&state, .null)
                        return result
                    } catch let failure as RemapRuntimeError where failure.isHandleable {
                        write(&state, fallback)
                        writeError(&state, .string(failure.message))
                        return fallback
                    }
                }, kind: value.kind, fallibility: nil, isAssignment: true)
        }
        if let fallibility = value.fallibility {
            report(fallibility, code: "E103", message: "unhandled fallible assignment")
        }
        record(target, kind: value.kind)
        let write = writer(target)
        let evaluate = value.evaluate
        return Compiled(
            evaluate: { state in
                let result = try evaluate(&state)
                write(&state, result)
                return result
            }, kind: value.kind, fallibility: nil, isAssignment: true)
    }

    /// The value an error assignment stores when the expression fails: the empty value of its type, as in VRL.
    static func defaultValue(_ kind: RemapKind) -> RemapValue {
        switch kind {
        case .string: .string("")
        case .integer: .integer(0)
        case .float: .float(0)
        case .boolean: .boolean(false)
        case .object: .object([:])
        case .array: .array([])
        default: .null
        }
    }

    // MARK: Control flow

    private mutating func ifElse(_ conditionNode: RemapNode, _ then: RemapNode, _ otherwise: RemapNode?) -> Compiled {
        let condition = expression(conditionNode)
        if let fallibility = condition.fallibility {
            report(fallibility, code: "E100", message: "unhandled error")
        } else if !condition.kind.isSubset(of: .boolean) {
            error(
                "E102", "non-boolean predicate", conditionNode.span,
                hint:
                    "this predicate resolves to \(condition.kind), not a boolean; compare it (== ...) or test it with exists(...) or is_null(...)"
            )
        }
        let before = state
        let thenCompiled = expression(then)
        let afterThen = state
        state = before
        let otherwiseCompiled = otherwise.map { expression($0) }
        state = afterThen.merged(with: state)
        let test = condition.evaluate
        let thenEvaluate = thenCompiled.evaluate
        let otherwiseEvaluate = otherwiseCompiled?.evaluate
        return Compiled(
            evaluate: { state in
                if case .boolean(true) = try test(&state) { return try thenEvaluate(&state) }
                return try otherwiseEvaluate?(&state) ?? .null
            }, kind: thenCompiled.kind.union(otherwiseCompiled?.kind ?? .null), fallibility: nil)
    }

    // MARK: Operators

    private mutating func unary(_ symbol: String, _ operandNode: RemapNode, _ span: RemapSpan) -> Compiled {
        let operand = expression(operandNode)
        let evaluate = operand.evaluate
        let place = location(span)
        if symbol == "!" {
            if !operand.kind.contains(.boolean) {
                error(
                    "E660", "non-boolean negation", operandNode.span,
                    hint: "this expression resolves to \(operand.kind), not a boolean")
            }
            let fallibility =
                operand.fallibility
                ?? (operand.kind.isSubset(of: .boolean)
                    ? nil
                    : Fallibility(
                        span: operandNode.span,
                        hint: "this expression resolves to \(operand.kind), but ! needs a boolean"))
            return Compiled(
                evaluate: { state in
                    guard case .boolean(let value) = try evaluate(&state) else {
                        throw RemapRuntimeError("negation of a non-boolean at (\(place))")
                    }
                    return .boolean(!value)
                }, kind: .boolean, fallibility: fallibility)
        }
        let fallibility =
            operand.fallibility
            ?? (operand.kind.isSubset(of: .number)
                ? nil
                : Fallibility(
                    span: operandNode.span, hint: "this expression resolves to \(operand.kind), but - needs a number"))
        return Compiled(
            evaluate: { state in
                switch try evaluate(&state) {
                case .integer(let value): return .integer(0 &- value)
                case .float(let value): return .float(-value)
                default: throw RemapRuntimeError("can't negate a non-number at (\(place))")
                }
            }, kind: operand.kind.intersection(.number), fallibility: fallibility)
    }

    private mutating func mergeObjects(_ left: Compiled, _ right: Compiled, _ span: RemapSpan) -> Compiled {
        let leftEvaluate = left.evaluate
        let rightEvaluate = right.evaluate
        let known = left.kind.isSubset(of: .object) && right.kind.isSubset(of: .object)
        let place = location(span)
        return Compiled(
            evaluate: { state in
                guard case .object(var fields) = try leftEvaluate(&state),
                    case .object(let other) = try rightEvaluate(&state)
                else { throw RemapRuntimeError("can't merge non-objects at (\(place))") }
                fields.merge(other) { $1 }
                return .object(fields)
            }, kind: .object,
            fallibility: left.fallibility ?? right.fallibility
                ?? (known
                    ? nil : Fallibility(span: span, hint: "both sides of a merge must be objects; this may not be one"))
        )
    }

    /// `. |= value`: the value's fields merged into the event where it is, rather than into a copy of it.
    ///
    /// As in VRL, the value is evaluated first and then merged into the event as it is at that point.
    private mutating func mergeIntoEvent(_ right: Compiled, _ span: RemapSpan) -> Compiled {
        let rightEvaluate = right.evaluate
        let place = location(span)
        return Compiled(
            evaluate: { state in
                guard case .object(var other) = try rightEvaluate(&state), case .object(var fields) = state.event
                else { throw RemapRuntimeError("can't merge non-objects at (\(place))") }
                state.event = .null
                if other.count > fields.count {
                    // A parsed body is usually larger than the event it goes into: the event's fields go into it
                    // instead (where it has no field of the same name), so that fewer keys are hashed.
                    other.merge(fields) { current, _ in current }
                    fields = other
                } else {
                    fields.merge(other) { $1 }
                }
                state.event = .object(fields)
                return state.event
            }, kind: .object,
            fallibility: right.fallibility
                ?? (right.kind.isSubset(of: .object)
                    ? nil : Fallibility(span: span, hint: "both sides of a merge must be objects; this may not be one"))
        )
    }

    private mutating func binary(_ symbol: String, _ leftNode: RemapNode, _ rightNode: RemapNode, _ span: RemapSpan)
        -> Compiled
    {
        if symbol == "??" {
            let left = expression(leftNode)
            let right = expression(rightNode)
            if left.fallibility == nil {
                error(
                    "E651", "unnecessary error coalescing operation", leftNode.span,
                    hint: "this expression cannot fail, so the right side of ?? is never used")
            }
            let leftEvaluate = left.evaluate
            let rightEvaluate = right.evaluate
            return Compiled(
                evaluate: { state in
                    do {
                        return try leftEvaluate(&state)
                    } catch let failure as RemapRuntimeError where failure.isHandleable {
                        return try rightEvaluate(&state)
                    }
                }, kind: left.kind.union(right.kind), fallibility: right.fallibility)
        }
        let left = expression(leftNode)
        let right = expression(rightNode)
        let leftEvaluate = left.evaluate
        let rightEvaluate = right.evaluate
        let inherited = left.fallibility ?? right.fallibility
        let place = location(span)
        switch symbol {
        case "==", "!=":
            let equal = symbol == "=="
            return Compiled(
                evaluate: { state in .boolean((try leftEvaluate(&state) == rightEvaluate(&state)) == equal) },
                kind: .boolean, fallibility: inherited)
        case "||":
            return Compiled(
                evaluate: { state in
                    let value = try leftEvaluate(&state)
                    switch value {
                    case .null, .boolean(false): return try rightEvaluate(&state)
                    default: return value
                    }
                }, kind: left.kind.subtracting([.null]).union(right.kind), fallibility: inherited)
        case "&&":
            let known = left.kind.isSubset(of: [.boolean, .null]) && right.kind.isSubset(of: [.boolean, .null])
            return Compiled(
                evaluate: { state in
                    switch try leftEvaluate(&state) {
                    case .null, .boolean(false): return .boolean(false)
                    case .boolean(true):
                        switch try rightEvaluate(&state) {
                        case .null: return .boolean(false)
                        case .boolean(let value): return .boolean(value)
                        default: throw RemapRuntimeError("can't apply && to a non-boolean at (\(place))")
                        }
                    default: throw RemapRuntimeError("can't apply && to a non-boolean at (\(place))")
                    }
                }, kind: .boolean,
                fallibility: inherited
                    ?? (known ? nil : Fallibility(span: span, hint: "&& needs booleans; a side may not be one")))
        case "|":
            return mergeObjects(left, right, span)
        default:
            return arithmetic(symbol, left, right, span)
        }
    }

    private mutating func arithmetic(_ symbol: String, _ left: Compiled, _ right: Compiled, _ span: RemapSpan)
        -> Compiled
    {
        let leftEvaluate = left.evaluate
        let rightEvaluate = right.evaluate
        let place = location(span)
        let kinds = (left.kind, right.kind)
        var resultKind: RemapKind
        var known: Bool
        switch symbol {
        case "+":
            let numeric = kinds.0.isSubset(of: .number) && kinds.1.isSubset(of: .number)
            let strings = kinds.0.isSubset(of: .string) && kinds.1.isSubset(of: .string)
            known = numeric || strings
            resultKind = strings ? .string : numeric ? Self.numericKind(kinds.0, kinds.1) : [.string, .integer, .float]
        case "-", "*", "%":
            known = kinds.0.isSubset(of: .number) && kinds.1.isSubset(of: .number)
            resultKind = known ? Self.numericKind(kinds.0, kinds.1) : .number
            if symbol == "%" {
                if case .integer(let divisor)? = right.constant, divisor != 0 {} else { known = false }
            }
        case "/":
            known = kinds.0.isSubset(of: .number) && kinds.1.isSubset(of: .number)
            resultKind = .float
            switch right.constant {
            case .integer(let divisor)? where divisor != 0: break
            case .float(let divisor)? where divisor != 0: break
            default: known = false
            }
        default:
            let comparable =
                (kinds.0.isSubset(of: .number) && kinds.1.isSubset(of: .number))
                || (kinds.0.isSubset(of: .string) && kinds.1.isSubset(of: .string))
                || (kinds.0.isSubset(of: .timestamp) && kinds.1.isSubset(of: .timestamp))
            known = comparable
            resultKind = .boolean
        }
        let fallibility =
            left.fallibility ?? right.fallibility
            ?? (known
                ? nil
                : Fallibility(
                    span: span,
                    hint:
                        "\(symbol) may fail: the operands resolve to \(kinds.0) and \(kinds.1); ensure their types first, e.g. to_int!(...) or string!(...)"
                ))
        let operation = Self.operation(symbol)
        return Compiled(
            evaluate: { state in
                let a = try leftEvaluate(&state)
                let b = try rightEvaluate(&state)
                guard let result = operation(a, b) else {
                    throw RemapRuntimeError("can't apply \(symbol) to \(a.kind) and \(b.kind) at (\(place))")
                }
                return result
            }, kind: resultKind, fallibility: fallibility)
    }

    private static func numericKind(_ a: RemapKind, _ b: RemapKind) -> RemapKind {
        a == .integer && b == .integer ? .integer : (a.contains(.float) || b.contains(.float) ? .number : .integer)
    }

    /// The operation on two values, or nil when it does not apply to them.
    private static func operation(_ symbol: String) -> @Sendable (RemapValue, RemapValue) -> RemapValue? {
        func numbers(
            _ integer: @escaping @Sendable (Int64, Int64) -> Int64?,
            _ float: @escaping @Sendable (Double, Double) -> Double?
        ) -> @Sendable (RemapValue, RemapValue) -> RemapValue? {
            { a, b in
                switch (a, b) {
                case (.integer(let x), .integer(let y)): integer(x, y).map(RemapValue.integer)
                case (.integer(let x), .float(let y)): float(Double(x), y).map(RemapValue.float)
                case (.float(let x), .integer(let y)): float(x, Double(y)).map(RemapValue.float)
                case (.float(let x), .float(let y)): float(x, y).map(RemapValue.float)
                default: nil
                }
            }
        }
        func compare(_ test: @escaping @Sendable (Int) -> Bool) -> @Sendable (RemapValue, RemapValue) -> RemapValue? {
            { a, b in
                let order: Int
                switch (a, b) {
                case (.integer(let x), .integer(let y)): order = x < y ? -1 : x > y ? 1 : 0
                case (.integer(let x), .float(let y)): order = Double(x) < y ? -1 : Double(x) > y ? 1 : 0
                case (.float(let x), .integer(let y)): order = x < Double(y) ? -1 : x > Double(y) ? 1 : 0
                case (.float(let x), .float(let y)): order = x < y ? -1 : x > y ? 1 : 0
                case (.string(let x), .string(let y)): order = x < y ? -1 : x > y ? 1 : 0
                case (.timestamp(let x), .timestamp(let y)): order = x < y ? -1 : x > y ? 1 : 0
                default: return nil
                }
                return .boolean(test(order))
            }
        }
        switch symbol {
        case "+":
            let add = numbers(
                { x, y in
                    let (r, o) = x.addingReportingOverflow(y)
                    return o ? nil : r
                }, { $0 + $1 })
            return { a, b in
                if case .string(let x) = a, case .string(let y) = b { return .string(x + y) }
                return add(a, b)
            }
        case "-":
            return numbers(
                { x, y in
                    let (r, o) = x.subtractingReportingOverflow(y)
                    return o ? nil : r
                }, { $0 - $1 })
        case "*":
            let multiply = numbers(
                { x, y in
                    let (r, o) = x.multipliedReportingOverflow(by: y)
                    return o ? nil : r
                }, { $0 * $1 })
            return { a, b in
                if case .string(let x) = a, case .integer(let y) = b, y >= 0 {
                    return .string(String(repeating: x, count: Int(y)))
                }
                return multiply(a, b)
            }
        case "/":
            return { a, b in
                let x: Double
                let y: Double
                switch a {
                case .integer(let value): x = Double(value)
                case .float(let value): x = value
                default: return nil
                }
                switch b {
                case .integer(let value): y = Double(value)
                case .float(let value): y = value
                default: return nil
                }
                return y == 0 ? nil : .float(x / y)
            }
        case "%":
            return numbers(
                { x, y in y == 0 ? nil : x % y }, { x, y in y == 0 ? nil : x.truncatingRemainder(dividingBy: y) })
        case "<": return compare { $0 < 0 }
        case "<=": return compare { $0 <= 0 }
        case ">": return compare { $0 > 0 }
        default: return compare { $0 >= 0 }
        }
    }

    // MARK: Function calls

    private mutating func call(_ name: String, abortOnError: Bool, _ arguments: [RemapArgument], _ span: RemapSpan)
        -> Compiled
    {
        if name == "exists" || name == "del" { return pathCall(name, abortOnError: abortOnError, arguments, span) }
        guard let function = RemapFunction.all[name] else {
            var hint = "no function \"\(name)\" in remap's library"
            if let suggestion = EditDistance.closest(to: name, among: RemapFunction.all.keys) {
                hint += "; did you mean \"\(suggestion)\"?"
            }
            error("E105", "call to undefined function", RemapSpan(span.start, span.start + name.utf8.count), hint: hint)
            for argument in arguments { _ = expression(argument.value) }
            return constant(.null)
        }
        guard let bound = bind(function, arguments, span) else { return constant(.null) }
        let compiled = bound.map { $0.map { expression($0.value) } }
        var fallibility: Fallibility? = compiled.lazy.compactMap { $0?.fallibility }.first
        var checks: [(index: Int, kind: RemapKind)] = []
        var failed = false
        for (index, parameter) in function.parameters.enumerated() {
            guard let argument = compiled[index], let node = bound[index] else { continue }
            if !argument.kind.intersects(parameter.kind) {
                error(
                    "E110", "invalid argument type", node.value.span,
                    hint:
                        "this expression resolves to \(argument.kind) but the parameter \"\(parameter.name)\" of \(name) expects \(parameter.kind)"
                )
                failed = true
            } else if !argument.kind.isSubset(of: parameter.kind) {
                checks.append((index, parameter.kind))
                if fallibility == nil {
                    fallibility = Fallibility(
                        span: node.value.span,
                        hint:
                            "this expression resolves to \(argument.kind) but the parameter \"\(parameter.name)\" of \(name) expects \(parameter.kind); handle the error with \(name)!(...), ?? or an error assignment, or ensure the type first (e.g. \(Self.assertion(parameter.kind))!(...))",
                        isArgumentType: true)
                }
            }
        }
        let known = RemapFunction.Arguments(kinds: compiled.map { $0?.kind }, constants: compiled.map { $0?.constant })
        let implementation: RemapFunction.Implementation
        do {
            implementation = try function.compile(known)
        } catch {
            let node = bound[error.index]
            self.error("E110", "invalid argument", node?.value.span ?? span, hint: error.message)
            return constant(.null)
        }
        if failed { return constant(.null) }
        let functionFails = function.isFallible(known)
        if functionFails, fallibility?.isArgumentType ?? true {
            fallibility = Fallibility(
                span: span,
                hint:
                    "\(name) can fail: handle its error with \(name)!(...), with ?? default, or with value, err = \(name)(...)"
            )
        }
        if abortOnError {
            if fallibility == nil {
                error("E620", "can't abort infallible function", span, hint: "\(name) cannot fail here: remove the !")
            }
            fallibility = nil
        }
        let evaluations = compiled.map { $0?.evaluate }
        let place = location(span)
        let checkList = checks
        let evaluate: RemapEvaluation = { state in
            var values: [RemapValue?] = []
            values.reserveCapacity(evaluations.count)
            for evaluation in evaluations { values.append(try evaluation?(&state)) }
            do {
                for check in checkList {
                    let kind = values[check.index]?.kind ?? .null
                    if !kind.isSubset(of: check.kind) {
                        throw RemapRuntimeError("expected \(check.kind), got \(kind)")
                    }
                }
                return try implementation(values)
            } catch let failure as RemapRuntimeError where failure.isHandleable {
                throw RemapRuntimeError(
                    "function call error for \"\(name)\" at (\(place)): \(failure.message)", isHandleable: !abortOnError
                )
            }
        }
        return Compiled(evaluate: evaluate, kind: function.returnKind, fallibility: fallibility)
    }

    private static func assertion(_ kind: RemapKind) -> String {
        switch kind {
        case .string: "string"
        case .integer: "int"
        case .float: "float"
        case .boolean: "bool"
        case .object: "object"
        case .array: "array"
        case .timestamp: "timestamp"
        default: "string"
        }
    }

    /// Matches arguments to parameters: positional first, then by name; nil after reporting a mismatch.
    private mutating func bind(_ function: RemapFunction, _ arguments: [RemapArgument], _ span: RemapSpan)
        -> [RemapArgument?]?
    {
        var bound = [RemapArgument?](repeating: nil, count: function.parameters.count)
        var ok = true
        var position = 0
        for argument in arguments {
            if let label = argument.label {
                guard let index = function.parameters.firstIndex(where: { $0.name == label }) else {
                    let names = function.parameters.map(\.name).joined(separator: ", ")
                    error(
                        "E108", "unknown function argument keyword", argument.span,
                        hint: "\(function.name) takes \(names)")
                    ok = false
                    continue
                }
                bound[index] = argument
            } else {
                guard position < function.parameters.count else {
                    error(
                        "E106", "function argument arity mismatch", argument.span,
                        hint: "\(function.name) takes at most \(function.parameters.count) argument(s)")
                    ok = false
                    continue
                }
                bound[position] = argument
                position += 1
            }
        }
        for (index, parameter) in function.parameters.enumerated() where parameter.required && bound[index] == nil {
            error(
                "E107", "required argument missing", span,
                hint: "\(function.name) needs the argument \"\(parameter.name)\"")
            ok = false
        }
        return ok ? bound : nil
    }

    /// `exists(path)` and `del(path)`, which take a place rather than a value.
    private mutating func pathCall(_ name: String, abortOnError: Bool, _ arguments: [RemapArgument], _ span: RemapSpan)
        -> Compiled
    {
        guard let first = arguments.first, case .query(let query) = first.value.kind,
            first.label == nil || first.label == "field" || first.label == "path" || first.label == "target"
        else {
            error(
                "E110", "invalid argument type", arguments.first?.span ?? span,
                hint: "\(name) takes a path such as .field or %field")
            return constant(.null)
        }
        if abortOnError {
            error("E620", "can't abort infallible function", span, hint: "\(name) cannot fail: remove the !")
        }
        let segments = query.segments
        if query.root == .metadata { usesMetadata = true }
        if name == "exists" {
            if arguments.count > 1 {
                error("E106", "function argument arity mismatch", arguments[1].span, hint: "exists takes one path")
            }
            if case .variable = query.root { _ = read(query, first.value.span) }
            let slot: Int? = if case .variable(let variable) = query.root { slots[variable] } else { nil }
            return Compiled(
                evaluate: { state in
                    switch query.root {
                    case .event: .boolean(state.event.exists(segments[...]))
                    case .metadata: .boolean(state.metadata.exists(segments[...]))
                    case .variable: .boolean(slot.map { state.variables[$0].exists(segments[...]) } ?? false)
                    }
                }, kind: .boolean)
        }
        var compact = false
        for argument in arguments.dropFirst() {
            guard argument.label == "compact" || arguments.count == 2,
                case .literal(.boolean(let value)) = argument.value.kind
            else {
                error(
                    "E108", "unknown function argument keyword", argument.span,
                    hint: "del takes a path and compact: true or false")
                continue
            }
            compact = value
        }
        let kind = state.paths[query.description] ?? .any
        if case .variable(let variable) = query.root, slots[variable] == nil {
            error(
                "E701", "call to undefined variable", first.value.span,
                hint: "assign the variable before deleting from it")
            return constant(.null)
        }
        record(query, kind: nil)
        if !segments.isEmpty { state.paths[query.description] = .null }
        let removeCompact = compact
        let slot: Int? = if case .variable(let variable) = query.root { slots[variable] } else { nil }
        return Compiled(
            evaluate: { state in
                if segments.isEmpty {
                    switch query.root {
                    case .event:
                        defer { state.event = .object([:]) }
                        return state.event
                    case .metadata:
                        defer { state.metadata = .object([:]) }
                        return state.metadata
                    case .variable:
                        guard let slot else { return .null }
                        defer { state.variables[slot] = .null }
                        return state.variables[slot]
                    }
                }
                switch query.root {
                case .event: return state.event.remove(segments[...], compact: removeCompact) ?? .null
                case .metadata: return state.metadata.remove(segments[...], compact: removeCompact) ?? .null
                case .variable:
                    guard let slot else { return .null }
                    return state.variables[slot].remove(segments[...], compact: removeCompact) ?? .null
                }
            }, kind: kind)
    }
}
