import CZstd

/// A zstd compression context kept across requests: its tables are allocated once, not per call as
/// `Zstd.compress` does, which matters on a sink's hot path.
public final class ZstdCompressor {
    private let context: OpaquePointer
    /// 1 (fastest) through 19 (smallest).
    public let level: Int

    public init(level: Int = Zstd.defaultLevel) {
        precondition((1...19).contains(level), "zstd compression level must be in 1...19, got \(level)")
        guard let context = ZSTD_createCCtx() else { fatalError("zstd cannot allocate a compression context") }
        self.context = context
        self.level = level
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input` into `output` as one frame that declares its content size, replacing `output`'s contents.
    public func compress(_ input: [UInt8], into output: inout [UInt8]) {
        let bound = ZSTD_compressBound(input.count)
        precondition(ZSTD_isError(bound) == 0, "zstd cannot compress \(input.count) bytes at once")
        output.resizeWithoutShrinkingCapacity(to: max(bound, 1))
        let written = input.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                ZSTD_compressCCtx(context, out.baseAddress, out.count, input.baseAddress, input.count, Int32(level))
            }
        }
        // The output holds the bound, so only a broken library fails here.
        precondition(ZSTD_isError(written) == 0, "ZSTD_compressCCtx failed: \(Zstd.errorName(written))")
        output.resizeWithoutShrinkingCapacity(to: written)
    }
}
