/// Why an exposition could not be read: what was wrong, on which line, with the offending text.
///
/// Equality compares the kind of failure only, so `error == .invalidValue` matches whichever line it was; `line` and
/// the description say where.
public struct ExpositionParseError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case invalidMetricName
        case invalidLabelName
        case invalidLabelSyntax
        case invalidLabelValue
        case duplicateLabelName
        case invalidValue
        case invalidTimestamp
        case unexpectedText
        case invalidType
        case missingEOF
        case textAfterEOF
        case bodyTooLarge
    }

    private let kind: Kind
    /// The 1-based line the problem is on; 0 for the body as a whole.
    public let line: Int
    private let reason: String

    private init(_ kind: Kind, line: Int, _ reason: String) {
        self.kind = kind
        self.line = line
        self.reason = reason
    }

    public var description: String { line > 0 ? "line \(line): \(reason)" : reason }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.kind == rhs.kind }

    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }

    /// A sample line that does not start with a metric name.
    public static let invalidMetricName = Self(.invalidMetricName, line: 0, "invalid metric name")
    /// A label name that is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    public static let invalidLabelName = Self(.invalidLabelName, line: 0, "invalid label name")
    /// A label set that is not `{name="value",...}`.
    public static let invalidLabelSyntax = Self(.invalidLabelSyntax, line: 0, "invalid label syntax")
    /// A label value that is not valid UTF-8.
    public static let invalidLabelValue = Self(.invalidLabelValue, line: 0, "invalid label value")
    /// A series with two labels of the same name.
    public static let duplicateLabelName = Self(.duplicateLabelName, line: 0, "duplicate label name")
    /// A sample value that is not a number.
    public static let invalidValue = Self(.invalidValue, line: 0, "invalid sample value")
    /// A timestamp that is not a number of milliseconds (seconds in OpenMetrics).
    public static let invalidTimestamp = Self(.invalidTimestamp, line: 0, "invalid timestamp")
    /// Text after a sample's value and timestamp.
    public static let unexpectedText = Self(.unexpectedText, line: 0, "unexpected text")
    /// A `# TYPE` line with a type the format does not have.
    public static let invalidType = Self(.invalidType, line: 0, "invalid metric type")
    /// An OpenMetrics body that does not end with `# EOF`.
    public static let missingEOF = Self(.missingEOF, line: 0, "data does not end with # EOF")
    /// An OpenMetrics body with text after `# EOF`.
    public static let textAfterEOF = Self(.textAfterEOF, line: 0, "text after # EOF")
    /// A body too large for the 32-bit offsets of a batch's arena.
    public static let bodyTooLarge = Self(.bodyTooLarge, line: 0, "body too large")

    /// The same kind of error on `line`, saying what was found there.
    @inline(never)
    func at(line: Int, _ detail: String) -> Self {
        Self(kind, line: line, "\(reason): \(detail)")
    }
}
