/// Why a container log line could not be parsed; its description says what was wrong and shows the bytes.
///
/// Equality compares the kind of failure only, so `error == .invalidTimestamp` matches whatever the timestamp was.
public struct ContainerLogParseError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case emptyLine
        case missingField
        case invalidTimestamp
        case invalidStream
        case invalidTag
        case malformedJSON
        case invalidEscape
        case missingKey
    }

    private let kind: Kind
    private let reason: String

    private init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// The line has no bytes.
    public static let emptyLine = ContainerLogParseError(.emptyLine, "empty line")

    /// A CRI line ends before its stream or tag.
    public static let missingField = ContainerLogParseError(.missingField, "missing field")

    /// The time is not RFC 3339 with at most nine fractional digits, or lies outside what 64-bit nanoseconds hold.
    public static let invalidTimestamp = ContainerLogParseError(.invalidTimestamp, "invalid timestamp")

    /// The stream is neither `stdout` nor `stderr`.
    public static let invalidStream = ContainerLogParseError(.invalidStream, "invalid stream")

    /// A CRI tag is neither `P` nor `F` (optionally followed by `:` and more tags).
    public static let invalidTag = ContainerLogParseError(.invalidTag, "invalid tag")

    /// A Docker line is not one JSON object, or a known key holds something other than a string.
    public static let malformedJSON = ContainerLogParseError(.malformedJSON, "malformed JSON")

    /// A JSON string has a backslash escape JSON does not define, or a raw control character.
    public static let invalidEscape = ContainerLogParseError(.invalidEscape, "invalid escape in JSON string")

    /// A Docker line lacks `log`, `stream` or `time`.
    public static let missingKey = ContainerLogParseError(.missingKey, "missing key")

    public static func == (lhs: ContainerLogParseError, rhs: ContainerLogParseError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }

    public var description: String { reason }

    // MARK: Making errors (cold paths, kept out of line)

    @inline(never)
    static func missingField(_ field: String, line: UnsafeRawBufferPointer) -> Self {
        Self(.missingField, "CRI line ends before its \(field): \(quoted(line))")
    }

    @inline(never)
    static func invalidTimestamp(_ text: UnsafeRawBufferPointer) -> Self {
        Self(
            .invalidTimestamp,
            "invalid timestamp \(quoted(text)): expected RFC 3339 such as 2024-01-01T00:00:00.123456789Z")
    }

    @inline(never)
    static func invalidStream(_ text: UnsafeRawBufferPointer) -> Self {
        Self(.invalidStream, "invalid stream \(quoted(text)): expected stdout or stderr")
    }

    @inline(never)
    static func invalidTag(_ text: UnsafeRawBufferPointer) -> Self {
        Self(.invalidTag, "invalid CRI tag \(quoted(text)): expected P or F")
    }

    @inline(never)
    static func malformedJSON(_ what: String, at offset: Int) -> Self {
        Self(.malformedJSON, "malformed Docker JSON line at byte \(offset): \(what)")
    }

    @inline(never)
    static func invalidEscape(_ what: String, at offset: Int) -> Self {
        Self(.invalidEscape, "invalid JSON string at byte \(offset): \(what)")
    }

    @inline(never)
    static func missingKey(_ key: String) -> Self {
        Self(.missingKey, "Docker JSON line has no \"\(key)\" string")
    }

    /// Bytes for a message: quoted and escaped so control bytes cannot break a log line, and cut short.
    private static func quoted(_ bytes: UnsafeRawBufferPointer) -> String {
        let limit = 64
        let text = String(decoding: bytes.prefix(limit), as: UTF8.self)
        return text.debugDescription + (bytes.count > limit ? "…" : "")
    }
}
