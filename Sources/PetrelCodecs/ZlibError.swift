/// Why a zlib or gzip stream could not be decompressed.
///
/// Equality compares the kind of failure only, so `error == .corruptInput` matches whatever detail zlib reported.
public struct ZlibError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case corruptInput
        case truncatedInput
        case tooLarge
        case libraryFailure
    }

    private let kind: Kind

    /// Names the container in messages ("zlib" or "gzip"), so a log line says which request body was bad.
    private let formatName: String

    /// zlib's own explanation, such as "incorrect header check", when it gave one.
    public let detail: String?

    /// The limit that was exceeded, when the failure is `tooLarge`.
    public let limit: Int?

    /// The zlib return code, when the failure is `libraryFailure`.
    public let code: Int32?

    private init(
        _ kind: Kind,
        formatName: String = "zlib",
        detail: String? = nil,
        limit: Int? = nil,
        code: Int32? = nil
    ) {
        self.kind = kind
        self.formatName = formatName
        self.detail = detail
        self.limit = limit
        self.code = code
    }

    /// The input is not a valid stream: bad header, bad checksum, invalid deflate data or bytes after the end.
    public static let corruptInput = ZlibError(.corruptInput)

    /// The input ended before the compressed stream did.
    public static let truncatedInput = ZlibError(.truncatedInput)

    /// Decompressing would produce more than the caller's limit.
    public static let tooLarge = ZlibError(.tooLarge)

    /// zlib itself failed (out of memory or an internal inconsistency), not the input.
    public static let libraryFailure = ZlibError(.libraryFailure)

    static func corruptInput(_ format: String, detail: String?) -> ZlibError {
        ZlibError(.corruptInput, formatName: format, detail: detail)
    }

    static func truncatedInput(_ format: String) -> ZlibError {
        ZlibError(.truncatedInput, formatName: format)
    }

    static func tooLarge(_ format: String, limit: Int) -> ZlibError {
        ZlibError(.tooLarge, formatName: format, limit: limit)
    }

    static func libraryFailure(_ format: String, code: Int32, detail: String?) -> ZlibError {
        ZlibError(.libraryFailure, formatName: format, detail: detail, code: code)
    }

    public static func == (lhs: ZlibError, rhs: ZlibError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }

    public var description: String {
        let suffix = detail.map { " (\($0))" } ?? ""
        switch kind {
        case .corruptInput:
            return "\(formatName): corrupt input\(suffix)"
        case .truncatedInput:
            return "\(formatName): input ended before the end of the compressed stream"
        case .tooLarge:
            guard let limit else { return "\(formatName): decompressed size exceeds the limit" }
            return "\(formatName): decompressed size exceeds the limit of \(limit) bytes"
        case .libraryFailure:
            let codeText = code.map { " with code \($0)" } ?? ""
            return "\(formatName): zlib failed\(codeText)\(suffix)"
        }
    }
}
