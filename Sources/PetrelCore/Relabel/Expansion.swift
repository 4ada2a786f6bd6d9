/// A `replacement` or `target_label` template split once into literal bytes and capture groups,
/// read exactly as Go's `Regexp.Expand` reads it.
///
/// `$1`, `${1}`, `$name` and `${name}` refer to groups; without braces the name is the longest run
/// of letters, digits and underscores, so `$1_x` refers to a group named `1_x` (empty, as in
/// Prometheus) and `${1}_x` is what was meant. `$$` is a `$`; a `$` that starts no reference is
/// itself; a reference to a group the regex does not have expands to nothing.
struct ExpansionTemplate: Sendable {
    enum Part: Sendable, Equatable {
        case literal([UInt8])
        case group(Int)
    }

    let parts: [Part]

    init(_ template: String, groupCount: Int, groupNumber: (String) -> Int?) {
        var parts: [Part] = []
        var literal: [UInt8] = []
        func appendLiteral(_ scalar: Unicode.Scalar) {
            literal.append(contentsOf: String(scalar).utf8)
        }
        let scalars = Array(template.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "$" else {
                appendLiteral(scalar)
                index += 1
                continue
            }
            index += 1
            if index < scalars.count, scalars[index] == "$" {
                appendLiteral("$")
                index += 1
                continue
            }
            guard let (name, end) = Self.reference(scalars, at: index) else {
                // Malformed: the `$` is text, and what follows is read on.
                appendLiteral("$")
                continue
            }
            index = end
            let group = Self.number(name) ?? groupNumber(name)
            if let group, group <= groupCount {
                if !literal.isEmpty {
                    parts.append(.literal(literal))
                    literal = []
                }
                parts.append(.group(group))
            }
        }
        if !literal.isEmpty {
            parts.append(.literal(literal))
        }
        self.parts = parts
    }

    /// The name after a `$` at `start` (`name` or `{name}`) and where the reference ends.
    private static func reference(_ scalars: [Unicode.Scalar], at start: Int) -> (String, Int)? {
        var index = start
        let braced = index < scalars.count && scalars[index] == "{"
        if braced { index += 1 }
        var name = ""
        while index < scalars.count, isNameScalar(scalars[index]) {
            name.unicodeScalars.append(scalars[index])
            index += 1
        }
        guard !name.isEmpty else { return nil }
        if braced {
            guard index < scalars.count, scalars[index] == "}" else { return nil }
            index += 1
        }
        return (name, index)
    }

    /// Go's `unicode.IsLetter`, `unicode.IsDigit` or `_`.
    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "_" { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
    }

    /// A group number as Go reads one: ASCII digits, no leading zero, below 10^8.
    private static func number(_ name: String) -> Int? {
        var value = 0
        for scalar in name.unicodeScalars {
            guard ("0"..."9").contains(scalar), value < 100_000_000 else { return nil }
            value = value * 10 + Int(scalar.value - 48)
        }
        if name.unicodeScalars.count > 1 && name.unicodeScalars.first == "0" { return nil }
        return value
    }

    /// The expansion when it does not depend on the match.
    var constant: [UInt8]? {
        switch parts.count {
        case 0: return []
        case 1:
            if case .literal(let bytes) = parts[0] { return bytes }
            return nil
        default: return nil
        }
    }

    /// The group when the template is exactly one reference, as in the default `$1`: its expansion
    /// is a range of the input and needs no copy.
    var singleGroup: Int? {
        if parts.count == 1, case .group(let group) = parts[0] { return group }
        return nil
    }

    /// Appends the expansion for a match of `input` with `captures` to `output`.
    func expand(_ input: UnsafeRawBufferPointer, captures: [Int32], into output: inout [UInt8]) {
        for part in parts {
            switch part {
            case .literal(let bytes):
                output.append(contentsOf: bytes)
            case .group(let group):
                let start = Int(captures[2 * group])
                let end = Int(captures[2 * group + 1])
                if start >= 0 && end > start {
                    output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<end]))
                }
            }
        }
    }
}
