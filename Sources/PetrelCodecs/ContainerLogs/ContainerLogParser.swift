/// Parses the lines of container log files: CRI as containerd and CRI-O write it, and Docker's `json-file`.
///
/// Pure and allocation-light: a CRI message and a Docker message without escapes (other than the final `\n`) are
/// slices of the line; only a Docker message with escapes is decoded into new bytes, and never more than
/// `limits.maxLineBytes` of it. Messages longer than that are cut (at a UTF-8 character boundary) and the cut bytes
/// counted in `truncatedBytes`.
public struct ContainerLogParser: Sendable {
    public var limits: ContainerLogLimits

    public init(limits: ContainerLogLimits = ContainerLogLimits()) {
        self.limits = limits
    }

    /// Parses `line` (without its trailing newline) in `format`.
    public func parse(
        _ line: ArraySlice<UInt8>, format: ContainerLogFormat
    ) throws(ContainerLogParseError) -> ContainerLogLine {
        switch format {
        case .cri: return try parseCRI(line)
        case .docker: return try parseDocker(line)
        }
    }

    /// Parses `<RFC 3339 time> <stdout|stderr> <P|F>[:tags] <message>`.
    public func parseCRI(_ line: ArraySlice<UInt8>) throws(ContainerLogParseError) -> ContainerLogLine {
        guard !line.isEmpty else { throw .emptyLine }
        let header = try Self.withBytes(line) { (bytes) throws(ContainerLogParseError) in
            try Self.criHeader(bytes)
        }
        let (message, truncated) = ContainerLogLimits.cut(
            line[(line.startIndex + header.messageStart)...], to: limits.maxLineBytes)
        return ContainerLogLine(
            timestamp: header.timestamp, stream: header.stream, isPartial: header.isPartial, message: message,
            truncatedBytes: truncated)
    }

    /// Parses `{"log":"…","stream":"stdout|stderr","time":"<RFC 3339>"}`; other keys are skipped.
    ///
    /// A `log` value without a trailing newline is a piece of a line Docker split (at 16 KiB); the newline of a
    /// whole line is not part of the message.
    public func parseDocker(_ line: ArraySlice<UInt8>) throws(ContainerLogParseError) -> ContainerLogLine {
        guard !line.isEmpty else { throw .emptyLine }
        let limit = limits.maxLineBytes
        let fields = try Self.withBytes(line) { (bytes) throws(ContainerLogParseError) in
            var scanner = DockerLineScanner(bytes: bytes)
            return try scanner.scanLine(decodingUpTo: limit)
        }
        var message: ArraySlice<UInt8>
        var dropped = 0
        var endsWithNewline: Bool
        switch fields.log {
        case .raw(let range, let newline):
            message = line[(line.startIndex + range.lowerBound)..<(line.startIndex + range.upperBound)]
            endsWithNewline = newline
        case .decoded(let bytes, let droppedCount, let newline):
            message = bytes[...]
            dropped = droppedCount
            endsWithNewline = newline
            // The newline is either the last byte kept or among those dropped.
            if newline {
                if dropped > 0 { dropped -= 1 } else { message = message.dropLast() }
            }
        }
        let (kept, removed) = ContainerLogLimits.cut(message, to: limit)
        return ContainerLogLine(
            timestamp: fields.timestamp, stream: fields.stream, isPartial: !endsWithNewline, message: kept,
            truncatedBytes: removed + dropped)
    }

    // MARK: CRI

    private struct CRIHeader {
        var timestamp: Int64
        var stream: ContainerLogStream
        var isPartial: Bool
        var messageStart: Int
    }

    private static func criHeader(_ bytes: UnsafeRawBufferPointer) throws(ContainerLogParseError) -> CRIHeader {
        guard let timeEnd = space(in: bytes, from: 0) else { throw .missingField("stream", line: bytes) }
        let time = UnsafeRawBufferPointer(rebasing: bytes[0..<timeEnd])
        guard let timestamp = ContainerLogTimestamp.parse(time) else { throw .invalidTimestamp(time) }
        let streamStart = timeEnd + 1
        guard let streamEnd = space(in: bytes, from: streamStart) else { throw .missingField("tag", line: bytes) }
        let stream = try Self.stream(UnsafeRawBufferPointer(rebasing: bytes[streamStart..<streamEnd]))
        let tagStart = streamEnd + 1
        // containerd writes a space before an empty message; a line that ends at its tag is taken as empty too.
        let tagEnd = space(in: bytes, from: tagStart) ?? bytes.count
        let tag = UnsafeRawBufferPointer(rebasing: bytes[tagStart..<tagEnd])
        guard let first = tag.first, first == UInt8(ascii: "P") || first == UInt8(ascii: "F"),
            tag.count == 1 || tag[1] == UInt8(ascii: ":")
        else { throw .invalidTag(tag) }
        return CRIHeader(
            timestamp: timestamp, stream: stream, isPartial: first == UInt8(ascii: "P"),
            messageStart: min(tagEnd + 1, bytes.count))
    }

    @inline(__always)
    private static func space(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: " ") { return index }
            index += 1
        }
        return nil
    }

    static func stream(_ text: UnsafeRawBufferPointer) throws(ContainerLogParseError) -> ContainerLogStream {
        if text.elementsEqual("stdout".utf8) { return .stdout }
        if text.elementsEqual("stderr".utf8) { return .stderr }
        throw .invalidStream(text)
    }

    // withUnsafeBytes is rethrows, which erases typed throws; this keeps ContainerLogParseError in the signature.
    private static func withBytes<R>(
        _ bytes: ArraySlice<UInt8>,
        _ body: (UnsafeRawBufferPointer) throws(ContainerLogParseError) -> R
    ) throws(ContainerLogParseError) -> R {
        let result: Result<R, ContainerLogParseError> = bytes.withUnsafeBytes { buffer in
            do throws(ContainerLogParseError) {
                return .success(try body(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
