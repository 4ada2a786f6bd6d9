import PetrelCore

/// Bytes of one open file: the file (as the tailer numbers its open files) and a range of offsets in it.
struct FileSpan: Sendable, Equatable {
    var file: UInt64
    var range: Range<Int64>
}

/// A line handed to a decoder, with where it came from.
struct SourcedLine: Sendable {
    var line: FileLine
    /// The tailer's number for the open file.
    var file: UInt64
    /// The file's path when the line was read.
    var path: String

    var span: FileSpan { FileSpan(file: file, range: line.range) }
}

/// What a decoder made of some lines: a record (or nothing, for lines it consumed without one), and the bytes of
/// every line it was made of, possibly in two files, which its acknowledgement marks delivered.
struct DecodedRecord: Sendable {
    var record: LogRecord?
    var spans: [FileSpan]
}

/// Turns the lines of one stream into records: the seam where `file` (plain lines, multiline) and
/// `kubernetes_logs` (CRI and Docker lines, partial-line merging) differ.
///
/// A decoder is a value owned by its stream. Every line handed in must come back, exactly once, in the spans of
/// one `DecodedRecord`, now or from a later call: the checkpoint cannot pass a line that is not given back, so a
/// line held forever holds its file's checkpoint forever.
protocol LineDecoder {
    /// Decodes one line, appending what is complete to `output`.
    mutating func decode(_ line: SourcedLine, into output: inout [DecodedRecord])
    /// Appends what has waited too long at `now` for the lines that would complete it (multiline timeouts).
    mutating func flushExpired(now: ContinuousClock.Instant, into output: inout [DecodedRecord])
    /// Appends everything held: the stream ended.
    mutating func flush(into output: inout [DecodedRecord])
}

/// The `file` source's records: one line, or the lines `multiline` joins, with `file` and `host` as Vector sets them.
struct FileLineDecoder: LineDecoder {
    let host: String
    private var multiline: MultilineAggregator?

    init(host: String, multiline: MultilineConfig?) {
        self.host = host
        self.multiline = multiline.map(MultilineAggregator.init)
    }

    mutating func decode(_ line: SourcedLine, into output: inout [DecodedRecord]) {
        guard multiline != nil else {
            output.append(record([line]))
            return
        }
        for group in multiline!.add(line, now: .now) { output.append(record(group)) }
    }

    mutating func flushExpired(now: ContinuousClock.Instant, into output: inout [DecodedRecord]) {
        if let group = multiline?.flush(expiredAt: now) { output.append(record(group)) }
    }

    mutating func flush(into output: inout [DecodedRecord]) {
        if let group = multiline?.flush(expiredAt: nil) { output.append(record(group)) }
    }

    private func record(_ lines: [SourcedLine]) -> DecodedRecord {
        var bytes: [UInt8] = []
        for (index, line) in lines.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: "\n")) }
            bytes.append(contentsOf: line.line.bytes)
        }
        // Invalid UTF-8 becomes U+FFFD here, the one place bytes become text.
        let record = LogRecord(
            timestamp: WallClock.nowNanoseconds(), message: String(decoding: bytes, as: UTF8.self),
            metadata: ["file": lines[0].path, "host": host, "source_type": "file"])
        return DecodedRecord(record: record, spans: lines.map(\.span))
    }
}
