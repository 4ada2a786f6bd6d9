/// Why a zstd stream could not be decompressed.
///
/// Equality compares the kind of failure only, so `error == .corruptInput` matches whatever detail zstd reported.
public struct ZstdError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case corruptInput
        case truncatedInput
        case tooLarge
        case libraryFailure
    }

    private let kind: Kind

    /// zstd's own explanation, such as "Unknown frame descriptor", when it gave one.
    public let detail: String?

    /// The limit that was exceeded, when the failure is `tooLarge`.
    public let limit: Int?

    private init(_ kind: Kind, detail: String? = nil, limit: Int? = nil) {
        self.kind = kind
        self.detail = detail
        self.limit = limit
    }

    /// The input is not a valid stream: bad magic number, bad checksum, invalid blocks.
    public static let corruptInput = ZstdError(.corruptInput)

    /// The input ended before the last frame did.
    public static let truncatedInput = ZstdError(.truncatedInput)

    /// Decompressing would produce more than the caller's limit, or needs a larger window than it allows.
    public static let tooLarge = ZstdError(.tooLarge)

    /// libzstd itself failed (out of memory), not the input.
    public static let libraryFailure = ZstdError(.libraryFailure)

    static func corruptInput(detail: String) -> ZstdError {
        ZstdError(.corruptInput, detail: detail)
    }

    static func tooLarge(limit: Int, detail: String? = nil) -> ZstdError {
        ZstdError(.tooLarge, detail: detail, limit: limit)
    }

    static func libraryFailure(detail: String) -> ZstdError {
        ZstdError(.libraryFailure, detail: detail)
    }

    public static func == (lhs: ZstdError, rhs: ZstdError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }

    public var description: String {
        let suffix = detail.map { " (\($0))" } ?? ""
        switch kind {
        case .corruptInput:
            return "zstd: corrupt input\(suffix)"
        case .truncatedInput:
            return "zstd: input ended before the end of the compressed stream"
        case .tooLarge:
            guard let limit else { return "zstd: decompressed size exceeds the limit\(suffix)" }
            return "zstd: decompressed size exceeds the limit of \(limit) bytes\(suffix)"
        case .libraryFailure:
            return "zstd: libzstd failed\(suffix)"
        }
    }
}
