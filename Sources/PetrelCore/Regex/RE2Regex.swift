#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular expression in RE2 syntax (Go's `regexp`), compiled once and anchored at both ends as Prometheus anchors
/// it: the one regex of `relabel`'s `regex` and `filter`'s `matches`, so a pattern means the same in both.
///
/// A pattern RE2 refuses (lookaround, backreferences...) is refused with `RE2SyntaxError`. Prometheus compiles
/// `^(?s:REGEX)$`: the whole value must match and `.` matches a newline too; `\d`, `\w`, `\s` are ASCII only.
/// The shapes most rules use are answered on the bytes without a regex engine: a literal, an
/// alternation of literals, `prefix.*suffix` and `prefix.+suffix` (either end may be empty, the
/// wildcard may be a capture group), `.*inner.*`, each optionally inside one group capturing the
/// whole value, with `^` and `$` allowed at the ends. Everything else runs Swift's `Regex` on a
/// `String`, behind a bounded cache of input to result, since label values repeat from batch to batch.
///
/// Captures are byte offsets into the input, two per group (group 0 is the whole match), `-1` for
/// a group that did not take part in the match.
public struct RE2Regex: @unchecked Sendable {
    // @unchecked: Regex is immutable once built; it is not Sendable only for its generic output type.
    public let pattern: String
    /// Group names by number; index 0 is the whole match and is never named.
    let groupNames: [String?]
    private let fastPath: FastPath?
    private let regex: Regex<AnyRegexOutput>
    private var cache: MatchCache

    public var groupCount: Int { groupNames.count - 1 }
    /// The number of `Int32`s `match` writes.
    public var captureCount: Int { 2 * groupNames.count }
    /// Whether matching avoids Swift's `Regex`.
    var isFastPath: Bool { fastPath != nil }
    /// How many engine results are cached now.
    var cachedResults: Int { cache.count }

    /// Compiles `pattern`; `allowFastPath: false` forces the regex engine, to test the fast paths against it.
    public init(_ pattern: String, allowFastPath: Bool = true) throws(RE2SyntaxError) {
        let syntax = try RE2Syntax(pattern)
        do {
            regex = try Regex("(?s:" + syntax.swiftPattern + ")")
                .matchingSemantics(.unicodeScalar)
                .asciiOnlyDigits().asciiOnlyWordCharacters().asciiOnlyWhitespace()
                .wordBoundaryKind(.simple)
        } catch {
            throw RE2SyntaxError(description: "\(error)")
        }
        self.pattern = pattern
        groupNames = [nil] + syntax.groupNames
        let fast = allowFastPath ? FastPath(pattern) : nil
        fastPath = fast?.groupCount == syntax.groupCount ? fast : nil
        cache = MatchCache(captureCount: 2 * groupNames.count)
    }

    /// The number of the first group named `name`, as Go's `Regexp.Expand` finds it.
    public func groupNumber(named name: String) -> Int? {
        groupNames.firstIndex { $0 == name }
    }

    /// Whether the whole of `value` matches, without the cache: for values that rarely repeat, and for callers that
    /// cannot mutate (a `filter` condition is evaluated in place).
    public func matches(_ value: String) -> Bool {
        if let fastPath {
            var value = value
            return value.withUTF8 { fastPath.matches(UnsafeRawBufferPointer($0)) }
        }
        return (try? regex.wholeMatch(in: value)) != nil
    }

    /// Whether the whole of `input` matches.
    public mutating func matches(_ input: UnsafeRawBufferPointer) -> Bool {
        if let fastPath { return fastPath.matches(input) }
        let cacheable = input.count <= MatchCache.maxKeyLength
        let hash = cacheable ? XXHash64.hash(input) : 0
        if cacheable, let entry = cache.lookup(input, hash: hash) {
            return cache.matched[entry]
        }
        let found = engineMatch(input)
        if cacheable { cache.insert(input, hash: hash, captures: found) }
        return found != nil
    }

    /// Whether the whole of `input` matches; on a match the first `captureCount` offsets of
    /// `captures` are this match's (the buffer is shared by rules, so it may be longer).
    public mutating func match(_ input: UnsafeRawBufferPointer, captures: inout [Int32]) -> Bool {
        if captures.count < captureCount {
            captures = [Int32](repeating: -1, count: captureCount)
        }
        if let fastPath { return fastPath.match(input, captures: &captures) }
        let cacheable = input.count <= MatchCache.maxKeyLength
        let hash = cacheable ? XXHash64.hash(input) : 0
        if cacheable, let entry = cache.lookup(input, hash: hash) {
            cache.copyCaptures(of: entry, to: &captures)
            return cache.matched[entry]
        }
        let found = engineMatch(input)
        if cacheable { cache.insert(input, hash: hash, captures: found) }
        guard let found else { return false }
        for index in found.indices { captures[index] = found[index] }
        return true
    }

