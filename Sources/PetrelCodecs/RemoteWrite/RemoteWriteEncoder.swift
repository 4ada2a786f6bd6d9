import PetrelCore

/// Encodes metric batches as uncompressed remote-write 1.0 and 2.0 requests, writing labels straight from the arena.
///
/// Each request is written in two passes: the first measures every nested message, the second writes each one once,
/// in place, into memory of exactly the request's size. Keep one encoder per sink shard and reuse it: its scratch
/// buffers (message sizes, the 2.0 symbols table) then stop allocating, and encoding allocates only the request.
/// Zero-valued scalars are left out, as protobuf encoders do; oneof counts of histograms are always written, since
/// which one is set says whether the histogram is an integer or a float one.
public struct RemoteWriteEncoder: Sendable {
    /// The body size of each series message, from the measuring pass to the writing pass.
    private var seriesSizes: [Int] = []
    /// The 2.0 symbol refs of each series' labels, then of its exemplars' labels, in writing order.
    private var refs: [UInt32] = []
    private var symbols = RemoteWriteSymbolTable()
    /// Series indices given as a collection other than a range, copied; see `copyIndices`.
    private var indexScratch: [Int] = []

    public init() {}

    // MARK: Remote-write 1.0

    /// Encodes the series at `series` (indices into `batch.series`) as a `prometheus.WriteRequest`, with the
    /// batch's metadata when `includeMetadata` is set.
    public mutating func encodeV1(
        _ batch: MetricBatch,
        series: some Collection<Int>,
        includeMetadata: Bool = false
    ) -> [UInt8] {
        if let range = series as? Range<Int> {
            return makeV1(batch, series: range, includeMetadata: includeMetadata)
        }
        let indices = copyIndices(series)
        return makeV1(batch, series: indices, includeMetadata: includeMetadata)
    }

    private mutating func makeV1(
        _ batch: MetricBatch,
        series: some Collection<Int>,
        includeMetadata: Bool
    ) -> [UInt8] {
        batch.arena.withUnsafeBytes { arena in
            let count = measureV1(batch, series: series, includeMetadata: includeMetadata, arena: arena)
            return ProtobufWriter.makeBytes(count: count) { writer in
                writeV1(batch, series: series, includeMetadata: includeMetadata, arena: arena, to: &writer)
            }
        }
    }

    /// Encodes every series of `batch` as a `prometheus.WriteRequest`.
    public mutating func encodeV1(_ batch: MetricBatch, includeMetadata: Bool = false) -> [UInt8] {
        encodeV1(batch, series: batch.series.indices, includeMetadata: includeMetadata)
    }

    /// Encodes like `encodeV1(_:series:includeMetadata:)` into `output`, replacing its contents; reusing `output`
    /// across requests avoids allocating it each time.
    public mutating func encodeV1(
        _ batch: MetricBatch,
        series: some Collection<Int>,
        includeMetadata: Bool = false,
        into output: inout [UInt8]
    ) {
        output.removeAll(keepingCapacity: true)
        appendV1(batch, series: series, includeMetadata: includeMetadata, to: &output)
    }

    /// Appends the fields of `encodeV1(_:series:includeMetadata:)` to `output`.
    ///
    /// A `WriteRequest` is only repeated fields, so appending one request's bytes to another's is the request with
    /// both: a sink can build one request from several batches without an intermediate array.
    public mutating func appendV1(
        _ batch: MetricBatch,
        series: some Collection<Int>,
        includeMetadata: Bool = false,
        to output: inout [UInt8]
    ) {
        if let range = series as? Range<Int> {
            return appendV1(batch, indices: range, includeMetadata: includeMetadata, to: &output)
        }
        let indices = copyIndices(series)
        appendV1(batch, indices: indices, includeMetadata: includeMetadata, to: &output)
    }

    private mutating func appendV1(
        _ batch: MetricBatch,
        indices series: some Collection<Int>,
        includeMetadata: Bool,
        to output: inout [UInt8]
    ) {
        batch.arena.withUnsafeBytes { arena in
            let count = measureV1(batch, series: series, includeMetadata: includeMetadata, arena: arena)
            ProtobufWriter.append(to: &output, count: count) { writer in
                writeV1(batch, series: series, includeMetadata: includeMetadata, arena: arena, to: &writer)
            }
        }
    }

