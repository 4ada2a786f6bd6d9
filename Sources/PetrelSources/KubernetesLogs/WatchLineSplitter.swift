import NIOCore

/// Cuts a watch's body into its newline-delimited JSON events, whatever chunks the bytes arrive in.
///
/// A line longer than `maxLineBytes` (an apiserver never sends one: etcd caps an object at 1.5 MiB) is an error,
/// not a reason to buffer without bound.
struct WatchLineSplitter {
    let maxLineBytes: Int
    private var pending: [UInt8] = []
    private var start = 0

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Adds the next chunk of the body.
    mutating func append(_ chunk: ByteBuffer) {
        if start > 0, start >= pending.count / 2 {
            pending.removeFirst(start)
            start = 0
        }
        pending.append(contentsOf: chunk.readableBytesView)
    }

    /// The next whole line without its newline (blank lines skipped); nil until one is complete.
    mutating func nextLine() throws(KubernetesAPIError) -> ArraySlice<UInt8>? {
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var line = pending[start..<newline]
            start = newline + 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard line.count <= maxLineBytes else { throw tooLong(line.count) }
            if !line.isEmpty { return line }
        }
        guard pending.count - start <= maxLineBytes else { throw tooLong(pending.count - start) }
        return nil
    }

    /// Bytes after the last newline: a line the server cut off.
    var unfinishedBytes: Int { pending.count - start }

    private func tooLong(_ count: Int) -> KubernetesAPIError {
        .malformed("a watch event is longer than \(maxLineBytes) bytes (\(count) so far)")
    }
}