    /// Swift's `Regex` on `input`: its captures, or `nil` when it does not match.
    private func engineMatch(_ input: UnsafeRawBufferPointer) -> [Int32]? {
        let string = String(decoding: input, as: UTF8.self)
        guard let match = try? regex.wholeMatch(in: string) else { return nil }
        var found = [Int32](repeating: -1, count: captureCount)
        guard string.utf8.count == input.count else {
            // Invalid UTF-8 was matched as U+FFFD, so offsets in the repaired string are not offsets
            // in `input`: only the whole match is known. Label values are UTF-8 by the protocol.
            found[0] = 0
            found[1] = Int32(input.count)
            return found
        }
        let output = match.output
        for group in 0..<min(output.count, groupNames.count) {
            guard let range = output[group].range else { continue }
            found[2 * group] = Int32(string.utf8.distance(from: string.startIndex, to: range.lowerBound))
            found[2 * group + 1] = Int32(string.utf8.distance(from: string.startIndex, to: range.upperBound))
        }
        return found
    }
}

extension RE2Regex {
    /// A pattern simple enough to match on bytes: `[^] [(] lit | lit|lit|... | [lit] W [lit] | .*lit.* [)] [$]`.
    struct FastPath: Sendable {
        enum Kind: Sendable {
            case literal([UInt8])
            case alternation([[UInt8]])
            /// `prefix.*suffix` or `prefix.+suffix`.
            case wildcard(prefix: [UInt8], suffix: [UInt8], nonEmpty: Bool)
            /// `.*inner.*`.
            case contains([UInt8])
        }

        var kind: Kind
        /// Whether group 1 is the whole value: `(...)`.
        var wholeGroup: Bool
        /// Whether the wildcard is a group of its own: `prefix(.*)`.
        var wildcardGroup: Bool

        var groupCount: Int { (wholeGroup ? 1 : 0) + (wildcardGroup ? 1 : 0) }

        private enum Token {
            case literal([UInt8])
            case wildcard(nonEmpty: Bool, captured: Bool)
        }

        /// The fast form of `pattern`, or `nil` when it needs the regex engine.
        init?(_ pattern: String) {
            var scalars = Array(pattern.unicodeScalars)[...]
            wholeGroup = false
            if scalars.count >= 2, scalars.first == "(", scalars[scalars.startIndex + 1] != "?",
                Self.closingParenthesis(scalars) == scalars.endIndex - 1
            {
                scalars = scalars.dropFirst().dropLast()
                wholeGroup = true
            }
            let alternatives = Self.splitAlternatives(scalars)
            if alternatives.count > 1 {
                var literals: [[UInt8]] = []
                for alternative in alternatives {
                    guard let tokens = Self.tokens(alternative), tokens.count <= 1 else { return nil }
                    guard case .literal(let bytes) = tokens.first ?? .literal([]) else { return nil }
                    literals.append(bytes)
                }
                kind = .alternation(literals)
                wildcardGroup = false
                return
            }
            guard let tokens = Self.tokens(scalars) else { return nil }
            switch tokens.count {
            case 0:
                kind = .literal([])
                wildcardGroup = false
            case 1:
                switch tokens[0] {
                case .literal(let bytes):
                    kind = .literal(bytes)
                    wildcardGroup = false
                case .wildcard(let nonEmpty, let captured):
                    kind = .wildcard(prefix: [], suffix: [], nonEmpty: nonEmpty)
                    wildcardGroup = captured
                }
            case 2:
                switch (tokens[0], tokens[1]) {
                case (.literal(let prefix), .wildcard(let nonEmpty, let captured)):
                    kind = .wildcard(prefix: prefix, suffix: [], nonEmpty: nonEmpty)
                    wildcardGroup = captured
                case (.wildcard(let nonEmpty, let captured), .literal(let suffix)):
                    kind = .wildcard(prefix: [], suffix: suffix, nonEmpty: nonEmpty)
                    wildcardGroup = captured
                default:
                    return nil
                }
            case 3:
                switch (tokens[0], tokens[1], tokens[2]) {
                case (.literal(let prefix), .wildcard(let nonEmpty, let captured), .literal(let suffix)):
                    kind = .wildcard(prefix: prefix, suffix: suffix, nonEmpty: nonEmpty)
                    wildcardGroup = captured
                case (.wildcard(false, false), .literal(let inner), .wildcard(false, false)):
                    kind = .contains(inner)
                    wildcardGroup = false
                default:
                    return nil
                }
            default:
                return nil
            }
        }

