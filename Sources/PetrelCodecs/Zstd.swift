import CZstd

/// Zstandard compression (RFC 8878; HTTP `zstd` bodies), over the system libzstd.
public enum Zstd {
    /// zstd's own default level (ZSTD_CLEVEL_DEFAULT): about gzip's size at several times its speed.
    public static let defaultLevel = 3

    /// The largest window a frame may ask the decoder to hold, as a power of two: zstd's own default limit
    /// (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 128MiB). A smaller output limit lowers it, down to `smallestWindowLog`.
    static let largestWindowLog = 27

    /// 8MiB: the window of level 19 for a stream of unknown size, so what ordinary encoders make always decodes.
    static let smallestWindowLog = 23

    /// Compresses `input` into `output`, replacing its contents; reusing `output` across calls avoids allocating.
    ///
    /// One frame that declares its content size, so a receiver can refuse it by its header.
    ///
    /// - Parameter level: 1 (fastest) through 19 (smallest); 20 to 22 need a large window to decode.
    public static func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8], level: Int = defaultLevel)
    {
        precondition((1...22).contains(level), "zstd compression level must be in 1...22, got \(level)")
        let bound = ZSTD_compressBound(input.count)
        precondition(ZSTD_isError(bound) == 0, "zstd cannot compress \(input.count) bytes at once")
        output.resizeWithoutShrinkingCapacity(to: max(bound, 1))
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress(out.baseAddress, out.count, input.baseAddress, input.count, Int32(level))
        }
        // The output holds the bound, so only a broken library fails here.
        precondition(ZSTD_isError(written) == 0, "ZSTD_compress failed: \(errorName(written))")
        output.resizeWithoutShrinkingCapacity(to: written)
    }

    /// Compresses `input` into `output`, replacing its contents.
    public static func compress(_ input: [UInt8], into output: inout [UInt8], level: Int = defaultLevel) {
        input.withUnsafeBytes { compress($0, into: &output, level: level) }
    }

    /// Returns `input` compressed as one zstd frame.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int = defaultLevel) -> [UInt8] {
        var output: [UInt8] = []
        compress(input, into: &output, level: level)
        return output
    }

    /// Returns `input` compressed as one zstd frame.
    public static func compress(_ input: [UInt8], level: Int = defaultLevel) -> [UInt8] {
        var output: [UInt8] = []
        compress(input, into: &output, level: level)
        return output
    }

    /// Decompresses `input` into `output`, replacing its contents; reusing `output` across calls avoids allocating.
    ///
    /// A frame whose header declares more than `maxDecompressedLength` is refused before any of it is decoded;
    /// otherwise the output grows in steps and decoding stops as soon as it passes the limit, so a small hostile body
    /// cannot expand into gigabytes. The decoder's window is bounded too (a frame asking for a larger one is
    /// `tooLarge`), so neither the output nor the decoder's own memory follows the sender's word. Concatenated frames
    /// (RFC 8878 §3.1) are joined and skippable frames skipped. On failure `output` holds unspecified bytes.
    public static func decompress(
        _ input: UnsafeRawBufferPointer, into output: inout [UInt8], maxDecompressedLength: Int
    ) throws(ZstdError) {
        precondition(maxDecompressedLength >= 0, "maxDecompressedLength must not be negative")
        // (0ULL - 1) and (0ULL - 2) in zstd.h: no size declared, or not a frame (which decoding reports better).
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        if declared < UInt64.max - 1, declared > UInt64(maxDecompressedLength) {
            throw .tooLarge(limit: maxDecompressedLength)
        }
        guard let context = ZSTD_createDCtx() else { throw .libraryFailure(detail: "cannot allocate a context") }
        defer { ZSTD_freeDCtx(context) }
        let windowLog = min(largestWindowLog, max(smallestWindowLog, bitsNeeded(for: maxDecompressedLength)))
        let set = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(windowLog))
        guard ZSTD_isError(set) == 0 else { throw .libraryFailure(detail: errorName(set)) }

        // One byte beyond the limit is enough to prove the limit was exceeded.
        let ceiling = maxDecompressedLength == Int.max ? Int.max : maxDecompressedLength + 1
        let firstGuess =
            declared < UInt64.max - 1
            ? Int(declared) + 1 : input.count > Int.max / 4 ? Int.max : max(input.count * 4, 4096)
        output.resizeWithoutShrinkingCapacity(to: min(ceiling, max(firstGuess, 1)))
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var produced = 0
        while true {
            if produced == output.count {
                let doubled = output.count > Int.max / 2 ? Int.max : max(output.count * 2, 4096)
                output.resizeWithoutShrinkingCapacity(to: min(ceiling, doubled))
            }
            let room = output.count - produced
            let result = output.withUnsafeMutableBytes { out in
                var target = ZSTD_outBuffer(dst: out.baseAddress! + produced, size: room, pos: 0)
                let result = ZSTD_decompressStream(context, &target, &source)
                produced += target.pos
                return result
            }
            if ZSTD_isError(result) != 0 {
                if ZSTD_getErrorCode(result) == ZSTD_error_frameParameter_windowTooLarge {
                    throw .tooLarge(limit: maxDecompressedLength, detail: errorName(result))
                }
                throw .corruptInput(detail: errorName(result))
            }
            // Checked after every call, since a frame can end on exactly the byte that crosses the limit.
            guard produced <= maxDecompressedLength else { throw .tooLarge(limit: maxDecompressedLength) }
            let inputLeft = source.pos < source.size
            // 0: a frame ended and everything of it is out; more input is the next frame.
            if result == 0 && !inputLeft {
                output.resizeWithoutShrinkingCapacity(to: produced)
                return
            }
            // The input is spent yet the frame wants more, and room was left: nothing more can come.
            if !inputLeft && produced < output.count {
                throw .truncatedInput
            }
        }
    }

    /// Decompresses `input` into `output`, replacing its contents; see the raw-buffer overload for the details.
    public static func decompress(
        _ input: [UInt8], into output: inout [UInt8], maxDecompressedLength: Int
    ) throws(ZstdError) {
        let result: Result<Void, ZstdError> = input.withUnsafeBytes { buffer in
            do throws(ZstdError) {
                return .success(try decompress(buffer, into: &output, maxDecompressedLength: maxDecompressedLength))
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Returns the decompressed contents of `input`; see the `into:` overload for the details.
    public static func decompress(
        _ input: UnsafeRawBufferPointer, maxDecompressedLength: Int
    ) throws(ZstdError) -> [UInt8] {
        var output: [UInt8] = []
        try decompress(input, into: &output, maxDecompressedLength: maxDecompressedLength)
        return output
    }

    /// Returns the decompressed contents of `input`; see the `into:` overload for the details.
    public static func decompress(_ input: [UInt8], maxDecompressedLength: Int) throws(ZstdError) -> [UInt8] {
        var output: [UInt8] = []
        try decompress(input, into: &output, maxDecompressedLength: maxDecompressedLength)
        return output
    }

    /// The power of two that holds `length` bytes.
    private static func bitsNeeded(for length: Int) -> Int {
        length <= 1 ? 0 : Int.bitWidth - (length - 1).leadingZeroBitCount
    }

    static func errorName(_ code: Int) -> String {
        ZSTD_getErrorName(code).map { String(cString: $0) } ?? "error \(code)"
    }
}
