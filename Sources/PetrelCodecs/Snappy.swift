import CSnappy

/// Snappy block-format compression (the unframed format Prometheus remote-write uses), over the system libsnappy.
public enum Snappy {
    /// Compresses `input` into `output`, replacing its contents; reusing `output` across calls avoids allocating.
    public static func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.resizeWithoutShrinkingCapacity(to: snappy_max_compressed_length(input.count))
        let written = output.withUnsafeMutableBytes { compress(input, into: $0) }
        output.resizeWithoutShrinkingCapacity(to: written)
    }

    /// Compresses `input` into `output`, replacing its contents.
    public static func compress(_ input: [UInt8], into output: inout [UInt8]) {
        input.withUnsafeBytes { compress($0, into: &output) }
    }

    /// Returns `input` compressed as one Snappy block.
    public static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = snappy_max_compressed_length(input.count)
        // Uninitialized capacity skips zero-filling a buffer snappy is about to overwrite.
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initializedCount in
            initializedCount = compress(input, into: UnsafeMutableRawBufferPointer(out))
        }
    }

    /// Returns `input` compressed as one Snappy block.
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }

    /// Returns the decompressed contents of the Snappy block `input`.
    ///
    /// Throws `SnappyError.tooLarge` without allocating when the block declares more than `maxDecompressedLength`
    /// bytes, so a small hostile request cannot make the server reserve gigabytes. With `roomToGrow`, the array has
    /// capacity for a sixteenth more (and 256 bytes): for a caller that appends to it, as a remote-write batch's
    /// labels arena is the request itself and transforms append the labels they add, which without room copies the
    /// whole request into a new allocation at the first append.
    public static func decompress(
        _ input: UnsafeRawBufferPointer,
        maxDecompressedLength: Int,
        roomToGrow: Bool = false
    ) throws(SnappyError) -> [UInt8] {
        let length = try checkedDecompressedLength(input, maxDecompressedLength: maxDecompressedLength)
        var succeeded = false
        // Uninitialized capacity skips zero-filling a buffer snappy is about to overwrite.
        let capacity = roomToGrow ? length + length / 16 + 256 : length
        let result = [UInt8](unsafeUninitializedCapacity: capacity) { out, initializedCount in
            let bytes = UnsafeMutableBufferPointer(rebasing: out[..<length])
            succeeded = uncompress(input, into: UnsafeMutableRawBufferPointer(bytes))
            initializedCount = succeeded ? length : 0
        }
        guard succeeded else { throw .corruptInput }
        return result
    }

    /// Returns the decompressed contents of the Snappy block `input`; see the raw-buffer overload for the limit and
    /// `roomToGrow`.
    public static func decompress(
        _ input: [UInt8], maxDecompressedLength: Int, roomToGrow: Bool = false
    ) throws(SnappyError) -> [UInt8] {
        try withBytes(input) { (buffer) throws(SnappyError) in
            try decompress(buffer, maxDecompressedLength: maxDecompressedLength, roomToGrow: roomToGrow)
        }
    }

    /// Decompresses the Snappy block `input` into `output`, replacing its contents.
    ///
    /// Reusing `output` across calls avoids allocating on a hot path. The limit is checked before `output` grows.
    /// On failure `output` holds unspecified bytes.
    public static func decompress(
        _ input: UnsafeRawBufferPointer,
        into output: inout [UInt8],
        maxDecompressedLength: Int
    ) throws(SnappyError) {
        let length = try checkedDecompressedLength(input, maxDecompressedLength: maxDecompressedLength)
        output.resizeWithoutShrinkingCapacity(to: length)
        guard output.withUnsafeMutableBytes({ uncompress(input, into: $0) }) else {
            output.removeAll(keepingCapacity: true)
            throw .corruptInput
        }
    }

    /// Decompresses the Snappy block `input` into `output`, replacing its contents.
    public static func decompress(
        _ input: [UInt8],
        into output: inout [UInt8],
        maxDecompressedLength: Int
    ) throws(SnappyError) {
        try withBytes(input) { (buffer) throws(SnappyError) in
            try decompress(buffer, into: &output, maxDecompressedLength: maxDecompressedLength)
        }
    }

    /// Returns the decompressed length the block header declares, or nil when the header is unreadable.
    public static func declaredDecompressedLength(_ input: UnsafeRawBufferPointer) -> Int? {
        var length = 0
        guard snappy_uncompressed_length(source(input), input.count, &length) == SNAPPY_OK else { return nil }
        return length
    }

    /// Reports whether `input` is a well-formed Snappy block, without decompressing it.
    public static func isValidBlock(_ input: UnsafeRawBufferPointer) -> Bool {
        snappy_validate_compressed_buffer(source(input), input.count) == SNAPPY_OK
    }

    /// Reports whether `input` is a well-formed Snappy block, without decompressing it.
    public static func isValidBlock(_ input: [UInt8]) -> Bool {
        input.withUnsafeBytes { isValidBlock($0) }
    }

    // snappy_uncompress validates as it goes, so the decompress paths skip a separate validation pass.
    private static func checkedDecompressedLength(
        _ input: UnsafeRawBufferPointer,
        maxDecompressedLength: Int
    ) throws(SnappyError) -> Int {
        guard let length = declaredDecompressedLength(input) else { throw .corruptInput }
        guard length <= maxDecompressedLength else {
            throw .tooLarge(declaredLength: length, limit: maxDecompressedLength)
        }
        return length
    }

    /// Compresses into `output`, which must hold at least snappy_max_compressed_length bytes; returns the length.
    private static func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        var length = output.count
        let status = snappy_compress(
            source(input),
            input.count,
            output.baseAddress!.assumingMemoryBound(to: CChar.self),
            &length
        )
        // The output is sized by snappy_max_compressed_length (never 0), so any failure means a broken library.
        precondition(status == SNAPPY_OK, "snappy_compress failed with status \(status.rawValue)")
        return length
    }

    /// Decompresses into exactly `output.count` bytes, which must be the declared length.
    private static func uncompress(
        _ input: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) -> Bool {
        var written = output.count
        guard let base = output.baseAddress else {
            // An empty output may have no storage, but snappy still wants a pointer to write nothing to.
            var scratch: CChar = 0
            let status = snappy_uncompress(source(input), input.count, &scratch, &written)
            return status == SNAPPY_OK && written == 0
        }
        let status = snappy_uncompress(source(input), input.count, base.assumingMemoryBound(to: CChar.self), &written)
        return status == SNAPPY_OK && written == output.count
    }

    private static func source(_ input: UnsafeRawBufferPointer) -> UnsafePointer<CChar>? {
        input.baseAddress?.assumingMemoryBound(to: CChar.self)
    }

    // withUnsafeBytes is rethrows, which erases typed throws; this keeps SnappyError in the signature.
    private static func withBytes<R>(
        _ input: [UInt8],
        _ body: (UnsafeRawBufferPointer) throws(SnappyError) -> R
    ) throws(SnappyError) -> R {
        let result: Result<R, SnappyError> = input.withUnsafeBytes { buffer in
            do throws(SnappyError) {
                return .success(try body(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