        /// Where the group opened by the first scalar closes, if it does.
        private static func closingParenthesis(_ scalars: ArraySlice<Unicode.Scalar>) -> Int? {
            var depth = 0
            var index = scalars.startIndex
            while index < scalars.endIndex {
                switch scalars[index] {
                case "\\": index += 1
                case "(": depth += 1
                case ")":
                    depth -= 1
                    if depth == 0 { return index }
                default: break
                }
                index += 1
            }
            return nil
        }

        /// The top-level alternatives, or one part when there is no `|` outside groups and classes.
        private static func splitAlternatives(_ scalars: ArraySlice<Unicode.Scalar>) -> [ArraySlice<Unicode.Scalar>] {
            var parts: [ArraySlice<Unicode.Scalar>] = []
            var start = scalars.startIndex
            var index = scalars.startIndex
            var depth = 0
            while index < scalars.endIndex {
                switch scalars[index] {
                case "\\": index += 1
                case "(": depth += 1
                case ")": depth -= 1
                // A class may hide a `|`; the tokens of a class make the pattern general anyway.
                case "[": return [scalars]
                case "|" where depth == 0:
                    parts.append(scalars[start..<index])
                    start = index + 1
                default: break
                }
                index += 1
            }
            parts.append(scalars[start..<scalars.endIndex])
            return parts
        }

        private static let metacharacters: Set<Unicode.Scalar> = [
            "\\", ".", "+", "*", "?", "(", ")", "|", "[", "]", "{", "}", "^", "$",
        ]

        /// Literal runs and wildcards, or `nil` for anything else.
        private static func tokens(_ scalars: ArraySlice<Unicode.Scalar>) -> [Token]? {
            var tokens: [Token] = []
            var literal: [UInt8] = []
            var index = scalars.startIndex
            var ended = false
            func flush() {
                if !literal.isEmpty {
                    tokens.append(.literal(literal))
                    literal = []
                }
            }
            func next(_ offset: Int) -> Unicode.Scalar? {
                index + offset < scalars.endIndex ? scalars[index + offset] : nil
            }
            while index < scalars.endIndex {
                let scalar = scalars[index]
                if ended && scalar != "$" { return nil }
                switch scalar {
                case "^":
                    // A no-op at the start, as the match is anchored anyway.
                    guard tokens.isEmpty, literal.isEmpty else { return nil }
                    index += 1
                case "$":
                    ended = true
                    index += 1
                case "\\":
                    guard let escaped = next(1), escaped.isASCII, !Self.isAlphanumeric(escaped) else { return nil }
                    literal.append(UInt8(escaped.value))
                    index += 2
                case ".":
                    guard let operation = next(1), operation == "*" || operation == "+" else { return nil }
                    if let after = next(2), after == "?" || after == "*" || after == "+" || after == "{" {
                        return nil
                    }
                    flush()
                    tokens.append(.wildcard(nonEmpty: operation == "+", captured: false))
                    index += 2
                case "(":
                    guard next(1) == ".", let operation = next(2), operation == "*" || operation == "+",
                        next(3) == ")"
                    else { return nil }
                    if let after = next(4), after == "?" || after == "*" || after == "+" || after == "{" {
                        return nil
                    }
                    flush()
                    tokens.append(.wildcard(nonEmpty: operation == "+", captured: true))
                    index += 4
                default:
                    guard !metacharacters.contains(scalar) else { return nil }
                    // A quantifier would apply to this scalar alone, not to the run.
                    if let after = next(1), after == "?" || after == "*" || after == "+" || after == "{" {
                        return nil
                    }
                    literal.append(contentsOf: String(scalar).utf8)
                    index += 1
                }
            }
            flush()
            return tokens
        }

        private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
        }

        func matches(_ input: UnsafeRawBufferPointer) -> Bool {
            switch kind {
            case .literal(let literal):
                return Self.equal(input, 0, input.count, literal)
            case .alternation(let literals):
                return literals.contains { Self.equal(input, 0, input.count, $0) }
            case .wildcard(let prefix, let suffix, let nonEmpty):
                let middle = input.count - prefix.count - suffix.count
                return middle >= (nonEmpty ? 1 : 0) && Self.equal(input, 0, prefix.count, prefix)
                    && Self.equal(input, input.count - suffix.count, suffix.count, suffix)
            case .contains(let inner):
                return Self.contains(input, inner)
            }
        }

