/// Joins the pieces of container log lines that the runtime split (CRI `P` lines up to the next `F` of the same
/// stream; Docker lines without a trailing newline) into whole records, stdout and stderr apart.
///
/// Each piece comes with a caller's `Token` (a file and byte range, say), and each record goes out with the tokens of
/// every piece it holds, in order, so the caller can acknowledge exactly what a record covers — also when its pieces
/// sit in two files across a rotation. A piece longer than `maxLineBytes` is cut, a record longer than
/// `maxMergedLineBytes` is cut, and `truncatedBytes` counts both; pieces past the merged limit still hand over their
/// tokens with the record they belong to.
public struct PartialLineMerger<Token> {
    /// A whole line, or what was pending of one at `flush()`.
    public struct Record {
        /// The first piece's timestamp.
        public var timestamp: Int64
        public var stream: ContainerLogStream
        public var message: ArraySlice<UInt8>
        /// Bytes cut off by either limit.
        public var truncatedBytes: Int
        /// Whether the line never saw its last piece (emitted by `flush()`).
        public var isPartial: Bool
        /// The tokens of the pieces the record holds, in the order they were added.
        public var pieces: [Token]
    }

    fileprivate struct Pending {
        var timestamp: Int64
        var message: [UInt8]
        var truncatedBytes: Int
        var pieces: [Token]
        /// When the first piece arrived, so `flush()` hands out records in arrival order.
        var order: UInt64
    }

    public let limits: ContainerLogLimits
    private var stdout: Pending?
    private var stderr: Pending?
    private var arrivals: UInt64 = 0

    public init(limits: ContainerLogLimits = ContainerLogLimits()) {
        self.limits = limits
    }

    /// Whether a partial line waits for its next piece.
    public var hasPending: Bool { stdout != nil || stderr != nil }

    /// Adds a parsed line; returns the record it completes, if any.
    public mutating func add(_ line: ContainerLogLine, token: Token) -> Record? {
        let (piece, cut) = ContainerLogLimits.cut(line.message, to: limits.maxLineBytes)
        let truncated = line.truncatedBytes + cut
        guard var pending = take(line.stream) else {
            if !line.isPartial {
                return Record(
                    timestamp: line.timestamp, stream: line.stream, message: piece, truncatedBytes: truncated,
                    isPartial: false, pieces: [token])
            }
            arrivals &+= 1
            put(
                Pending(
                    timestamp: line.timestamp, message: Array(piece), truncatedBytes: truncated, pieces: [token],
                    order: arrivals),
                line.stream)
            return nil
        }
        let (kept, removed) = ContainerLogLimits.cut(piece, to: limits.maxMergedLineBytes - pending.message.count)
        pending.message.append(contentsOf: kept)
        pending.truncatedBytes += truncated + removed
        pending.pieces.append(token)
        if line.isPartial {
            put(pending, line.stream)
            return nil
        }
        return Self.record(pending, line.stream, isPartial: false)
    }

    /// Ends the input: every pending partial line as it is, marked partial, in the order their first pieces came.
    public mutating func flush() -> [Record] {
        var records: [(order: UInt64, record: Record)] = []
        if let pending = take(.stdout) {
            records.append((pending.order, Self.record(pending, .stdout, isPartial: true)))
        }
        if let pending = take(.stderr) {
            records.append((pending.order, Self.record(pending, .stderr, isPartial: true)))
        }
        return records.sorted { $0.order < $1.order }.map(\.record)
    }

    // Taking the pending line out of its slot leaves its arrays uniquely held, so appending to them never copies.
    private mutating func take(_ stream: ContainerLogStream) -> Pending? {
        switch stream {
        case .stdout:
            defer { stdout = nil }
            return stdout
        case .stderr:
            defer { stderr = nil }
            return stderr
        }
    }

    private mutating func put(_ pending: Pending, _ stream: ContainerLogStream) {
        switch stream {
        case .stdout: stdout = pending
        case .stderr: stderr = pending
        }
    }

    private static func record(_ pending: Pending, _ stream: ContainerLogStream, isPartial: Bool) -> Record {
        Record(
            timestamp: pending.timestamp, stream: stream, message: pending.message[...],
            truncatedBytes: pending.truncatedBytes, isPartial: isPartial, pieces: pending.pieces)
    }
}

extension PartialLineMerger: Sendable where Token: Sendable {}
extension PartialLineMerger.Record: Sendable where Token: Sendable {}
extension PartialLineMerger.Pending: Sendable where Token: Sendable {}
extension PartialLineMerger.Record: Equatable where Token: Equatable {}
