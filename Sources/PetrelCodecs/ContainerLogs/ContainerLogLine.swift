/// The output stream a container wrote a line to.
public enum ContainerLogStream: String, Sendable, Hashable, CaseIterable {
    case stdout
    case stderr
}

/// One line of a container log file, parsed: CRI (containerd, CRI-O) or Docker `json-file`.
public struct ContainerLogLine: Sendable, Hashable {
    /// When the runtime received the line, in nanoseconds since the Unix epoch.
    public var timestamp: Int64
    public var stream: ContainerLogStream
    /// Whether the runtime split a longer line here and more of it follows (CRI `P`; Docker: no trailing newline).
    public var isPartial: Bool
    /// The line's text without its newline, cut to `ContainerLogLimits.maxLineBytes`.
    public var message: ArraySlice<UInt8>
    /// How many bytes of the message were cut off by `maxLineBytes`.
    public var truncatedBytes: Int

    public init(
        timestamp: Int64, stream: ContainerLogStream, isPartial: Bool, message: ArraySlice<UInt8>,
        truncatedBytes: Int = 0
    ) {
        self.timestamp = timestamp
        self.stream = stream
        self.isPartial = isPartial
        self.message = message
        self.truncatedBytes = truncatedBytes
    }
}

/// How a container log file is written; each file holds one format, told from its first line.
public enum ContainerLogFormat: String, Sendable, Hashable, CaseIterable {
    /// `<RFC 3339 time> <stdout|stderr> <P|F>[:tags] <message>`, as containerd and CRI-O write it.
    case cri
    /// `{"log":"…\n","stream":"stdout","time":"…"}`, Docker's `json-file` driver.
    case docker

    /// The format of a file whose first line is `line`: a JSON object is Docker's, anything else CRI.
    public static func detect(firstLine line: some Collection<UInt8>) -> ContainerLogFormat {
        line.first == UInt8(ascii: "{") ? .docker : .cri
    }
}

/// Bounds on the size of log lines: longer content is cut off and counted, never dropped whole.
public struct ContainerLogLimits: Sendable, Hashable {
    /// The longest message of one line as the runtime wrote it (one piece of a split line), in bytes.
    public var maxLineBytes: Int
    /// The longest message once partial pieces are joined, in bytes; never less than `maxLineBytes`.
    public var maxMergedLineBytes: Int

    public init(maxLineBytes: Int = 32 * 1024, maxMergedLineBytes: Int = 1024 * 1024) {
        self.maxLineBytes = max(maxLineBytes, 0)
        self.maxMergedLineBytes = max(maxMergedLineBytes, self.maxLineBytes)
    }

    /// `bytes` cut to at most `limit` bytes, backing off to the start of a UTF-8 sequence so that no character is
    /// split (unless the sequence is longer than UTF-8 allows), and how many bytes were cut off.
    static func cut(_ bytes: ArraySlice<UInt8>, to limit: Int) -> (kept: ArraySlice<UInt8>, removed: Int) {
        guard bytes.count > limit else { return (bytes, 0) }
        var end = bytes.startIndex + limit
        let floor = max(bytes.startIndex, end - 3)
        while end > floor, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        if bytes[end] & 0xC0 == 0x80 { end = bytes.startIndex + limit }
        return (bytes[..<end], bytes.endIndex - end)
    }
}