    private mutating func measureV1(
        _ batch: MetricBatch,
        series: some Collection<Int>,
        includeMetadata: Bool,
        arena: UnsafeRawBufferPointer
    ) -> Int {
        seriesSizes.removeAll(keepingCapacity: true)
        var total = 0
        for index in series {
            let series = batch.series[index]
            var size = 0
            for label in batch.labels[series.labelRange] {
                Self.checkBounds(label, arena: arena)
                size += ProtobufWriter.lengthDelimitedFieldSize(1, length: Self.labelSize(label))
            }
            for sample in batch.samples[series.sampleRange] {
                size += ProtobufWriter.lengthDelimitedFieldSize(2, length: Self.sampleSize(sample))
            }
            for exemplar in batch.exemplars[series.exemplarRange] {
                size += ProtobufWriter.lengthDelimitedFieldSize(3, length: Self.v1ExemplarSize(exemplar, batch, arena))
            }
            for histogram in batch.histograms[series.histogramRange] {
                size += ProtobufWriter.lengthDelimitedFieldSize(4, length: Self.histogramSize(histogram))
            }
            seriesSizes.append(size)
            total += ProtobufWriter.lengthDelimitedFieldSize(1, length: size)
        }
        if includeMetadata {
            for metadata in batch.metadata {
                total += ProtobufWriter.lengthDelimitedFieldSize(3, length: Self.metadataSize(metadata))
            }
        }
        return total
    }

    private func writeV1(
        _ batch: MetricBatch,
        series: some Collection<Int>,
        includeMetadata: Bool,
        arena: UnsafeRawBufferPointer,
        to writer: inout ProtobufWriter
    ) {
        let base = arena.baseAddress
        for (ordinal, index) in series.enumerated() {
            let series = batch.series[index]
            writer.writeLengthDelimitedHeader(1, length: seriesSizes[ordinal])
            for label in batch.labels[series.labelRange] {
                Self.writeV1Label(label, field: 1, base: base, to: &writer)
            }
            for sample in batch.samples[series.sampleRange] {
                Self.writeSample(sample, to: &writer)
            }
            for exemplar in batch.exemplars[series.exemplarRange] {
                writer.writeLengthDelimitedHeader(3, length: Self.v1ExemplarSize(exemplar, batch, arena))
                for label in batch.labels[Self.labelRange(of: exemplar)] {
                    Self.writeV1Label(label, field: 1, base: base, to: &writer)
                }
                Self.writeExemplarValue(exemplar, to: &writer)
            }
            for histogram in batch.histograms[series.histogramRange] {
                Self.writeHistogram(histogram, field: 4, to: &writer)
            }
        }
        if includeMetadata {
            for metadata in batch.metadata {
                Self.writeMetadata(metadata, to: &writer)
            }
        }
    }

    @inline(__always)
    private static func labelSize(_ label: LabelRef) -> Int {
        (label.nameLength == 0 ? 0 : ProtobufWriter.lengthDelimitedFieldSize(1, length: Int(label.nameLength)))
            + (label.valueLength == 0 ? 0 : ProtobufWriter.lengthDelimitedFieldSize(2, length: Int(label.valueLength)))
    }

    @inline(__always)
    private static func writeV1Label(
        _ label: LabelRef,
        field: UInt32,
        base: UnsafeRawPointer?,
        to writer: inout ProtobufWriter
    ) {
        writer.writeLengthDelimitedHeader(field, length: labelSize(label))
        if label.nameLength != 0 {
            writer.writeBytesField(1, bytes(base, label.nameOffset, label.nameLength))
        }
        if label.valueLength != 0 {
            writer.writeBytesField(2, bytes(base, label.valueOffset, label.valueLength))
        }
    }

