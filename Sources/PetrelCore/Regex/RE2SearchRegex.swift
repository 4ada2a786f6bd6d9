/// An RE2 pattern searched for anywhere in a text, unanchored, as VRL (Rust's `regex`) and Go's `FindString` search:
/// `remap`'s `r'...'` literals. The syntax and its checks are `RE2Regex`'s; `.` does not match a newline unless the
/// pattern says `(?s)`.
public struct RE2SearchRegex: @unchecked Sendable, Equatable {
    // @unchecked: Regex is immutable once built; it is not Sendable only for its generic output type.
    public let pattern: String
    /// Group names by number; index 0 is the whole match and is never named.
    public let groupNames: [String?]
    private let regex: Regex<AnyRegexOutput>

    public init(_ pattern: String) throws(RE2SyntaxError) {
        let syntax = try RE2Syntax(pattern)
        do {
            regex = try Regex(syntax.swiftPattern)
                .matchingSemantics(.unicodeScalar)
                .asciiOnlyDigits().asciiOnlyWordCharacters().asciiOnlyWhitespace()
                .wordBoundaryKind(.simple)
        } catch {
            throw RE2SyntaxError(description: "\(error)")
        }
        self.pattern = pattern
        groupNames = [nil] + syntax.groupNames
    }

    public static func == (lhs: RE2SearchRegex, rhs: RE2SearchRegex) -> Bool { lhs.pattern == rhs.pattern }

    /// Whether the pattern occurs in `text`.
    public func isFound(in text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }

    /// The first match: the range of each group (index 0 the whole match), `nil` for a group that took no part.
    public func firstMatch(in text: String) -> [Range<String.Index>?]? {
        guard let match = try? regex.firstMatch(in: text) else { return nil }
        return (0..<match.output.count).map { match.output[$0].range }
    }

    /// Every non-overlapping match, left to right, as `firstMatch` gives one.
    public func allMatches(in text: String) -> [[Range<String.Index>?]] {
        text.matches(of: regex).map { match in (0..<match.output.count).map { match.output[$0].range } }
    }
}
