/// A function a program can call: its parameters, what it returns, when it can fail, and how it runs.
struct RemapFunction: Sendable {
    /// One parameter; its kind is what the argument must be at runtime.
    struct Parameter: Sendable {
        var name: String
        var kind: RemapKind
        var required: Bool

        init(_ name: String, _ kind: RemapKind, required: Bool = true) {
            self.name = name
            self.kind = kind
            self.required = required
        }
    }

    /// The arguments as known at load: each one's kind and, for literals, its value.
    struct Arguments {
        var kinds: [RemapKind?]
        var constants: [RemapValue?]

        func constant(_ index: Int) -> RemapValue? { constants[index] }
    }

    /// A constant argument the function refuses (an unknown hash variant, a bad format), reported at load.
    struct ArgumentProblem: Error {
        var index: Int
        var message: String
    }

    /// Runs the function on evaluated arguments (nil for an optional one not given), already of the right kinds.
    typealias Implementation = @Sendable ([RemapValue?]) throws -> RemapValue

    var name: String
    var parameters: [Parameter]
    var returnKind: RemapKind
    /// Whether a call with these argument kinds can fail, beyond its arguments' types.
    var isFallible: @Sendable (Arguments) -> Bool
    /// Builds the implementation once, checking and compiling constant arguments (regexes, formats) at load.
    var compile: @Sendable (Arguments) throws(ArgumentProblem) -> Implementation

    init(
        _ name: String, _ parameters: [Parameter], returns returnKind: RemapKind, fallible: Bool,
        _ implementation: @escaping Implementation
    ) {
        self.name = name
        self.parameters = parameters
        self.returnKind = returnKind
        isFallible = { _ in fallible }
        compile = { _ in implementation }
    }

    init(
        _ name: String, _ parameters: [Parameter], returns returnKind: RemapKind,
        fallible: @escaping @Sendable (Arguments) -> Bool,
        compile: @escaping @Sendable (Arguments) throws(ArgumentProblem) -> Implementation
    ) {
        self.name = name
        self.parameters = parameters
        self.returnKind = returnKind
        isFallible = fallible
        self.compile = compile
    }

    /// Every function a program may call, by name.
    static let all: [String: RemapFunction] = {
        var functions: [String: RemapFunction] = [:]
        for function in RemapFunctions.parsing + RemapFunctions.conversion + RemapFunctions.containers
            + RemapFunctions.strings + RemapFunctions.time + RemapFunctions.system
        {
            functions[function.name] = function
        }
        return functions
    }()
}

/// The function library, one file per family.
enum RemapFunctions {
    static func failure(_ message: String) -> RemapRuntimeError { RemapRuntimeError(message) }
}

extension Array where Element == RemapValue? {
    func string(_ index: Int) throws -> String {
        guard case .string(let value) = self[index] else { throw RemapFunctions.failure("expected string") }
        return value
    }

    func optionalString(_ index: Int) -> String? {
        guard index < count, case .string(let value) = self[index] else { return nil }
        return value
    }

    func integer(_ index: Int) throws -> Int64 {
        guard case .integer(let value) = self[index] else { throw RemapFunctions.failure("expected integer") }
        return value
    }

    func optionalInteger(_ index: Int) -> Int64? {
        guard index < count, case .integer(let value) = self[index] else { return nil }
        return value
    }

    func bool(_ index: Int, default fallback: Bool) -> Bool {
        guard index < count, case .boolean(let value) = self[index] else { return fallback }
        return value
    }

    func object(_ index: Int) throws -> [String: RemapValue] {
        guard case .object(let value) = self[index] else { throw RemapFunctions.failure("expected object") }
        return value
    }

    func array(_ index: Int) throws -> [RemapValue] {
        guard case .array(let value) = self[index] else { throw RemapFunctions.failure("expected array") }
        return value
    }

    func value(_ index: Int) -> RemapValue { self[index] ?? .null }
}
