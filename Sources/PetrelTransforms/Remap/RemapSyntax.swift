/// A stretch of a `remap` program, in UTF-8 bytes from its start.
public struct RemapSpan: Sendable, Equatable {
    public var start: Int
    public var end: Int

    public init(_ start: Int, _ end: Int) {
        self.start = start
        self.end = end
    }

    func to(_ other: RemapSpan) -> RemapSpan { RemapSpan(start, max(end, other.end)) }
}

/// One problem found while compiling a program: VRL's error code, where, what and what to do.
public struct RemapDiagnostic: Error, Sendable, Equatable {
    /// VRL's code for the same problem (`E103`), so its documentation applies.
    public var code: String
    public var message: String
    public var span: RemapSpan
    public var hint: String

    public init(_ code: String, _ message: String, at span: RemapSpan, hint: String = "") {
        self.code = code
        self.message = message
        self.span = span
        self.hint = hint
    }
}

/// Every problem found in a program that does not compile.
public struct RemapCompileError: Error, Sendable, Equatable {
    public var diagnostics: [RemapDiagnostic]
}

/// A step into a value: a field of an object or an element of an array (negative from the end).
enum RemapSegment: Sendable, Equatable, CustomStringConvertible {
    case field(String)
    case index(Int)

    var description: String {
        switch self {
        case .field(let name):
            let plain = !name.isEmpty && name.utf8.allSatisfy { RemapLexer.isIdentifier($0) }
            return plain ? ".\(name)" : ".\(RemapJSON.quote(name))"
        case .index(let index): return "[\(index)]"
        }
    }
}

/// A place a program reads or writes: in the event (`.a.b`), its metadata (`%a`) or a variable (`a.b`).
struct RemapQuery: Sendable, Equatable, CustomStringConvertible {
    enum Root: Sendable, Equatable {
        case event
        case metadata
        case variable(String)
    }

    var root: Root
    var segments: [RemapSegment]

    var description: String {
        let path = segments.map(\.description).joined()
        switch root {
        case .event: return path.isEmpty ? "." : path
        case .metadata: return "%" + (path.hasPrefix(".") ? String(path.dropFirst()) : path)
        case .variable(let name): return name + path
        }
    }
}

/// A parsed expression and where it was written.
struct RemapNode {
    indirect enum Kind {
        case literal(RemapValue)
        case array([RemapNode])
        case object([(key: String, value: RemapNode)])
        case query(RemapQuery)
        /// Segments applied to the value of an expression: `parse_json!(.message).level`.
        case element(RemapNode, [RemapSegment])
        case unary(String, RemapNode)
        case binary(String, RemapNode, RemapNode)
        /// `target = value`, `target, error = value`, or `target |= value` (`merge`).
        case assign(target: RemapQuery, error: RemapQuery?, merge: Bool, value: RemapNode)
        case ifElse(condition: RemapNode, then: RemapNode, otherwise: RemapNode?)
        case block([RemapNode])
        case abort(RemapNode?)
        case call(name: String, abortOnError: Bool, arguments: [RemapArgument])
    }

    var kind: Kind
    var span: RemapSpan
}

/// An argument of a function call, positional or `name: value`.
struct RemapArgument {
    var label: String?
    var value: RemapNode
    var span: RemapSpan
}