    private static func v1ExemplarSize(
        _ exemplar: Exemplar,
        _ batch: MetricBatch,
        _ arena: UnsafeRawBufferPointer
    ) -> Int {
        var size = exemplarValueSize(exemplar)
        for label in batch.labels[labelRange(of: exemplar)] {
            checkBounds(label, arena: arena)
            size += ProtobufWriter.lengthDelimitedFieldSize(1, length: labelSize(label))
        }
        return size
    }

    private static func metadataSize(_ metadata: MetricMetadata) -> Int {
        var size = metadata.type == .unknown ? 0 : ProtobufWriter.varintFieldSize(1, UInt64(metadata.type.rawValue))
        size += stringFieldSize(2, metadata.familyName)
        size += stringFieldSize(4, metadata.help)
        size += stringFieldSize(5, metadata.unit)
        return size
    }

    private static func writeMetadata(_ metadata: MetricMetadata, to writer: inout ProtobufWriter) {
        writer.writeLengthDelimitedHeader(3, length: metadataSize(metadata))
        if metadata.type != .unknown {
            writer.writeVarintField(1, UInt64(metadata.type.rawValue))
        }
        writeStringField(2, metadata.familyName, to: &writer)
        writeStringField(4, metadata.help, to: &writer)
        writeStringField(5, metadata.unit, to: &writer)
    }

    private static func stringFieldSize(_ field: UInt32, _ text: String) -> Int {
        text.isEmpty ? 0 : ProtobufWriter.lengthDelimitedFieldSize(field, length: text.utf8.count)
    }

    private static func writeStringField(_ field: UInt32, _ text: String, to writer: inout ProtobufWriter) {
        guard !text.isEmpty else { return }
        var text = text
        text.withUTF8 { writer.writeBytesField(field, UnsafeRawBufferPointer($0)) }
    }

    // MARK: Remote-write 2.0

    /// Encodes the series at `series` (indices into `batch.series`) as an `io.prometheus.write.v2.Request`.
    ///
    /// `Series.type` becomes each series' metadata type; `batch.metadata` (help and unit by family) is not written.
    public mutating func encodeV2(_ batch: MetricBatch, series: some Collection<Int>) -> [UInt8] {
        if let range = series as? Range<Int> {
            return makeV2(batch, series: range)
        }
        let indices = copyIndices(series)
        return makeV2(batch, series: indices)
    }

    private mutating func makeV2(_ batch: MetricBatch, series: some Collection<Int>) -> [UInt8] {
        batch.arena.withUnsafeBytes { arena in
            let count = measureV2(batch, series: series, arena: arena)
            return ProtobufWriter.makeBytes(count: count) { writer in
                writeV2(batch, series: series, arena: arena, to: &writer)
            }
        }
    }

    /// Encodes every series of `batch` as an `io.prometheus.write.v2.Request`.
    public mutating func encodeV2(_ batch: MetricBatch) -> [UInt8] {
        encodeV2(batch, series: batch.series.indices)
    }

    /// Encodes like `encodeV2(_:series:)` into `output`, replacing its contents; reusing `output` across requests
    /// avoids allocating it each time.
    public mutating func encodeV2(_ batch: MetricBatch, series: some Collection<Int>, into output: inout [UInt8]) {
        output.removeAll(keepingCapacity: true)
        if let range = series as? Range<Int> {
            return appendRequestV2(batch, series: range, to: &output)
        }
        let indices = copyIndices(series)
        appendRequestV2(batch, series: indices, to: &output)
    }

    /// Appends the 2.0 encoding of `series` of `batch` to `output`, after what it holds.
    public mutating func appendV2(_ batch: MetricBatch, series: Range<Int>, to output: inout [UInt8]) {
        appendRequestV2(batch, series: series, to: &output)
    }

    private mutating func appendRequestV2(
        _ batch: MetricBatch, series: some Collection<Int>, to output: inout [UInt8]
    ) {
        batch.arena.withUnsafeBytes { arena in
            let count = measureV2(batch, series: series, arena: arena)
            ProtobufWriter.append(to: &output, count: count) { writer in
                writeV2(batch, series: series, arena: arena, to: &writer)
            }
        }
    }

