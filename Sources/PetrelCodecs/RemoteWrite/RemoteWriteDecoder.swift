import PetrelCore

/// Decodes Prometheus remote-write 1.0 and 2.0 requests into metric batches whose labels point into the request.
///
/// Like vmagent's `lib/prompb`, it walks the protobuf fields by hand: no generated message types, no `String` per
/// label, no allocation per label or per sample beyond the batch's own arrays, which are sized from the first
/// series. The request becomes the batch's arena and every `LabelRef` points at the bytes the sender wrote (for
/// 2.0, at the symbol's bytes).
public struct RemoteWriteDecoder: Sendable {
    /// Bounds on what one series may carry, checked while decoding so a hostile request is rejected early.
    public struct Limits: Sendable, Hashable {
        /// The most labels one series may have.
        public var maxLabelsPerSeries: Int
        /// The longest label name, in bytes.
        public var maxLabelNameLength: Int
        /// The longest label value, in bytes.
        public var maxLabelValueLength: Int

        public init(maxLabelsPerSeries: Int = 256, maxLabelNameLength: Int = 512, maxLabelValueLength: Int = 16_384) {
            self.maxLabelsPerSeries = maxLabelsPerSeries
            self.maxLabelNameLength = maxLabelNameLength
            self.maxLabelValueLength = maxLabelValueLength
        }
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Decodes an uncompressed `prometheus.WriteRequest` (remote-write 1.0): series and metadata.
    ///
    /// Series keep no type: 1.0 sends types in `batch.metadata`, by metric family.
    public func decodeV1(_ bytes: [UInt8]) throws(RemoteWriteDecodingError) -> MetricBatch {
        guard bytes.count <= Int(UInt32.max) else { throw .requestTooLarge(bytes.count) }
        return try Self.withBytes(bytes) { (buffer) throws(RemoteWriteDecodingError) in
            var decoding = RemoteWriteDecoding(limits: limits, buffer: buffer, batch: MetricBatch(arena: bytes))
            try decoding.decodeV1()
            return decoding.batch
        }
    }

    /// Decodes an uncompressed `io.prometheus.write.v2.Request` (remote-write 2.0).
    ///
    /// Each series' metadata type becomes `Series.type`; help and unit refs are checked but not kept, and start
    /// timestamps are dropped, since the batch has no place for them.
    public func decodeV2(_ bytes: [UInt8]) throws(RemoteWriteDecodingError) -> MetricBatch {
        guard bytes.count <= Int(UInt32.max) else { throw .requestTooLarge(bytes.count) }
        return try Self.withBytes(bytes) { (buffer) throws(RemoteWriteDecodingError) in
            var decoding = RemoteWriteDecoding(limits: limits, buffer: buffer, batch: MetricBatch(arena: bytes))
            try decoding.decodeV2()
            return decoding.batch
        }
    }

    // withUnsafeBytes is rethrows, which erases typed throws; this keeps RemoteWriteDecodingError in the signature.
    private static func withBytes<R>(
        _ bytes: [UInt8],
        _ body: (UnsafeRawBufferPointer) throws(RemoteWriteDecodingError) -> R
    ) throws(RemoteWriteDecodingError) -> R {
        let result: Result<R, RemoteWriteDecodingError> = bytes.withUnsafeBytes { buffer in
            do throws(RemoteWriteDecodingError) {
                return .success(try body(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