        func match(_ input: UnsafeRawBufferPointer, captures: inout [Int32]) -> Bool {
            guard matches(input) else { return false }
            captures[0] = 0
            captures[1] = Int32(input.count)
            var group = 1
            if wholeGroup {
                captures[2] = 0
                captures[3] = Int32(input.count)
                group = 2
            }
            if wildcardGroup, case .wildcard(let prefix, let suffix, _) = kind {
                captures[2 * group] = Int32(prefix.count)
                captures[2 * group + 1] = Int32(input.count - suffix.count)
            }
            return true
        }

        @inline(__always)
        private static func equal(_ input: UnsafeRawBufferPointer, _ offset: Int, _ length: Int, _ literal: [UInt8])
            -> Bool
        {
            guard length == literal.count else { return false }
            guard length > 0 else { return true }
            return literal.withUnsafeBytes { memcmp(input.baseAddress! + offset, $0.baseAddress!, length) == 0 }
        }

        private static func contains(_ input: UnsafeRawBufferPointer, _ inner: [UInt8]) -> Bool {
            guard inner.count <= input.count else { return false }
            guard let first = inner.first else { return true }
            let last = input.count - inner.count
            var offset = 0
            while offset <= last {
                guard
                    let found = memchr(input.baseAddress! + offset, Int32(first), last - offset + 1)
                else { return false }
                offset = input.baseAddress!.distance(to: UnsafeRawPointer(found))
                if equal(input, offset, inner.count, inner) { return true }
                offset += 1
            }
            return false
        }
    }
}

/// Results of the regex engine by input, bounded in entries and bytes and emptied when full.
///
/// Keys live in one byte array and entries in flat arrays, so a hit costs a hash and a compare and
/// allocates nothing; a probe table of twice the entries keeps probe runs short.
struct MatchCache: Sendable {
    static let capacity = 4096
    static let maxKeyLength = 1024
    static let maxKeyBytes = 256 * 1024
    private static let tableSize = 2 * capacity

    let captureCount: Int
    private var table: [Int32] = []
    private var hashes: [UInt64] = []
    private var keyOffsets: [UInt32] = []
    private var keyLengths: [UInt32] = []
    private var keys: [UInt8] = []
    private(set) var matched: [Bool] = []
    private var captures: [Int32] = []

    init(captureCount: Int) {
        self.captureCount = captureCount
    }

    var count: Int { hashes.count }

    func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        guard !table.isEmpty else { return nil }
        var slot = Int(truncatingIfNeeded: hash) & (Self.tableSize - 1)
        return keys.withUnsafeBytes { keys in
            while true {
                let entry = Int(table[slot])
                if entry < 0 { return nil }
                if hashes[entry] == hash, Int(keyLengths[entry]) == key.count,
                    key.isEmpty || memcmp(keys.baseAddress! + Int(keyOffsets[entry]), key.baseAddress!, key.count) == 0
                {
                    return entry
                }
                slot = (slot + 1) & (Self.tableSize - 1)
            }
        }
    }

    func copyCaptures(of entry: Int, to destination: inout [Int32]) {
        let start = entry * captureCount
        for index in 0..<captureCount {
            destination[index] = captures[start + index]
        }
    }

    /// Remembers the result for `key`: its captures, or `nil` for no match.
    mutating func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, captures found: [Int32]?) {
        if table.isEmpty {
            table = [Int32](repeating: -1, count: Self.tableSize)
        } else if count == Self.capacity || keys.count + key.count > Self.maxKeyBytes {
            // Emptying beats evicting one by one: the working set refills it within a batch or two.
            for index in table.indices { table[index] = -1 }
            hashes.removeAll(keepingCapacity: true)
            keyOffsets.removeAll(keepingCapacity: true)
            keyLengths.removeAll(keepingCapacity: true)
            keys.removeAll(keepingCapacity: true)
            matched.removeAll(keepingCapacity: true)
            captures.removeAll(keepingCapacity: true)
        }
        var slot = Int(truncatingIfNeeded: hash) & (Self.tableSize - 1)
        while table[slot] >= 0 {
            slot = (slot + 1) & (Self.tableSize - 1)
        }
        table[slot] = Int32(count)
        hashes.append(hash)
        keyOffsets.append(UInt32(keys.count))
        keyLengths.append(UInt32(key.count))
        keys.append(contentsOf: key)
        matched.append(found != nil)
        if let found {
            captures.append(contentsOf: found)
        } else {
            captures.append(contentsOf: repeatElement(-1, count: captureCount))
        }
    }
}