    private mutating func measureV2(
        _ batch: MetricBatch,
        series: some Collection<Int>,
        arena: UnsafeRawBufferPointer
    ) -> Int {
        seriesSizes.removeAll(keepingCapacity: true)
        refs.removeAll(keepingCapacity: true)
        symbols.reset()
        var total = 0
        var previousLabels = 0..<0
        var previousRefs = 0
        for index in series {
            let series = batch.series[index]
            var size = 0
            let refStart = refs.count
            let labelRefs = internLabels(
                series.labelRange, of: batch, previous: previousLabels, previousRefs: previousRefs, arena: arena)
            previousLabels = series.labelRange
            previousRefs = refStart
            if labelRefs > 0 {
                size += ProtobufWriter.lengthDelimitedFieldSize(1, length: labelRefs)
            }
            for sample in batch.samples[series.sampleRange] {
                size += ProtobufWriter.lengthDelimitedFieldSize(2, length: Self.sampleSize(sample))
            }
            for histogram in batch.histograms[series.histogramRange] {
                size += ProtobufWriter.lengthDelimitedFieldSize(3, length: Self.histogramSize(histogram))
            }
            for exemplar in batch.exemplars[series.exemplarRange] {
                let exemplarRefs = internLabels(
                    Self.labelRange(of: exemplar), of: batch, previous: 0..<0, previousRefs: 0, arena: arena)
                let exemplarSize =
                    (exemplarRefs == 0 ? 0 : ProtobufWriter.lengthDelimitedFieldSize(1, length: exemplarRefs))
                    + Self.exemplarValueSize(exemplar)
                size += ProtobufWriter.lengthDelimitedFieldSize(4, length: exemplarSize)
            }
            if series.type != .unknown {
                size += ProtobufWriter.lengthDelimitedFieldSize(
                    5, length: ProtobufWriter.varintFieldSize(1, UInt64(series.type.rawValue)))
            }
            seriesSizes.append(size)
            total += ProtobufWriter.lengthDelimitedFieldSize(5, length: size)
        }
        for length in symbols.lengths {
            total += ProtobufWriter.lengthDelimitedFieldSize(4, length: Int(length))
        }
        return total
    }

    /// Adds the names and values of the labels at `range` to the symbols table and their refs to `refs`; returns
    /// the size of their packed `labels_refs` run.
    ///
    /// Consecutive series mostly share names, and often values, at the same positions, so each label is first
    /// compared with the one at its position in `previous`, whose refs start at `previousRefs`: a hit costs a
    /// comparison of a few bytes instead of a hash and a probe.
    @inline(__always)
    private mutating func internLabels(
        _ range: Range<Int>,
        of batch: MetricBatch,
        previous: Range<Int>,
        previousRefs: Int,
        arena: UnsafeRawBufferPointer
    ) -> Int {
        let base = arena.baseAddress
        var size = 0
        for (position, labelIndex) in range.enumerated() {
            let label = batch.labels[labelIndex]
            Self.checkBounds(label, arena: arena)
            let name: UInt32
            let value: UInt32
            if position < previous.count {
                let before = batch.labels[previous.lowerBound + position]
                name =
                    Self.sameBytes(base, label.nameOffset, label.nameLength, before.nameOffset, before.nameLength)
                    ? refs[previousRefs + 2 * position]
                    : symbols.intern(base, offset: label.nameOffset, length: label.nameLength)
                value =
                    Self.sameBytes(base, label.valueOffset, label.valueLength, before.valueOffset, before.valueLength)
                    ? refs[previousRefs + 2 * position + 1]
                    : symbols.intern(base, offset: label.valueOffset, length: label.valueLength)
            } else {
                name = symbols.intern(base, offset: label.nameOffset, length: label.nameLength)
                value = symbols.intern(base, offset: label.valueOffset, length: label.valueLength)
            }
            refs.append(name)
            refs.append(value)
            size += ProtobufWriter.varintSize(UInt64(name)) + ProtobufWriter.varintSize(UInt64(value))
        }
        return size
    }

