#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of a file: its bytes without the newline, and the bytes of the file it covers (newline included).
struct FileLine: Sendable, Equatable {
    var bytes: [UInt8]
    var range: Range<Int64>
    /// Bytes past `max_line_bytes` that were cut off.
    var truncatedBytes: Int = 0
}

/// Splits the bytes of one file into lines on `\n`, wherever the reads happen to cut them.
///
/// A line longer than `maxLineBytes` keeps its first `maxLineBytes` bytes; the rest is counted in
/// `truncatedBytes`, and its range still covers the whole line so that the checkpoint can pass it.
struct LineSplitter: Sendable {
    let maxLineBytes: Int
    /// The file offset of the first byte of the line being gathered.
    private(set) var lineStart: Int64
    private var partial: [UInt8] = []
    /// Bytes of the line being gathered seen so far, cut ones included.
    private var partialLength: Int64 = 0

    init(maxLineBytes: Int, offset: Int64) {
        self.maxLineBytes = maxLineBytes
        lineStart = offset
    }

    /// The offset the next byte fed must come from.
    var nextOffset: Int64 { lineStart + partialLength }

    /// Whether part of a line is waiting for its newline.
    var hasPartialLine: Bool { partialLength > 0 }

    /// Splits `bytes`, which continue the file at `nextOffset`, calling `emit` for each complete line.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: (FileLine) -> Void) {
        var position = bytes.startIndex
        while position < bytes.endIndex {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
            guard let start = rest.baseAddress, let found = memchr(start, 0x0A, rest.count) else {
                append(rest)
                return
            }
            let newline = position + (UnsafeRawPointer(found) - start)
            append(UnsafeRawBufferPointer(rebasing: bytes[position..<newline]))
            partialLength += 1
            emit(takeLine(newline: true))
            position = newline + 1
        }
    }

    /// The line still waiting for its newline, as it is: the file ended for good (deleted, rotated away).
    mutating func finish() -> FileLine? {
        hasPartialLine ? takeLine(newline: false) : nil
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let room = max(0, maxLineBytes - partial.count)
        partial.append(contentsOf: bytes.prefix(room))
        partialLength += Int64(bytes.count)
    }

    /// The gathered line; `newline` when its last counted byte is the newline, which is not part of the text.
    private mutating func takeLine(newline: Bool) -> FileLine {
        let end = lineStart + partialLength
        let textLength = partialLength - (newline ? 1 : 0)
        let line = FileLine(
            bytes: partial, range: lineStart..<end, truncatedBytes: Int(textLength) - partial.count)
        partial.removeAll(keepingCapacity: partial.capacity <= 4 * 1024)
        lineStart = end
        partialLength = 0
        return line
    }
}
