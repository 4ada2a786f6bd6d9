/// Why a Snappy block could not be decompressed.
///
/// Equality compares the kind of failure only, so `error == .tooLarge` matches whatever sizes the error carries;
/// the sizes are there for the message and for callers that want to report them.
public struct SnappyError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case corruptInput
        case tooLarge
    }

    private let kind: Kind

    /// The length the block header declares, when the failure is `tooLarge`.
    public let declaredLength: Int?

    /// The limit the declared length was checked against, when the failure is `tooLarge`.
    public let limit: Int?

    private init(_ kind: Kind, declaredLength: Int? = nil, limit: Int? = nil) {
        self.kind = kind
        self.declaredLength = declaredLength
        self.limit = limit
    }

    /// The input is not a valid Snappy block, or it was cut short.
    public static let corruptInput = SnappyError(.corruptInput)

    /// The block declares a decompressed size above the caller's limit.
    public static let tooLarge = SnappyError(.tooLarge)

    static func tooLarge(declaredLength: Int, limit: Int) -> SnappyError {
        SnappyError(.tooLarge, declaredLength: declaredLength, limit: limit)
    }

    public static func == (lhs: SnappyError, rhs: SnappyError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }

    public var description: String {
        switch kind {
        case .corruptInput:
            return "snappy: corrupt or truncated input"
        case .tooLarge:
            guard let declaredLength, let limit else {
                return "snappy: declared decompressed size exceeds the limit"
            }
            return "snappy: declared decompressed size \(declaredLength) bytes exceeds the limit of \(limit)"
        }
    }
}