    @inline(__always)
    private static func sameBytes(
        _ base: UnsafeRawPointer?,
        _ offset: UInt32,
        _ length: UInt32,
        _ otherOffset: UInt32,
        _ otherLength: UInt32
    ) -> Bool {
        guard length == otherLength else { return false }
        return offset == otherOffset || length == 0
            || RemoteWriteSymbolTable.equal(
                base.unsafelyUnwrapped + Int(offset), base.unsafelyUnwrapped + Int(otherOffset), Int(length))
    }

    private func writeV2(
        _ batch: MetricBatch,
        series: some Collection<Int>,
        arena: UnsafeRawBufferPointer,
        to writer: inout ProtobufWriter
    ) {
        let base = arena.baseAddress
        for (offset, length) in zip(symbols.offsets, symbols.lengths) {
            writer.writeBytesField(4, Self.bytes(base, offset, length))
        }
        var nextRef = 0
        for (ordinal, index) in series.enumerated() {
            let series = batch.series[index]
            writer.writeLengthDelimitedHeader(5, length: seriesSizes[ordinal])
            Self.writeRefs(refs, from: &nextRef, count: Int(series.labelCount) * 2, to: &writer)
            for sample in batch.samples[series.sampleRange] {
                Self.writeSample(sample, to: &writer)
            }
            for histogram in batch.histograms[series.histogramRange] {
                Self.writeHistogram(histogram, field: 3, to: &writer)
            }
            for exemplar in batch.exemplars[series.exemplarRange] {
                let count = Int(exemplar.labelCount) * 2
                let refsSize = Self.packedSize(refs[nextRef..<(nextRef + count)])
                writer.writeLengthDelimitedHeader(
                    4,
                    length: (refsSize == 0 ? 0 : ProtobufWriter.lengthDelimitedFieldSize(1, length: refsSize))
                        + Self.exemplarValueSize(exemplar))
                Self.writeRefs(refs, from: &nextRef, count: count, to: &writer)
                Self.writeExemplarValue(exemplar, to: &writer)
            }
            if series.type != .unknown {
                let type = UInt64(series.type.rawValue)
                writer.writeLengthDelimitedHeader(5, length: ProtobufWriter.varintFieldSize(1, type))
                writer.writeVarintField(1, type)
            }
        }
    }

    /// Writes `count` refs from `refs[start...]` as a packed `labels_refs` field (field 1), and moves `start` on.
    @inline(__always)
    private static func writeRefs(
        _ refs: [UInt32],
        from start: inout Int,
        count: Int,
        to writer: inout ProtobufWriter
    ) {
        guard count > 0 else { return }
        let run = refs[start..<(start + count)]
        writer.writeLengthDelimitedHeader(1, length: packedSize(run))
        for ref in run {
            writer.writeVarint(UInt64(ref))
        }
        start += count
    }

    @inline(__always)
    private static func packedSize(_ refs: ArraySlice<UInt32>) -> Int {
        var size = 0
        for ref in refs {
            size += ProtobufWriter.varintSize(UInt64(ref))
        }
        return size
    }

    // MARK: Shared messages

    @inline(__always)
    private static func sampleSize(_ sample: Sample) -> Int {
        (sample.value.bitPattern == 0 ? 0 : ProtobufWriter.fixed64FieldSize(1))
            + (sample.timestamp == 0 ? 0 : ProtobufWriter.varintFieldSize(2, UInt64(bitPattern: sample.timestamp)))
    }

    /// Writes a `Sample` message as field 2, which both versions use.
    @inline(__always)
    private static func writeSample(_ sample: Sample, to writer: inout ProtobufWriter) {
        writer.writeLengthDelimitedHeader(2, length: sampleSize(sample))
        if sample.value.bitPattern != 0 {
            writer.writeDoubleField(1, sample.value)
        }
        if sample.timestamp != 0 {
            writer.writeVarintField(2, UInt64(bitPattern: sample.timestamp))
        }
    }

