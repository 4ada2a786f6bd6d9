import PetrelCore

/// A `remap` program compiled once at load: parsed, checked and turned into closures.
public struct RemapProgram: Sendable {
    public let source: String
    private let evaluation: RemapEvaluation
    private let variableCount: Int
    /// Whether the program reads or writes `%`, so that metadata is converted only for programs that use it.
    let usesMetadata: Bool

    /// Compiles `source`, or returns every problem found in it.
    public static func compile(_ source: String) -> Result<RemapProgram, RemapCompileError> {
        let bytes = Array(source.utf8)
        switch RemapParser.parse(bytes) {
        case .failure(let diagnostics): return .failure(diagnostics)
        case .success(let statements):
            switch RemapCompiler.compile(statements, source: bytes) {
            case .failure(let diagnostics): return .failure(diagnostics)
            case .success(let compiled):
                return .success(
                    RemapProgram(
                        source: source, evaluation: compiled.evaluation, variableCount: compiled.variables,
                        usesMetadata: compiled.usesMetadata))
            }
        }
    }

    /// Runs the program on `state`, returning the value of its last expression.
    public func run(_ state: inout RemapState) throws(RemapRuntimeError) -> RemapValue {
        if state.variables.count != variableCount {
            state.variables = [RemapValue](repeating: .null, count: variableCount)
        }
        do {
            return try evaluation(&state)
        } catch let error as RemapRuntimeError {
            throw error
        } catch {
            throw RemapRuntimeError("\(error)")
        }
    }
}

extension RemapDiagnostic {
    /// The 1-based line and column (in characters) where the problem starts in `source`.
    public func position(in source: String) -> (line: Int, column: Int) {
        let bytes = Array(source.utf8)
        var line = 1
        var lineStart = 0
        for index in 0..<min(span.start, bytes.count) where bytes[index] == 10 {
            line += 1
            lineStart = index + 1
        }
        let column = String(decoding: bytes[lineStart..<min(span.start, bytes.count)], as: UTF8.self).count + 1
        return (line, column)
    }

    /// The error as VRL shows it: code and message, the program's line, a caret under the problem, and the hint.
    /// The line is numbered as in its file when the program starts on `firstLine` of it.
    public func rendered(in source: String, firstLine: Int = 1) -> String {
        let (line, column) = position(in: source)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let text = line - 1 < lines.count ? String(lines[line - 1]) : ""
        let available = max(1, text.count - (column - 1))
        let width = max(
            1,
            min(
                String(
                    decoding: Array(source.utf8)[min(span.start, source.utf8.count)..<min(span.end, source.utf8.count)],
                    as: UTF8.self
                ).count, available))
        let gutter = String(line + firstLine - 1)
        let pad = String(repeating: " ", count: gutter.count)
        var output = "error[\(code)]: \(message)\n"
        output += "\(pad) |\n\(gutter) | \(text)\n"
        output += "\(pad) | " + String(repeating: " ", count: column - 1) + String(repeating: "^", count: width)
        if !hint.isEmpty { output += " " + hint }
        return output
    }
}
