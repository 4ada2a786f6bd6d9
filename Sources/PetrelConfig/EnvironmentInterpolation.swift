import PetrelCore

/// Replaces `${VAR}` and `${VAR:-default}` in the raw configuration text with values from the environment.
///
/// It runs before YAML parsing, as Vector's does, so a variable may stand anywhere in the file, and
/// line by line, so that its errors keep their line. `$$` is a literal `$`; a `$` followed by anything
/// else than `$` or `{` stays as it is, so `$1` in a relabel replacement needs no escaping (`${1}` does).
/// The default is used when the variable is unset or empty, as in the shell.
public struct EnvironmentInterpolation: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// The text with every reference replaced; problems are recorded in `diagnostics` and the
    /// reference is replaced by nothing (an unset variable) or left as written (a malformed one).
    public func apply(to text: String, diagnostics: ConfigDiagnostics) -> String {
        var output = String.UnicodeScalarView()
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            if index > 0 { output.append("\n") }
            interpolate(line, lineNumber: index + 1, into: &output, diagnostics: diagnostics)
        }
        return String(output)
    }

    private func interpolate(
        _ line: Substring.UnicodeScalarView, lineNumber: Int, into output: inout String.UnicodeScalarView,
        diagnostics: ConfigDiagnostics
    ) {
        var index = line.startIndex
        while index < line.endIndex {
            let scalar = line[index]
            let next = line.index(after: index)
            guard scalar == "$", next < line.endIndex else {
                output.append(scalar)
                index = next
                continue
            }
            switch line[next] {
            case "$":
                output.append("$")
                index = line.index(after: next)
            case "{":
                let bodyStart = line.index(after: next)
                guard let close = line[bodyStart...].firstIndex(of: "}") else {
                    diagnostics.error(
                        "", line: lineNumber,
                        "unclosed \"${\" in \"\(String(line[index...]))\": expected \"}\" on the same line;"
                            + " write $$ for a literal $")
                    output.append(contentsOf: line[index...])
                    return
                }
                let reference = line[index...close]
                if let value = resolve(
                    String(line[bodyStart..<close]), reference: String(reference), lineNumber: lineNumber,
                    diagnostics: diagnostics)
                {
                    output.append(contentsOf: value.unicodeScalars)
                } else {
                    output.append(contentsOf: reference)
                }
                index = line.index(after: close)
            default:
                output.append(scalar)
                index = next
            }
        }
    }

    /// The replacement for one `${...}`; `nil` when it should stay as written (malformed, or a capture group).
    private func resolve(
        _ body: String, reference: String, lineNumber: Int, diagnostics: ConfigDiagnostics
    ) -> String? {
        let name: String
        let fallback: String?
        if let separator = body.range(of: ":-") {
            name = String(body[..<separator.lowerBound])
            fallback = String(body[separator.upperBound...])
        } else {
            name = body
            fallback = nil
        }
        // `${1}` is a regex capture group in relabel replacements, never a variable: it stays as written.
        if fallback == nil, !name.isEmpty, name.allSatisfy({ $0.isASCII && $0.isNumber }) { return nil }
        guard Self.isValidName(name) else {
            let problem = name.isEmpty ? "names no variable" : "has an invalid variable name \"\(name)\""
            diagnostics.error(
                "", line: lineNumber,
                "\"\(reference)\" \(problem): expected ${NAME} or ${NAME:-default}, where NAME is letters,"
                    + " digits and _, not starting with a digit; write $$ for a literal $")
            return nil
        }
        let value: String
        switch (environment[name], fallback) {
        case (let set?, let fallback?): value = set.isEmpty ? fallback : set
        case (nil, let fallback?): value = fallback
        case (let set?, nil): value = set
        case (nil, nil):
            diagnostics.error("", line: lineNumber, "environment variable \(name) is not set")
            return ""
        }
        if value.contains(where: \.isNewline) {
            // A line break in a value would let the environment add configuration, not just a value.
            diagnostics.error("", line: lineNumber, "environment variable \(name) contains a line break")
            return ""
        }
        return value
    }

    /// Whether `name` is a POSIX-style variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_"
        }
    }
}