    /// The size of an exemplar's value and timestamp, fields 2 and 3 in both versions.
    @inline(__always)
    private static func exemplarValueSize(_ exemplar: Exemplar) -> Int {
        (exemplar.value.bitPattern == 0 ? 0 : ProtobufWriter.fixed64FieldSize(2))
            + (exemplar.timestamp == 0 ? 0 : ProtobufWriter.varintFieldSize(3, UInt64(bitPattern: exemplar.timestamp)))
    }

    @inline(__always)
    private static func writeExemplarValue(_ exemplar: Exemplar, to writer: inout ProtobufWriter) {
        if exemplar.value.bitPattern != 0 {
            writer.writeDoubleField(2, exemplar.value)
        }
        if exemplar.timestamp != 0 {
            writer.writeVarintField(3, UInt64(bitPattern: exemplar.timestamp))
        }
    }

    private static func histogramSize(_ histogram: NativeHistogram) -> Int {
        var size = countSize(histogram.count, intField: 1)
        if histogram.sum.bitPattern != 0 { size += ProtobufWriter.fixed64FieldSize(3) }
        if histogram.schema != 0 {
            size += ProtobufWriter.varintFieldSize(4, ProtobufWriter.zigZagEncode(histogram.schema))
        }
        if histogram.zeroThreshold.bitPattern != 0 { size += ProtobufWriter.fixed64FieldSize(5) }
        size += countSize(histogram.zeroCount, intField: 6)
        size += spansSize(histogram.negativeSpans, field: 8)
        size += deltasSize(histogram.negativeDeltas, field: 9)
        size += doublesSize(histogram.negativeCounts, field: 10)
        size += spansSize(histogram.positiveSpans, field: 11)
        size += deltasSize(histogram.positiveDeltas, field: 12)
        size += doublesSize(histogram.positiveCounts, field: 13)
        if histogram.resetHint != .unknown {
            size += ProtobufWriter.varintFieldSize(14, UInt64(histogram.resetHint.rawValue))
        }
        if histogram.timestamp != 0 {
            size += ProtobufWriter.varintFieldSize(15, UInt64(bitPattern: histogram.timestamp))
        }
        size += doublesSize(histogram.customValues, field: 16)
        return size
    }

    /// Writes a `Histogram` message as `field`: 4 in a 1.0 `TimeSeries`, 3 in a 2.0 one.
    private static func writeHistogram(_ histogram: NativeHistogram, field: UInt32, to writer: inout ProtobufWriter) {
        writer.writeLengthDelimitedHeader(field, length: histogramSize(histogram))
        writeCount(histogram.count, intField: 1, to: &writer)
        if histogram.sum.bitPattern != 0 { writer.writeDoubleField(3, histogram.sum) }
        if histogram.schema != 0 { writer.writeVarintField(4, ProtobufWriter.zigZagEncode(histogram.schema)) }
        if histogram.zeroThreshold.bitPattern != 0 { writer.writeDoubleField(5, histogram.zeroThreshold) }
        writeCount(histogram.zeroCount, intField: 6, to: &writer)
        writeSpans(histogram.negativeSpans, field: 8, to: &writer)
        writeDeltas(histogram.negativeDeltas, field: 9, to: &writer)
        writeDoubles(histogram.negativeCounts, field: 10, to: &writer)
        writeSpans(histogram.positiveSpans, field: 11, to: &writer)
        writeDeltas(histogram.positiveDeltas, field: 12, to: &writer)
        writeDoubles(histogram.positiveCounts, field: 13, to: &writer)
        if histogram.resetHint != .unknown { writer.writeVarintField(14, UInt64(histogram.resetHint.rawValue)) }
        if histogram.timestamp != 0 { writer.writeVarintField(15, UInt64(bitPattern: histogram.timestamp)) }
        writeDoubles(histogram.customValues, field: 16, to: &writer)
    }

    /// The size of a count oneof: the integer flavour at `intField`, the float one at the next field.
    private static func countSize(_ count: NativeHistogram.Count, intField: UInt32) -> Int {
        switch count {
        case .int(let value): return ProtobufWriter.varintFieldSize(intField, value)
        case .float: return ProtobufWriter.fixed64FieldSize(intField + 1)
        }
    }

