import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes Prometheus remote-write 1.0 and 2.0 requests into metric batches whose labels point into the request.
///
/// Like vmagent's `lib/prompb`, it walks the protobuf fields by hand: no generated message types, no `String` per
/// label, no allocation per label or per sample beyond the batch's own growing arrays. The request becomes the
/// batch's arena and every `LabelRef` points at the bytes the sender wrote (for 2.0, at the symbol's bytes).
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
    public func decodeV1(_ bytes: [UInt8]) throws(RemoteWriteDecodingError) -> MetricBatch {
        guard bytes.count <= Int(UInt32.max) else { throw .requestTooLarge(bytes.count) }
        var batch = MetricBatch(arena: bytes)
        try Self.withBytes(bytes) { (buffer) throws(RemoteWriteDecodingError) in
            try decodeV1(buffer, into: &batch)
        }
        return batch
    }

    /// Decodes an uncompressed `io.prometheus.write.v2.Request` (remote-write 2.0).
    ///
    /// Each series' metadata type becomes `Series.type`; help and unit refs are checked but not kept, and start
    /// timestamps are dropped, since the batch has no place for them.
    public func decodeV2(_ bytes: [UInt8]) throws(RemoteWriteDecodingError) -> MetricBatch {
        guard bytes.count <= Int(UInt32.max) else { throw .requestTooLarge(bytes.count) }
        var batch = MetricBatch(arena: bytes)
        try Self.withBytes(bytes) { (buffer) throws(RemoteWriteDecodingError) in
            try decodeV2(buffer, into: &batch)
        }
        return batch
    }

    // MARK: Remote-write 1.0

    private func decodeV1(
        _ buffer: UnsafeRawBufferPointer,
        into batch: inout MetricBatch
    ) throws(RemoteWriteDecodingError) {
        var reader = ProtobufReader(buffer)
        var exemplarLabels: [LabelRef] = []
        var seriesIndex = 0
        var metadataIndex = 0
        while !reader.isAtEnd {
            let field: UInt32
            var message: ProtobufReader
            do throws(ProtobufDecodingError) {
                let key = try reader.readFieldKey()
                field = key.number
                guard field == 1 || field == 3 else {
                    try reader.skipField(key)
                    continue
                }
                try key.expect(.lengthDelimited)
                message = try reader.readMessage()
            } catch {
                throw RemoteWriteDecodingError(error, decoding: .v1, at: .request)
            }
            if field == 1 {
                do throws(ProtobufDecodingError) {
                    try Self.readV1Series(&message, into: &batch, exemplarLabels: &exemplarLabels)
                } catch {
                    throw RemoteWriteDecodingError(error, decoding: .v1, at: .series(seriesIndex))
                }
                try checkV1Series(seriesIndex, in: &batch, base: buffer.baseAddress)
                seriesIndex += 1
            } else {
                do throws(ProtobufDecodingError) {
                    batch.metadata.append(try Self.readV1Metadata(&message))
                } catch {
                    throw RemoteWriteDecodingError(error, decoding: .v1, at: .init(metadata: metadataIndex))
                }
                metadataIndex += 1
            }
        }
    }

    @inline(__always)
    private static func readV1Series(
        _ reader: inout ProtobufReader,
        into batch: inout MetricBatch,
        exemplarLabels: inout [LabelRef]
    ) throws(ProtobufDecodingError) {
        let labelStart = batch.labels.count
        let sampleStart = batch.samples.count
        let histogramStart = batch.histograms.count
        let exemplarStart = batch.exemplars.count
        exemplarLabels.removeAll(keepingCapacity: true)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                batch.labels.append(try readV1Label(&message))
            case 2:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                batch.samples.append(try readSample(&message, version2: false))
            case 3:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                batch.exemplars.append(try readV1Exemplar(&message, labels: &exemplarLabels))
            case 4:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                batch.histograms.append(try readHistogram(&message, version2: false))
            default:
                try reader.skipField(key)
            }
        }
        let labelCount = batch.labels.count - labelStart
        if batch.exemplars.count > exemplarStart {
            // Exemplar labels may come between series labels on the wire; parking them until the series ends keeps
            // the series' own labels contiguous.
            let base = UInt32(batch.labels.count)
            for index in exemplarStart..<batch.exemplars.count {
                batch.exemplars[index].labelStart += base
            }
            batch.labels.append(contentsOf: exemplarLabels)
        }
        batch.series.append(
            Series(
                labelStart: UInt32(labelStart), labelCount: UInt32(labelCount),
                sampleStart: UInt32(sampleStart), sampleCount: UInt32(batch.samples.count - sampleStart),
                histogramStart: UInt32(histogramStart),
                histogramCount: UInt32(batch.histograms.count - histogramStart),
                exemplarStart: UInt32(exemplarStart), exemplarCount: UInt32(batch.exemplars.count - exemplarStart)))
    }

    @inline(__always)
    private static func readV1Label(_ reader: inout ProtobufReader) throws(ProtobufDecodingError) -> LabelRef {
        var label = LabelRef(nameOffset: 0, nameLength: 0, valueOffset: 0, valueLength: 0)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.lengthDelimited)
                let range = try reader.readLengthDelimited()
                label.nameOffset = UInt32(truncatingIfNeeded: range.lowerBound)
                label.nameLength = UInt32(truncatingIfNeeded: range.count)
            case 2:
                try key.expect(.lengthDelimited)
                let range = try reader.readLengthDelimited()
                label.valueOffset = UInt32(truncatingIfNeeded: range.lowerBound)
                label.valueLength = UInt32(truncatingIfNeeded: range.count)
            default:
                try reader.skipField(key)
            }
        }
        return label
    }

    /// Reads an exemplar whose labels go to `labels`; its `labelStart` is relative to that array for now.
    private static func readV1Exemplar(
        _ reader: inout ProtobufReader,
        labels: inout [LabelRef]
    ) throws(ProtobufDecodingError) -> Exemplar {
        var exemplar = Exemplar(labelStart: UInt32(labels.count), labelCount: 0, value: 0, timestamp: 0)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                labels.append(try readV1Label(&message))
                exemplar.labelCount += 1
            case 2:
                try key.expect(.fixed64)
                exemplar.value = try reader.readDouble()
            case 3:
                try key.expect(.varint)
                exemplar.timestamp = try reader.readInt64()
            default:
                try reader.skipField(key)
            }
        }
        return exemplar
    }

    private static func readV1Metadata(_ reader: inout ProtobufReader) throws(ProtobufDecodingError) -> MetricMetadata {
        var metadata = MetricMetadata(type: .unknown, familyName: "")
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.varint)
                metadata.type = metricType(try reader.readVarint())
            case 2:
                try key.expect(.lengthDelimited)
                metadata.familyName = String(decoding: reader.bytes(try reader.readLengthDelimited()), as: UTF8.self)
            case 4:
                try key.expect(.lengthDelimited)
                metadata.help = String(decoding: reader.bytes(try reader.readLengthDelimited()), as: UTF8.self)
            case 5:
                try key.expect(.lengthDelimited)
                metadata.unit = String(decoding: reader.bytes(try reader.readLengthDelimited()), as: UTF8.self)
            default:
                try reader.skipField(key)
            }
        }
        return metadata
    }

    private func checkV1Series(
        _ index: Int,
        in batch: inout MetricBatch,
        base: UnsafeRawPointer?
    ) throws(RemoteWriteDecodingError) {
        let series = batch.series[batch.series.count - 1]
        let location = RemoteWriteDecodingError.Location.series(index)
        let count = Int(series.labelCount)
        guard count > 0 else { throw .noLabels(location) }
        guard count <= limits.maxLabelsPerSeries else {
            throw .tooManyLabels(location, count: count, limit: limits.maxLabelsPerSeries)
        }
        // A series has labels, so the request has bytes and a base address.
        let base = base.unsafelyUnwrapped
        for labelIndex in series.labelRange {
            let label = batch.labels[labelIndex]
            try checkName(label, base: base, at: location)
            try checkValue(label, base: base, at: location)
        }
        try checkOrder(series: batch.series.count - 1, in: &batch, base: base, at: location)
        var exemplarLocation = location
        for (ordinal, exemplarIndex) in series.exemplarRange.enumerated() {
            let exemplar = batch.exemplars[exemplarIndex]
            exemplarLocation.exemplar = ordinal
            let start = Int(exemplar.labelStart)
            for labelIndex in start..<(start + Int(exemplar.labelCount)) {
                let label = batch.labels[labelIndex]
                try checkName(label, base: base, at: exemplarLocation)
                try checkValue(label, base: base, at: exemplarLocation)
            }
        }
    }

    // MARK: Remote-write 2.0

    /// Where a symbol's bytes are in the request.
    private struct Symbol {
        var offset: UInt32
        var length: UInt32
    }

    /// The parts of a 2.0 series' `Metadata` that must be checked once its symbols are known.
    private struct V2Metadata {
        var type: MetricType = .unknown
        var helpRef: UInt64 = 0
        var unitRef: UInt64 = 0
    }

    private func decodeV2(
        _ buffer: UnsafeRawBufferPointer,
        into batch: inout MetricBatch
    ) throws(RemoteWriteDecodingError) {
        // The schema does not promise symbols come before timeseries, so the first pass collects the symbols (and
        // where each series is) and the second decodes the series against the complete table.
        var symbols: [Symbol] = []
        var seriesRanges: [Range<Int>] = []
        var reader = ProtobufReader(buffer)
        do throws(ProtobufDecodingError) {
            while !reader.isAtEnd {
                let key = try reader.readFieldKey()
                switch key.number {
                case 4:
                    try key.expect(.lengthDelimited)
                    let range = try reader.readLengthDelimited()
                    symbols.append(
                        Symbol(
                            offset: UInt32(truncatingIfNeeded: range.lowerBound),
                            length: UInt32(truncatingIfNeeded: range.count)))
                case 5:
                    try key.expect(.lengthDelimited)
                    seriesRanges.append(try reader.readLengthDelimited())
                default:
                    try reader.skipField(key)
                }
            }
        } catch {
            throw RemoteWriteDecodingError(error, decoding: .v2, at: .request)
        }
        batch.series.reserveCapacity(seriesRanges.count)
        // Senders mostly put one sample in each series.
        batch.samples.reserveCapacity(seriesRanges.count)
        // Names repeat across series; checking each name symbol once saves rescanning its bytes for every series.
        var checkedNames = [Bool](repeating: false, count: symbols.count)
        var refs: [UInt32] = []
        var exemplarRefs: [UInt32] = []
        for (index, range) in seriesRanges.enumerated() {
            var message = ProtobufReader(buffer, range: range)
            let metadata: V2Metadata
            do throws(ProtobufDecodingError) {
                metadata = try Self.readV2Series(&message, into: &batch, refs: &refs, exemplarRefs: &exemplarRefs)
            } catch {
                throw RemoteWriteDecodingError(error, decoding: .v2, at: .series(index))
            }
            try resolveV2Series(
                index, metadata: metadata, refs: refs, exemplarRefs: exemplarRefs, symbols: symbols,
                checkedNames: &checkedNames, into: &batch, base: buffer.baseAddress)
        }
    }

    /// Reads a series' fields; labels and exemplar labels stay as raw refs for `resolveV2Series`.
    @inline(__always)
    private static func readV2Series(
        _ reader: inout ProtobufReader,
        into batch: inout MetricBatch,
        refs: inout [UInt32],
        exemplarRefs: inout [UInt32]
    ) throws(ProtobufDecodingError) -> V2Metadata {
        let sampleStart = batch.samples.count
        let histogramStart = batch.histograms.count
        let exemplarStart = batch.exemplars.count
        refs.removeAll(keepingCapacity: true)
        exemplarRefs.removeAll(keepingCapacity: true)
        var metadata = V2Metadata()
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                // A ref past UInt32 is out of range of any table that fits the request; clamping keeps it so.
                try reader.readRepeatedVarint(key) { refs.append(UInt32(clamping: $0)) }
            case 2:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                batch.samples.append(try readSample(&message, version2: true))
            case 3:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                batch.histograms.append(try readHistogram(&message, version2: true))
            case 4:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                batch.exemplars.append(try readV2Exemplar(&message, refs: &exemplarRefs))
            case 5:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                try readV2Metadata(&message, into: &metadata)
            default:
                try reader.skipField(key)
            }
        }
        batch.series.append(
            Series(
                labelStart: UInt32(batch.labels.count), labelCount: 0,
                sampleStart: UInt32(sampleStart), sampleCount: UInt32(batch.samples.count - sampleStart),
                histogramStart: UInt32(histogramStart),
                histogramCount: UInt32(batch.histograms.count - histogramStart),
                exemplarStart: UInt32(exemplarStart), exemplarCount: UInt32(batch.exemplars.count - exemplarStart),
                type: metadata.type))
        return metadata
    }

    /// Reads an exemplar whose refs go to `refs`; until resolved, `labelStart` and `labelCount` are a range of refs.
    private static func readV2Exemplar(
        _ reader: inout ProtobufReader,
        refs: inout [UInt32]
    ) throws(ProtobufDecodingError) -> Exemplar {
        var exemplar = Exemplar(labelStart: UInt32(refs.count), labelCount: 0, value: 0, timestamp: 0)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try reader.readRepeatedVarint(key) { refs.append(UInt32(clamping: $0)) }
            case 2:
                try key.expect(.fixed64)
                exemplar.value = try reader.readDouble()
            case 3:
                try key.expect(.varint)
                exemplar.timestamp = try reader.readInt64()
            default:
                try reader.skipField(key)
            }
        }
        exemplar.labelCount = UInt32(refs.count) - exemplar.labelStart
        return exemplar
    }

    /// Merges a `Metadata` message into `metadata`, as protobuf merges a repeated singular message field.
    private static func readV2Metadata(
        _ reader: inout ProtobufReader,
        into metadata: inout V2Metadata
    ) throws(ProtobufDecodingError) {
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.varint)
                metadata.type = metricType(try reader.readVarint())
            case 3:
                try key.expect(.varint)
                metadata.helpRef = try reader.readVarint()
            case 4:
                try key.expect(.varint)
                metadata.unitRef = try reader.readVarint()
            default:
                try reader.skipField(key)
            }
        }
    }

    private func resolveV2Series(
        _ index: Int,
        metadata: V2Metadata,
        refs: [UInt32],
        exemplarRefs: [UInt32],
        symbols: [Symbol],
        checkedNames: inout [Bool],
        into batch: inout MetricBatch,
        base: UnsafeRawPointer?
    ) throws(RemoteWriteDecodingError) {
        let location = RemoteWriteDecodingError.Location.series(index)
        guard refs.count % 2 == 0 else { throw .oddLabelRefs(location, count: refs.count) }
        let count = refs.count / 2
        guard count > 0 else { throw .noLabels(location) }
        guard count <= limits.maxLabelsPerSeries else {
            throw .tooManyLabels(location, count: count, limit: limits.maxLabelsPerSeries)
        }
        // Labels resolve to symbols, so the request has bytes and a base address.
        let base = base.unsafelyUnwrapped
        let position = batch.series.count - 1
        try appendV2Labels(
            refs[...], symbols: symbols, checkedNames: &checkedNames, into: &batch, base: base, at: location)
        batch.series[position].labelCount = UInt32(count)
        try checkOrder(series: position, in: &batch, base: base, at: location)

        var exemplarLocation = location
        for (ordinal, exemplarIndex) in batch.series[position].exemplarRange.enumerated() {
            exemplarLocation.exemplar = ordinal
            let start = Int(batch.exemplars[exemplarIndex].labelStart)
            let refCount = Int(batch.exemplars[exemplarIndex].labelCount)
            guard refCount % 2 == 0 else { throw .oddLabelRefs(exemplarLocation, count: refCount) }
            batch.exemplars[exemplarIndex].labelStart = UInt32(batch.labels.count)
            batch.exemplars[exemplarIndex].labelCount = UInt32(refCount / 2)
            try appendV2Labels(
                exemplarRefs[start..<(start + refCount)], symbols: symbols, checkedNames: &checkedNames,
                into: &batch, base: base, at: exemplarLocation)
        }

        guard metadata.helpRef < UInt64(symbols.count) else {
            throw .symbolRefOutOfRange(location, field: "help_ref", ref: metadata.helpRef, symbols: symbols.count)
        }
        guard metadata.unitRef < UInt64(symbols.count) else {
            throw .symbolRefOutOfRange(location, field: "unit_ref", ref: metadata.unitRef, symbols: symbols.count)
        }
    }

    @inline(__always)
    private func appendV2Labels(
        _ refs: ArraySlice<UInt32>,
        symbols: [Symbol],
        checkedNames: inout [Bool],
        into batch: inout MetricBatch,
        base: UnsafeRawPointer,
        at location: RemoteWriteDecodingError.Location
    ) throws(RemoteWriteDecodingError) {
        var index = refs.startIndex
        while index < refs.endIndex {
            let nameRef = Int(refs[index])
            let valueRef = Int(refs[index + 1])
            guard nameRef < symbols.count else {
                throw .symbolRefOutOfRange(location, field: "labels_refs", ref: UInt64(nameRef), symbols: symbols.count)
            }
            guard valueRef < symbols.count else {
                throw .symbolRefOutOfRange(
                    location, field: "labels_refs", ref: UInt64(valueRef), symbols: symbols.count)
            }
            let name = symbols[nameRef]
            let value = symbols[valueRef]
            let label = LabelRef(
                nameOffset: name.offset, nameLength: name.length, valueOffset: value.offset, valueLength: value.length)
            if !checkedNames[nameRef] {
                try checkName(label, base: base, at: location)
                checkedNames[nameRef] = true
            }
            try checkValue(label, base: base, at: location)
            batch.labels.append(label)
            index += 2
        }
    }

    // MARK: Shared messages

    @inline(__always)
    private static func readSample(
        _ reader: inout ProtobufReader,
        version2: Bool
    ) throws(ProtobufDecodingError) -> Sample {
        var sample = Sample(timestamp: 0, value: 0)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.fixed64)
                sample.value = try reader.readDouble()
            case 2:
                try key.expect(.varint)
                sample.timestamp = try reader.readInt64()
            case 3 where version2:
                // start_timestamp: checked as a known field, dropped because the batch has no place for it.
                try key.expect(.varint)
                _ = try reader.readVarint()
            default:
                try reader.skipField(key)
            }
        }
        return sample
    }

    /// Reads a native histogram; remote-write 1.0 and 2.0 number its fields alike.
    private static func readHistogram(
        _ reader: inout ProtobufReader,
        version2: Bool
    ) throws(ProtobufDecodingError) -> NativeHistogram {
        var histogram = NativeHistogram()
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.varint)
                histogram.count = .int(try reader.readVarint())
            case 2:
                try key.expect(.fixed64)
                histogram.count = .float(try reader.readDouble())
            case 3:
                try key.expect(.fixed64)
                histogram.sum = try reader.readDouble()
            case 4:
                try key.expect(.varint)
                histogram.schema = try reader.readSInt32()
            case 5:
                try key.expect(.fixed64)
                histogram.zeroThreshold = try reader.readDouble()
            case 6:
                try key.expect(.varint)
                histogram.zeroCount = .int(try reader.readVarint())
            case 7:
                try key.expect(.fixed64)
                histogram.zeroCount = .float(try reader.readDouble())
            case 8:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                histogram.negativeSpans.append(try readBucketSpan(&message))
            case 9:
                try reader.readRepeatedVarint(key) { histogram.negativeDeltas.append(ProtobufReader.zigZagDecode($0)) }
            case 10:
                try reader.readRepeatedFixed64(key) { histogram.negativeCounts.append(Double(bitPattern: $0)) }
            case 11:
                try key.expect(.lengthDelimited)
                var message = try reader.readMessage()
                histogram.positiveSpans.append(try readBucketSpan(&message))
            case 12:
                try reader.readRepeatedVarint(key) { histogram.positiveDeltas.append(ProtobufReader.zigZagDecode($0)) }
            case 13:
                try reader.readRepeatedFixed64(key) { histogram.positiveCounts.append(Double(bitPattern: $0)) }
            case 14:
                try key.expect(.varint)
                // Proto3 enums are open: a hint this code does not know is as good as no hint.
                histogram.resetHint = NativeHistogram.ResetHint(rawValue: UInt8(clamping: try reader.readVarint()))
                    ?? .unknown
            case 15:
                try key.expect(.varint)
                histogram.timestamp = try reader.readInt64()
            case 16:
                try reader.readRepeatedFixed64(key) { histogram.customValues.append(Double(bitPattern: $0)) }
            case 17 where version2:
                // start_timestamp: checked as a known field, dropped because the batch has no place for it.
                try key.expect(.varint)
                _ = try reader.readVarint()
            default:
                try reader.skipField(key)
            }
        }
        return histogram
    }

    private static func readBucketSpan(_ reader: inout ProtobufReader) throws(ProtobufDecodingError) -> BucketSpan {
        var span = BucketSpan(offset: 0, length: 0)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.varint)
                span.offset = try reader.readSInt32()
            case 2:
                try key.expect(.varint)
                span.length = UInt32(truncatingIfNeeded: try reader.readVarint())
            default:
                try reader.skipField(key)
            }
        }
        return span
    }

    /// Proto3 enums are open: a type this code does not know reads as unknown.
    private static func metricType(_ raw: UInt64) -> MetricType {
        raw <= 7 ? MetricType(rawValue: UInt8(raw)) ?? .unknown : .unknown
    }

    // MARK: Label checks

    @inline(__always)
    private func checkName(
        _ label: LabelRef,
        base: UnsafeRawPointer,
        at location: RemoteWriteDecodingError.Location
    ) throws(RemoteWriteDecodingError) {
        let length = Int(label.nameLength)
        guard length > 0 else { throw .emptyLabelName(location) }
        let name = UnsafeRawBufferPointer(start: base + Int(label.nameOffset), count: length)
        guard length <= limits.maxLabelNameLength else {
            throw .labelNameTooLong(location, name: name, limit: limits.maxLabelNameLength)
        }
        guard Self.isValidUTF8(name) else { throw .invalidLabelName(location, name: name) }
    }

    @inline(__always)
    private func checkValue(
        _ label: LabelRef,
        base: UnsafeRawPointer,
        at location: RemoteWriteDecodingError.Location
    ) throws(RemoteWriteDecodingError) {
        guard Int(label.valueLength) <= limits.maxLabelValueLength else {
            throw .labelValueTooLong(
                location, name: UnsafeRawBufferPointer(start: base + Int(label.nameOffset), count: Int(label.nameLength)),
                length: Int(label.valueLength), limit: limits.maxLabelValueLength)
        }
    }

    /// Throws on a duplicate name; sorts the series' labels only when the sender did not.
    private func checkOrder(
        series position: Int,
        in batch: inout MetricBatch,
        base: UnsafeRawPointer,
        at location: RemoteWriteDecodingError.Location
    ) throws(RemoteWriteDecodingError) {
        let range = batch.series[position].labelRange
        guard range.count > 1 else { return }
        var previous = batch.labels[range.lowerBound]
        var sorted = true
        for index in (range.lowerBound + 1)..<range.upperBound {
            let label = batch.labels[index]
            let order = Self.compareNames(previous, label, base: base)
            if order >= 0 {
                if order == 0 { throw .duplicateLabelName(location, name: Self.name(of: label, base: base)) }
                sorted = false
                break
            }
            previous = label
        }
        if sorted { return }
        batch.sortLabels(series: position)
        for index in (range.lowerBound + 1)..<range.upperBound {
            let label = batch.labels[index]
            if Self.compareNames(batch.labels[index - 1], label, base: base) == 0 {
                throw .duplicateLabelName(location, name: Self.name(of: label, base: base))
            }
        }
    }

    @inline(__always)
    private static func name(of label: LabelRef, base: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + Int(label.nameOffset), count: Int(label.nameLength))
    }

    /// Byte-wise order of two label names: negative, zero or positive.
    @inline(__always)
    private static func compareNames(_ left: LabelRef, _ right: LabelRef, base: UnsafeRawPointer) -> Int {
        let common = Int(min(left.nameLength, right.nameLength))
        if common > 0 {
            let order = memcmp(base + Int(left.nameOffset), base + Int(right.nameOffset), common)
            if order != 0 { return Int(order) }
        }
        return Int(left.nameLength) - Int(right.nameLength)
    }

    /// Whether `bytes` are well-formed UTF-8; names are nearly always ASCII, checked eight bytes at a time.
    @inline(__always)
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        while count - index >= 8 {
            if base.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
                return isValidNonASCIIUTF8(bytes, from: index)
            }
            index += 8
        }
        while index < count {
            if base.load(fromByteOffset: index, as: UInt8.self) >= 0x80 {
                return isValidNonASCIIUTF8(bytes, from: index)
            }
            index += 1
        }
        return true
    }

    @inline(never)
    private static func isValidNonASCIIUTF8(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var index = start
        while index < bytes.count {
            if bytes[index] < 0x80 {
                index += 1
                continue
            }
            let sequence = UTF8Sequence.measure(bytes, at: index)
            guard sequence.isValid else { return false }
            index += sequence.length
        }
        return true
    }

    // withUnsafeBytes is rethrows, which erases typed throws; this keeps RemoteWriteDecodingError in the signature.
    private static func withBytes(
        _ bytes: [UInt8],
        _ body: (UnsafeRawBufferPointer) throws(RemoteWriteDecodingError) -> Void
    ) throws(RemoteWriteDecodingError) {
        let result: Result<Void, RemoteWriteDecodingError> = bytes.withUnsafeBytes { buffer in
            do throws(RemoteWriteDecodingError) {
                try body(buffer)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}
