/// A pattern that is not valid RE2, worded as Go's `regexp` words it.
public struct RE2SyntaxError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// An RE2 pattern (Go's `regexp`, which Prometheus uses) rewritten for Swift's `Regex`.
///
/// Swift reads a superset of RE2 and reads some of it differently, so a pattern is walked once: what
/// RE2 rejects (backreferences, lookaround, possessive quantifiers, `(?x)`...) is rejected with Go's
/// message, so a configuration valid here is valid for Prometheus; what both accept but Swift reads
/// otherwise is rewritten: `\pL`, octal escapes, `\s` and `\v`, ASCII-only POSIX classes, `{` that
/// does not start a repetition, `[]a]`, and the set operators `&&` and `~~` inside classes.
/// Capture groups are counted and named on the way, as `$1` and `$name` need them.
struct RE2Syntax {
    /// The pattern in Swift's syntax.
    var swiftPattern: String
    /// The name of each capture group in order, `nil` when unnamed; group 1 is at index 0.
    var groupNames: [String?]

    var groupCount: Int { groupNames.count }

    /// RE2's largest `{n,m}` count.
    private static let maxRepeat = 1000

    init(_ pattern: String) throws(RE2SyntaxError) {
        var parser = Parser(scalars: Array(pattern.unicodeScalars))
        try parser.run()
        swiftPattern = parser.output
        groupNames = parser.groupNames
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0
        var output = ""
        var groupNames: [String?] = []
        /// Whether the last thing emitted was a repetition operator, which RE2 will not repeat again.
        var afterRepetition = false
        /// Whether that operator may still take a `?` to become lazy.
        var lazyAllowed = false

        init(scalars: [Unicode.Scalar]) {
            self.scalars = scalars
        }

        private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
            index + offset < scalars.count ? scalars[index + offset] : nil
        }

        private func text(_ range: Range<Int>) -> String {
            var string = ""
            string.unicodeScalars.append(
                contentsOf: scalars[max(0, range.lowerBound)..<min(scalars.count, range.upperBound)])
            return string
        }

        mutating func run() throws(RE2SyntaxError) {
            while let scalar = peek() {
                switch scalar {
                case "\\":
                    if peek(1) == "Q" {
                        quoted()
                    } else {
                        output += try escape(inClass: false)
                    }
                    afterRepetition = false
                case "[":
                    try characterClass()
                    afterRepetition = false
                case "(":
                    try group()
                    afterRepetition = false
                case "*", "+", "?":
                    if afterRepetition {
                        guard scalar == "?", lazyAllowed else {
                            throw RE2SyntaxError(
                                description: "invalid nested repetition operator: `\(text(index - 1..<index + 1))`")
                        }
                        lazyAllowed = false
                    } else {
                        afterRepetition = true
                        lazyAllowed = true
                    }
                    output.unicodeScalars.append(scalar)
                    index += 1
                case "{":
                    if let repetition = try repetition() {
                        if afterRepetition {
                            throw RE2SyntaxError(description: "invalid nested repetition operator: `\(repetition)`")
                        }
                        output += repetition
                        afterRepetition = true
                        lazyAllowed = true
                    } else {
                        // RE2 reads a `{` that does not start a repetition as itself; Swift reads `{,n}` as one.
                        output += "\\{"
                        index += 1
                        afterRepetition = false
                    }
                case "}", "]":
                    output += "\\" + String(scalar)
                    index += 1
                    afterRepetition = false
                default:
                    output.unicodeScalars.append(scalar)
                    index += 1
                    afterRepetition = false
                }
            }
        }

        /// `\Q...\E`: everything between is literal.
        private mutating func quoted() {
            index += 2
            while let scalar = peek() {
                if scalar == "\\" && peek(1) == "E" {
                    index += 2
                    return
                }
                output += Self.literal(scalar)
                index += 1
            }
        }

        /// A scalar written so that Swift reads it as itself, in or out of a class.
        private static func literal(_ scalar: Unicode.Scalar) -> String {
            if scalar.isASCII && !isAlphanumeric(scalar) {
                if scalar.value < 0x21 || scalar.value == 0x7f {
                    return "\\x{" + String(scalar.value, radix: 16) + "}"
                }
                return "\\" + String(scalar)
            }
            return String(scalar)
        }

