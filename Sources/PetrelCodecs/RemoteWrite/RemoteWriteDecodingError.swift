/// Why a remote-write request was rejected; its description is one line fit for the body of an HTTP 400.
///
/// Equality compares the kind of failure only, so `error == .duplicateLabelName` matches whichever series and label
/// it was; the description says which.
public struct RemoteWriteDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case truncated
        case malformedVarint
        case invalidFieldKey
        case groupWireType
        case wrongWireType
        case requestTooLarge
        case noLabels
        case emptyLabelName
        case duplicateLabelName
        case tooManyLabels
        case labelNameTooLong
        case labelValueTooLong
        case invalidLabelName
        case symbolRefOutOfRange
        case oddLabelRefs
    }

    private let kind: Kind
    private let reason: String

    private init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// A value or a field runs past the end of its message.
    public static let truncated = RemoteWriteDecodingError(.truncated, "truncated protobuf value")

    /// A varint is longer than ten bytes or overflows 64 bits.
    public static let malformedVarint = RemoteWriteDecodingError(.malformedVarint, "malformed varint")

    /// A field key has field number 0 or an undefined wire type.
    public static let invalidFieldKey = RemoteWriteDecodingError(.invalidFieldKey, "invalid field key")

    /// A field uses the deprecated group wire types.
    public static let groupWireType = RemoteWriteDecodingError(.groupWireType, "deprecated group wire type")

    /// A known field came with a wire type its schema does not allow.
    public static let wrongWireType = RemoteWriteDecodingError(.wrongWireType, "wrong wire type for a known field")

    /// The request is too large for the 32-bit offsets of a batch's arena.
    public static let requestTooLarge = RemoteWriteDecodingError(.requestTooLarge, "request too large")

    /// A series has no labels.
    public static let noLabels = RemoteWriteDecodingError(.noLabels, "series without labels")

    /// A label has an empty name.
    public static let emptyLabelName = RemoteWriteDecodingError(.emptyLabelName, "empty label name")

    /// A series has two labels with the same name.
    public static let duplicateLabelName = RemoteWriteDecodingError(.duplicateLabelName, "duplicate label name")

    /// A series has more labels than `Limits.maxLabelsPerSeries`.
    public static let tooManyLabels = RemoteWriteDecodingError(.tooManyLabels, "too many labels")

    /// A label name is longer than `Limits.maxLabelNameLength`.
    public static let labelNameTooLong = RemoteWriteDecodingError(.labelNameTooLong, "label name too long")

    /// A label value is longer than `Limits.maxLabelValueLength`.
    public static let labelValueTooLong = RemoteWriteDecodingError(.labelValueTooLong, "label value too long")

    /// A label name is not valid UTF-8.
    public static let invalidLabelName = RemoteWriteDecodingError(.invalidLabelName, "label name is not valid UTF-8")

    /// A 2.0 reference points past the end of the symbols table.
    public static let symbolRefOutOfRange = RemoteWriteDecodingError(.symbolRefOutOfRange, "symbol ref out of range")

    /// A 2.0 `labels_refs` list has an odd length, so its last name has no value.
    public static let oddLabelRefs = RemoteWriteDecodingError(.oddLabelRefs, "odd number of labels_refs")

    public static func == (lhs: RemoteWriteDecodingError, rhs: RemoteWriteDecodingError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }

    public var description: String { reason }

    // MARK: Making errors (cold paths, kept out of line)

    /// The message being decoded, named as the error messages name it.
    enum Message {
        case v1
        case v2

        var name: String {
            switch self {
            case .v1: return "WriteRequest"
            case .v2: return "io.prometheus.write.v2.Request"
            }
        }
    }

    /// Where in the request something went wrong: a series, optionally one of its exemplars, or a v1 metadata entry.
    struct Location {
        var series: Int?
        var exemplar: Int?
        var metadata: Int?

        static let request = Location()

        static func series(_ index: Int) -> Location {
            Location(series: index)
        }

        var name: String {
            var name = ""
            if let series { name = "series \(series)" }
            if let exemplar { name += " exemplar \(exemplar)" }
            if let metadata { name = "metadata \(metadata)" }
            return name
        }
    }

    @inline(never)
    init(_ error: ProtobufDecodingError, decoding message: Message, at location: Location) {
        let kind: Kind
        switch error {
        case .truncated: kind = .truncated
        case .malformedVarint: kind = .malformedVarint
        case .invalidFieldKey: kind = .invalidFieldKey
        case .groupWireType: kind = .groupWireType
        default: kind = .wrongWireType
        }
        let place = location.name
        self.init(kind, "cannot decode \(message.name): " + (place.isEmpty ? "" : place + ": ") + error.description)
    }

    @inline(never)
    static func requestTooLarge(_ count: Int) -> Self {
        Self(.requestTooLarge, "request of \(count) bytes is too large; the limit is \(UInt32.max) bytes")
    }

    @inline(never)
    static func noLabels(_ location: Location) -> Self {
        Self(.noLabels, "\(location.name) has no labels")
    }

    @inline(never)
    static func emptyLabelName(_ location: Location) -> Self {
        Self(.emptyLabelName, "\(location.name) has a label with an empty name")
    }

    @inline(never)
    static func duplicateLabelName(_ location: Location, name: UnsafeRawBufferPointer) -> Self {
        Self(.duplicateLabelName, "\(location.name) has duplicate label \(quoted(name))")
    }

    @inline(never)
    static func tooManyLabels(_ location: Location, count: Int, limit: Int) -> Self {
        Self(.tooManyLabels, "\(location.name) has \(count) labels; the limit is \(limit)")
    }

    @inline(never)
    static func labelNameTooLong(_ location: Location, name: UnsafeRawBufferPointer, limit: Int) -> Self {
        Self(
            .labelNameTooLong,
            "\(location.name) has a label name of \(name.count) bytes (\(quoted(name))); the limit is \(limit)")
    }

    @inline(never)
    static func labelValueTooLong(
        _ location: Location, name: UnsafeRawBufferPointer, length: Int, limit: Int
    ) -> Self {
        Self(
            .labelValueTooLong,
            "\(location.name) label \(quoted(name)) has a value of \(length) bytes; the limit is \(limit)")
    }

    @inline(never)
    static func invalidLabelName(_ location: Location, name: UnsafeRawBufferPointer) -> Self {
        Self(.invalidLabelName, "\(location.name) has a label name that is not valid UTF-8: \(quoted(name))")
    }

    @inline(never)
    static func symbolRefOutOfRange(_ location: Location, field: String, ref: UInt64, symbols: Int) -> Self {
        Self(.symbolRefOutOfRange, "\(location.name): \(field) index \(ref) out of range (symbols: \(symbols))")
    }

    @inline(never)
    static func oddLabelRefs(_ location: Location, count: Int) -> Self {
        Self(.oddLabelRefs, "\(location.name) has an odd number of labels_refs (\(count))")
    }

    /// A label name for a message: quoted and escaped so control bytes cannot break the response, and cut short.
    private static func quoted(_ bytes: UnsafeRawBufferPointer) -> String {
        let limit = 64
        let text = String(decoding: bytes.prefix(limit), as: UTF8.self)
        return text.debugDescription + (bytes.count > limit ? "…" : "")
    }
}
