import CZlib

/// zlib-wrapped and gzip deflate compression (HTTP `deflate` and `gzip` bodies), over the system zlib.
public enum Zlib {
    /// The level zlib's Z_DEFAULT_COMPRESSION stands for: a good speed/size balance.
    public static let defaultLevel = 6

    /// Compresses `input` into `output`, replacing its contents; reusing `output` across calls avoids allocating.
    ///
    /// - Parameter level: 0 (store only) through 9 (smallest, slowest).
    public static func compress(
        _ input: UnsafeRawBufferPointer,
        into output: inout [UInt8],
        format: Format,
        level: Int = defaultLevel
    ) {
        precondition((0...9).contains(level), "zlib compression level must be in 0...9, got \(level)")
        // z_stream must not move between calls: zlib stores a pointer back to it and rejects a moved stream.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let initCode = deflateInit2_(
            stream, Int32(level), Z_DEFLATED, format.windowBits, 8, Z_DEFAULT_STRATEGY,
            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)
        )
        precondition(initCode == Z_OK, "deflateInit2_ failed with code \(initCode)")

        // deflateBound is exact enough that one deflate call normally finishes; the loop covers the rest.
        let bound = Int(deflateBound(stream, uLong(input.count)))
        output.resizeWithoutShrinkingCapacity(to: max(bound, 64))
        var produced = 0
        var fed = 0
        while true {
            if stream.pointee.avail_in == 0 && fed < input.count {
                let chunk = min(input.count - fed, Int(UInt32.max))
                stream.pointee.next_in = mutableBytes(input, at: fed)
                stream.pointee.avail_in = uInt(chunk)
                fed += chunk
            }
            if produced == output.count {
                output.resizeWithoutShrinkingCapacity(to: output.count * 2)
            }
            let flush = fed == input.count ? Z_FINISH : Z_NO_FLUSH
            let code = output.withUnsafeMutableBytes { out in
                let space = min(out.count - produced, Int(UInt32.max))
                stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                stream.pointee.avail_out = uInt(space)
                let code = deflate(stream, flush)
                produced += space - Int(stream.pointee.avail_out)
                return code
            }
            if code == Z_STREAM_END { break }
            // Z_BUF_ERROR only means "no room to make progress", which the next iteration fixes.
            precondition(code == Z_OK || code == Z_BUF_ERROR, "deflate failed with code \(code)")
        }
        output.resizeWithoutShrinkingCapacity(to: produced)
    }

    /// Compresses `input` into `output`, replacing its contents.
    public static func compress(
        _ input: [UInt8],
        into output: inout [UInt8],
        format: Format,
        level: Int = defaultLevel
    ) {
        input.withUnsafeBytes { compress($0, into: &output, format: format, level: level) }
    }

    /// Returns `input` compressed in `format`.
    public static func compress(
        _ input: UnsafeRawBufferPointer,
        format: Format,
        level: Int = defaultLevel
    ) -> [UInt8] {
        var output: [UInt8] = []
        compress(input, into: &output, format: format, level: level)
        return output
    }

    /// Returns `input` compressed in `format`.
    public static func compress(_ input: [UInt8], format: Format, level: Int = defaultLevel) -> [UInt8] {
        var output: [UInt8] = []
        compress(input, into: &output, format: format, level: level)
        return output
    }

    /// Decompresses `input` into `output`, replacing its contents; reusing `output` across calls avoids allocating.
    ///
    /// Inflates in steps into a growing buffer and stops as soon as the output passes `maxDecompressedLength`, so a
    /// small hostile body cannot expand into gigabytes. Concatenated gzip members (RFC 1952) are joined; other bytes
    /// after the end of the stream are rejected. On failure `output` holds unspecified bytes.
    ///
    /// - Parameter format: The expected container, or nil to accept either, detected from the header.
    public static func decompress(
        _ input: UnsafeRawBufferPointer,
        into output: inout [UInt8],
        format: Format? = nil,
        maxDecompressedLength: Int
    ) throws(ZlibError) {
        precondition(maxDecompressedLength >= 0, "maxDecompressedLength must not be negative")
        let isGzip = format == .gzip || (format == nil && hasGzipMagic(input, at: 0))
        let name = isGzip ? "gzip" : "zlib"
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        // 15 + 32 makes zlib detect the container from the header.
        let windowBits = format?.windowBits ?? 15 + 32
        let initCode = inflateInit2_(stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initCode == Z_OK else { throw .libraryFailure(name, code: initCode, detail: message(stream)) }

        // One byte beyond the limit is enough to prove the limit was exceeded.
        let ceiling = maxDecompressedLength == Int.max ? Int.max : maxDecompressedLength + 1
        let firstGuess = input.count > Int.max / 4 ? Int.max : max(input.count * 4, 4096)
        // Growing from a guess rather than the reused buffer's capacity spares zero-filling memory a small body
        // never reaches; growth within that capacity does not allocate.
        output.resizeWithoutShrinkingCapacity(to: min(ceiling, firstGuess))
        var produced = 0
        var fed = 0
        while true {
            if stream.pointee.avail_in == 0 && fed < input.count {
                let chunk = min(input.count - fed, Int(UInt32.max))
                stream.pointee.next_in = mutableBytes(input, at: fed)
                stream.pointee.avail_in = uInt(chunk)
                fed += chunk
            }
            if produced == output.count {
                let doubled = output.count > Int.max / 2 ? Int.max : max(output.count * 2, 4096)
                output.resizeWithoutShrinkingCapacity(to: min(ceiling, doubled))
            }
            let code = output.withUnsafeMutableBytes { out in
                let space = min(out.count - produced, Int(UInt32.max))
                stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                stream.pointee.avail_out = uInt(space)
                let code = inflate(stream, Z_NO_FLUSH)
                produced += space - Int(stream.pointee.avail_out)
                return code
            }
            // Checked after every call, since the stream can end on exactly the byte that crosses the limit.
            guard produced <= maxDecompressedLength else { throw .tooLarge(name, limit: maxDecompressedLength) }
            switch code {
            case Z_OK:
                continue
            case Z_STREAM_END:
                let remaining = Int(stream.pointee.avail_in) + (input.count - fed)
                if remaining == 0 {
                    output.resizeWithoutShrinkingCapacity(to: produced)
                    return
                }
                let unread = fed - Int(stream.pointee.avail_in)
                guard isGzip, hasGzipMagic(input, at: unread) else {
                    throw .corruptInput(name, detail: "\(remaining) bytes after the end of the stream")
                }
                let resetCode = inflateReset(stream)
                guard resetCode == Z_OK else {
                    throw .libraryFailure(name, code: resetCode, detail: message(stream))
                }
            case Z_BUF_ERROR:
                // No progress is possible: with output room left, that can only mean the input ran out.
                if produced < output.count {
                    throw .truncatedInput(name)
                }
            case Z_DATA_ERROR:
                throw .corruptInput(name, detail: message(stream))
            case Z_NEED_DICT:
                throw .corruptInput(name, detail: "stream needs a preset dictionary")
            default:
                throw .libraryFailure(name, code: code, detail: message(stream))
            }
        }
    }

    /// Decompresses `input` into `output`, replacing its contents; see the raw-buffer overload for the details.
    public static func decompress(
        _ input: [UInt8],
        into output: inout [UInt8],
        format: Format? = nil,
        maxDecompressedLength: Int
    ) throws(ZlibError) {
        try withBytes(input) { (buffer) throws(ZlibError) in
            try decompress(buffer, into: &output, format: format, maxDecompressedLength: maxDecompressedLength)
        }
    }

    /// Returns the decompressed contents of `input`; see the `into:` overload for the details.
    public static func decompress(
        _ input: UnsafeRawBufferPointer,
        format: Format? = nil,
        maxDecompressedLength: Int
    ) throws(ZlibError) -> [UInt8] {
        var output: [UInt8] = []
        try decompress(input, into: &output, format: format, maxDecompressedLength: maxDecompressedLength)
        return output
    }

    /// Returns the decompressed contents of `input`; see the `into:` overload for the details.
    public static func decompress(
        _ input: [UInt8],
        format: Format? = nil,
        maxDecompressedLength: Int
    ) throws(ZlibError) -> [UInt8] {
        var output: [UInt8] = []
        try decompress(input, into: &output, format: format, maxDecompressedLength: maxDecompressedLength)
        return output
    }

    private static func mutableBytes(_ input: UnsafeRawBufferPointer, at offset: Int) -> UnsafeMutablePointer<Bytef> {
        // zlib never writes through next_in; the C header just lacks the const.
        UnsafeMutableRawPointer(mutating: input.baseAddress!).assumingMemoryBound(to: Bytef.self) + offset
    }

    /// Whether a gzip member starts at `offset`; RFC 1952 allows several members back to back.
    private static func hasGzipMagic(_ input: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        input.count - offset >= 2 && input[offset] == 0x1f && input[offset + 1] == 0x8b
    }

    private static func message(_ stream: UnsafeMutablePointer<z_stream>) -> String? {
        stream.pointee.msg.map { String(cString: $0) }
    }

    // withUnsafeBytes is rethrows, which erases typed throws; this keeps ZlibError in the signature.
    private static func withBytes<R>(
        _ input: [UInt8],
        _ body: (UnsafeRawBufferPointer) throws(ZlibError) -> R
    ) throws(ZlibError) -> R {
        let result: Result<R, ZlibError> = input.withUnsafeBytes { buffer in
            do throws(ZlibError) {
                return .success(try body(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