        private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
        }

        private static func isOctal(_ scalar: Unicode.Scalar?) -> Bool {
            scalar.map { ("0"..."7").contains($0) } ?? false
        }

        /// An escape at `index` (a backslash), translated.
        private mutating func escape(inClass: Bool) throws(RE2SyntaxError) -> String {
            guard let scalar = peek(1) else {
                throw RE2SyntaxError(description: "trailing backslash at end of expression: ``")
            }
            let start = index
            index += 2
            switch scalar {
            case "1"..."7" where Self.isOctal(peek()), "0":
                // Octal, up to three digits; Swift would read `\12` as a backreference.
                var value = scalar.value - 48
                var digits = 1
                while digits < 3, Self.isOctal(peek()) {
                    value = value * 8 + peek()!.value - 48
                    index += 1
                    digits += 1
                }
                return "\\x{" + String(value, radix: 16) + "}"
            case "a", "f", "t", "n", "r", "d", "D", "w", "W":
                return "\\" + String(scalar)
            case "v":
                // RE2's `\v` is the vertical tab alone; Swift's is every vertical space.
                return "\\x{b}"
            case "s":
                // RE2's `\s` is `[\t\n\f\r ]`; Swift's ASCII `\s` also takes `\v`.
                return inClass ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]"
            case "S":
                return "[^\\t\\n\\f\\r ]"
            case "x":
                return try hexEscape(start: start)
            case "p", "P":
                return try unicodeClass(negated: scalar == "P", start: start)
            case "A", "z", "b", "B":
                guard !inClass else {
                    throw RE2SyntaxError(description: "invalid escape sequence: `\(text(start..<index))`")
                }
                return "\\" + String(scalar)
            default:
                if scalar.isASCII && !Self.isAlphanumeric(scalar) {
                    return Self.literal(scalar)
                }
                throw RE2SyntaxError(description: "invalid escape sequence: `\(text(start..<index))`")
            }
        }

        private mutating func hexEscape(start: Int) throws(RE2SyntaxError) -> String {
            var digits = ""
            let braced = peek() == "{"
            if braced {
                index += 1
                while let scalar = peek(), scalar != "}" {
                    digits.unicodeScalars.append(scalar)
                    index += 1
                }
                guard peek() == "}" else {
                    throw RE2SyntaxError(description: "invalid escape sequence: `\(text(start..<index))`")
                }
                index += 1
            } else {
                for _ in 0..<2 {
                    guard let scalar = peek() else { break }
                    digits.unicodeScalars.append(scalar)
                    index += 1
                }
            }
            guard braced ? !digits.isEmpty : digits.unicodeScalars.count == 2,
                let value = UInt32(digits, radix: 16), value <= 0x10_FFFF,
                digits.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit })
            else {
                throw RE2SyntaxError(description: "invalid escape sequence: `\(text(start..<index))`")
            }
            return "\\x{" + String(value, radix: 16) + "}"
        }

        /// `\pL`, `\p{Greek}`, `\p{^Greek}` and their `\P` negations.
        private mutating func unicodeClass(negated: Bool, start: Int) throws(RE2SyntaxError) -> String {
            var name = ""
            if peek() == "{" {
                index += 1
                while let scalar = peek(), scalar != "}" {
                    name.unicodeScalars.append(scalar)
                    index += 1
                }
                guard peek() == "}" else {
                    throw RE2SyntaxError(description: "invalid character class range: `\(text(start..<index))`")
                }
                index += 1
            } else if let scalar = peek() {
                name.unicodeScalars.append(scalar)
                index += 1
            }
            var negated = negated
            if name.hasPrefix("^") {
                negated.toggle()
                name.removeFirst()
            }
            guard !name.isEmpty,
                name.unicodeScalars.allSatisfy({ $0.isASCII && (Self.isAlphanumeric($0) || $0 == "_") })
            else {
                throw RE2SyntaxError(description: "invalid character class range: `\(text(start..<index))`")
            }
            return (negated ? "\\P{" : "\\p{") + name + "}"
        }

        /// `{n}`, `{n,}` or `{n,m}` at `index`, or `nil` (nothing consumed) when it is not a repetition.
        private mutating func repetition() throws(RE2SyntaxError) -> String? {
            var cursor = index + 1
            func number() -> Int? {
                var value: Int?
                while cursor < scalars.count, ("0"..."9").contains(scalars[cursor]) {
                    value = min((value ?? 0) * 10 + Int(scalars[cursor].value - 48), 100_000)
                    cursor += 1
                }
                return value
            }
            guard let minimum = number() else { return nil }
            var maximum: Int? = minimum
            if cursor < scalars.count, scalars[cursor] == "," {
                cursor += 1
                maximum = number()
            }
            guard cursor < scalars.count, scalars[cursor] == "}" else { return nil }
            cursor += 1
            let written = text(index..<cursor)
            if minimum > RE2Syntax.maxRepeat || (maximum ?? 0) > RE2Syntax.maxRepeat
                || maximum.map({ $0 < minimum }) == true
            {
                throw RE2SyntaxError(description: "invalid repeat count: `\(written)`")
            }
            index = cursor
            return written
        }

        /// A `(` at `index`: a capture, a named capture, a non-capturing group or a flag change.
        private mutating func group() throws(RE2SyntaxError) {
            let start = index
            guard peek(1) == "?" else {
                if peek(1) == "*" {
                    throw RE2SyntaxError(description: "missing argument to repetition operator: `*`")
                }
                groupNames.append(nil)
                output += "("
                index += 1
                return
            }
            // Named captures: (?P<name>re) and (?<name>re).
            var nameStart: Int?
            if peek(2) == "P" && peek(3) == "<" {
                nameStart = index + 4
            } else if peek(2) == "<" {
                // Lookbehind `(?<=` and `(?<!` end up here too, and fail as Go fails them.
                nameStart = index + 3
            }
            if let nameStart {
                var cursor = nameStart
                while cursor < scalars.count, scalars[cursor] != ">" {
                    cursor += 1
                }
                let name = text(nameStart..<cursor)
                guard cursor < scalars.count else {
                    throw RE2SyntaxError(description: "invalid named capture: `\(text(start..<cursor))`")
                }
                guard !name.isEmpty,
                    name.unicodeScalars.allSatisfy({ $0.isASCII && (Self.isAlphanumeric($0) || $0 == "_") })
                else {
                    throw RE2SyntaxError(description: "invalid named capture: `\(text(start..<cursor + 1))`")
                }
                if groupNames.contains(name) {
                    throw RE2SyntaxError(description: "duplicate capture group name: `\(name)`")
                }
                groupNames.append(name)
                output += "(?<" + name + ">"
                index = cursor + 1
                return
            }
            // Flags: (?flags) or (?flags:re), flags among i, m, s, U with at most one `-`.
            var cursor = index + 2
            var sawMinus = false
            var sawFlag = false
            var flagAfterMinus = false
            while cursor < scalars.count {
                let scalar = scalars[cursor]
                switch scalar {
                case "i", "m", "s", "U":
                    sawFlag = true
                    if sawMinus { flagAfterMinus = true }
                case "-" where !sawMinus:
                    sawMinus = true
                case ":", ")":
                    let empty = scalar == ")" && !sawFlag
                    guard !empty, !sawMinus || flagAfterMinus else {
                        throw RE2SyntaxError(
                            description: "invalid or unsupported Perl syntax: `\(text(start..<cursor + 1))`")
                    }
                    output += text(index..<cursor + 1)
                    index = cursor + 1
                    return
                default:
                    throw RE2SyntaxError(
                        description: "invalid or unsupported Perl syntax: `\(text(start..<cursor + 1))`")
                }
                cursor += 1
            }
            throw RE2SyntaxError(description: "missing closing ): `\(text(start..<scalars.count))`")
        }

        /// A `[` at `index` up to its `]`.
        private mutating func characterClass() throws(RE2SyntaxError) {
            let start = index
            output += "["
            index += 1
            if peek() == "^" {
                output += "^"
                index += 1
            }
            if peek() == "]" {
                // A `]` first is a member in RE2; Swift wants it escaped.
                output += "\\]"
                index += 1
            }
            while let scalar = peek() {
                switch scalar {
                case "]":
                    output += "]"
                    index += 1
                    return
                case "\\":
                    output += try escape(inClass: true)
                case "[" where peek(1) == ":":
                    output += try posixClass()
                case "[", "&", "~":
                    // Members to RE2; nested classes and set operators to Swift.
                    output += "\\" + String(scalar)
                    index += 1
                default:
                    output.unicodeScalars.append(scalar)
                    index += 1
                }
            }
            throw RE2SyntaxError(description: "missing closing ]: `\(text(start..<scalars.count))`")
        }

        /// ASCII ranges of RE2's POSIX classes; Swift's follow Unicode even when asked for ASCII.
        private static let posixClasses: [String: String] = [
            "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x{0}-\\x{7f}", "blank": "\\t ",
            "cntrl": "\\x{0}-\\x{1f}\\x{7f}", "digit": "0-9", "graph": "\\x{21}-\\x{7e}", "lower": "a-z",
            "print": "\\x{20}-\\x{7e}", "punct": "\\x{21}-\\x{2f}\\x{3a}-\\x{40}\\x{5b}-\\x{60}\\x{7b}-\\x{7e}",
            "space": "\\t\\n\\x{b}\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
        ]

        /// `[:name:]` or `[:^name:]` inside a class; a `[` that does not start one is a member.
        private mutating func posixClass() throws(RE2SyntaxError) -> String {
            var cursor = index + 2
            while cursor + 1 < scalars.count, !(scalars[cursor] == ":" && scalars[cursor + 1] == "]") {
                if scalars[cursor] == "]" { break }
                cursor += 1
            }
            guard cursor + 1 < scalars.count, scalars[cursor] == ":", scalars[cursor + 1] == "]" else {
                index += 1
                return "\\["
            }
            var name = text(index + 2..<cursor)
            let negated = name.hasPrefix("^")
            if negated { name.removeFirst() }
            guard let ranges = Self.posixClasses[name] else {
                throw RE2SyntaxError(description: "invalid character class range: `\(text(index..<cursor + 2))`")
            }
            index = cursor + 2
            return negated ? "[^" + ranges + "]" : ranges
        }
    }
}