    private static func writeCount(_ count: NativeHistogram.Count, intField: UInt32, to writer: inout ProtobufWriter) {
        switch count {
        case .int(let value): writer.writeVarintField(intField, value)
        case .float(let value): writer.writeDoubleField(intField + 1, value)
        }
    }

    private static func spanSize(_ span: BucketSpan) -> Int {
        (span.offset == 0 ? 0 : ProtobufWriter.varintFieldSize(1, ProtobufWriter.zigZagEncode(span.offset)))
            + (span.length == 0 ? 0 : ProtobufWriter.varintFieldSize(2, UInt64(span.length)))
    }

    private static func spansSize(_ spans: [BucketSpan], field: UInt32) -> Int {
        var size = 0
        for span in spans {
            size += ProtobufWriter.lengthDelimitedFieldSize(field, length: spanSize(span))
        }
        return size
    }

    private static func writeSpans(_ spans: [BucketSpan], field: UInt32, to writer: inout ProtobufWriter) {
        for span in spans {
            writer.writeLengthDelimitedHeader(field, length: spanSize(span))
            if span.offset != 0 { writer.writeVarintField(1, ProtobufWriter.zigZagEncode(span.offset)) }
            if span.length != 0 { writer.writeVarintField(2, UInt64(span.length)) }
        }
    }

    private static func deltasBodySize(_ deltas: [Int64]) -> Int {
        var size = 0
        for delta in deltas {
            size += ProtobufWriter.varintSize(ProtobufWriter.zigZagEncode(delta))
        }
        return size
    }

    private static func deltasSize(_ deltas: [Int64], field: UInt32) -> Int {
        deltas.isEmpty ? 0 : ProtobufWriter.lengthDelimitedFieldSize(field, length: deltasBodySize(deltas))
    }

    private static func writeDeltas(_ deltas: [Int64], field: UInt32, to writer: inout ProtobufWriter) {
        guard !deltas.isEmpty else { return }
        writer.writeLengthDelimitedHeader(field, length: deltasBodySize(deltas))
        for delta in deltas {
            writer.writeVarint(ProtobufWriter.zigZagEncode(delta))
        }
    }

    private static func doublesSize(_ values: [Double], field: UInt32) -> Int {
        values.isEmpty ? 0 : ProtobufWriter.lengthDelimitedFieldSize(field, length: values.count * 8)
    }

    private static func writeDoubles(_ values: [Double], field: UInt32, to writer: inout ProtobufWriter) {
        guard !values.isEmpty else { return }
        writer.writeLengthDelimitedHeader(field, length: values.count * 8)
        for value in values {
            writer.writeFixed64(value.bitPattern)
        }
    }

    // MARK: Arena access

    /// The indices, copied into reused scratch.
    ///
    /// A caller in another module passes its collection unspecialized, so every pass would iterate it through
    /// witness tables, a call per element; copying it once lets the passes run code specialized for an array.
    /// Ranges, the common case, skip the copy.
    private mutating func copyIndices(_ series: some Collection<Int>) -> [Int] {
        indexScratch.removeAll(keepingCapacity: true)
        indexScratch.append(contentsOf: series)
        return indexScratch
    }

    @inline(__always)
    private static func labelRange(of exemplar: Exemplar) -> Range<Int> {
        Int(exemplar.labelStart)..<Int(exemplar.labelStart + exemplar.labelCount)
    }

    /// Traps on a label that points outside the arena: a transform bug must not turn into reading stray memory.
    @inline(__always)
    private static func checkBounds(_ label: LabelRef, arena: UnsafeRawBufferPointer) {
        precondition(
            Int(label.nameOffset) + Int(label.nameLength) <= arena.count
                && Int(label.valueOffset) + Int(label.valueLength) <= arena.count,
            "label outside the batch's arena")
    }

    @inline(__always)
    private static func bytes(_ base: UnsafeRawPointer?, _ offset: UInt32, _ length: UInt32) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: length == 0 ? nil : base.unsafelyUnwrapped + Int(offset), count: Int(length))
    }
}
