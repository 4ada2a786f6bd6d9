import PetrelCore

/// The decoding of one remote-write request: the batch being built and scratch reused from series to series.
///
/// Reading the wire throws `ProtobufDecodingError` and checking what was read throws `RemoteWriteDecodingError`;
/// the request loops turn the former into the latter with the series it happened in.
struct RemoteWriteDecoding {
    typealias Location = RemoteWriteDecodingError.Location

    /// Where a 2.0 symbol's bytes are in the request.
    struct Symbol {
        var offset: UInt32
        var length: UInt32
    }

    /// The parts of a 2.0 series' `Metadata` that are checked once its symbols are known.
    struct V2Metadata {
        var type: MetricType = .unknown
        var helpRef: UInt64 = 0
        var unitRef: UInt64 = 0
    }

    let limits: RemoteWriteDecoder.Limits
    /// The request, which is also `batch.arena`: label offsets are offsets into it.
    let buffer: UnsafeRawBufferPointer
    var batch: MetricBatch
    /// 1.0: the labels of the current series' exemplars, parked until the series ends.
    private var exemplarLabels: [LabelRef] = []
    /// 2.0: the symbols table, and whether each symbol was checked as a label name.
    private var symbols: [Symbol] = []
    private var checkedNames: [Bool] = []
    /// 2.0: where the current series' `labels_refs` varints are (a packed run, or one unpacked value, per range),
    /// then those of its exemplars. Refs are resolved straight from the request, never copied out.
    private var refRuns: [Range<Int>] = []
    private var exemplarRefRuns: [Range<Int>] = []

    init(limits: RemoteWriteDecoder.Limits, buffer: UnsafeRawBufferPointer, batch: MetricBatch) {
        self.limits = limits
        self.buffer = buffer
        self.batch = batch
    }

    /// Where labels point: non-nil whenever there is a label, since a label takes bytes of the request.
    private var base: UnsafeRawPointer { buffer.baseAddress.unsafelyUnwrapped }

    // MARK: Remote-write 1.0

    mutating func decodeV1() throws(RemoteWriteDecodingError) {
        var reader = ProtobufReader(buffer)
        var seriesIndex = 0
        var metadataIndex = 0
        while !reader.isAtEnd {
            let field: UInt32
            let range: Range<Int>
            do throws(ProtobufDecodingError) {
                let key = try reader.readFieldKey()
                field = key.number
                guard field == 1 || field == 3 else {
                    try reader.skipField(key)
                    continue
                }
                try key.expect(.lengthDelimited)
                range = try reader.readLengthDelimited()
            } catch {
                throw RemoteWriteDecodingError(error, decoding: .v1, at: .request)
            }
            if field == 1 {
                do throws(ProtobufDecodingError) {
                    try readV1Series(range)
                } catch {
                    throw RemoteWriteDecodingError(error, decoding: .v1, at: .series(seriesIndex))
                }
                try checkV1Series(seriesIndex)
                if seriesIndex == 0 {
                    reserveForRest(firstSeriesBytes: range.count, remainingBytes: buffer.count - reader.position)
                }
                seriesIndex += 1
            } else {
                do throws(ProtobufDecodingError) {
                    let metadata = try Self.readV1Metadata(buffer, range)
                    batch.metadata.append(metadata)
                } catch {
                    throw RemoteWriteDecodingError(error, decoding: .v1, at: Location(metadata: metadataIndex))
                }
                metadataIndex += 1
            }
        }
    }

    @inline(__always)
    private mutating func readV1Series(_ range: Range<Int>) throws(ProtobufDecodingError) {
        var reader = ProtobufReader(buffer, unchecked: range)
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
                let label = try Self.readV1Label(buffer, reader.readLengthDelimited())
                batch.labels.append(label)
            case 2:
                try key.expect(.lengthDelimited)
                let sample = try Self.readSample(buffer, reader.readLengthDelimited(), version2: false)
                batch.samples.append(sample)
            case 3:
                try key.expect(.lengthDelimited)
                let exemplar = try Self.readV1Exemplar(buffer, reader.readLengthDelimited(), labels: &exemplarLabels)
                batch.exemplars.append(exemplar)
            case 4:
                try key.expect(.lengthDelimited)
                let histogram = try Self.readHistogram(buffer, reader.readLengthDelimited(), version2: false)
                batch.histograms.append(histogram)
            default:
                try reader.skipField(key)
            }
        }
        let labelCount = batch.labels.count - labelStart
        if batch.exemplars.count > exemplarStart {
            // Exemplar labels may come between series labels on the wire; parking them until the series ends keeps
            // the series' own labels contiguous.
            let offset = UInt32(batch.labels.count)
            for index in exemplarStart..<batch.exemplars.count {
                batch.exemplars[index].labelStart += offset
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
    private static func readV1Label(
        _ buffer: UnsafeRawBufferPointer,
        _ range: Range<Int>
    ) throws(ProtobufDecodingError) -> LabelRef {
        // Fast path: a name and a value of under 128 bytes each, in field order, which is what senders write.
        let start = range.lowerBound
        if range.count >= 4 && buffer[start] == 0x0A {
            let nameLength = Int(buffer[start + 1])
            let valueKey = start + 2 + nameLength
            if nameLength < 0x80 && valueKey + 2 <= range.upperBound && buffer[valueKey] == 0x12 {
                let valueLength = Int(buffer[valueKey + 1])
                if valueLength < 0x80 && valueKey + 2 + valueLength == range.upperBound {
                    return LabelRef(
                        nameOffset: UInt32(truncatingIfNeeded: start + 2), nameLength: UInt32(nameLength),
                        valueOffset: UInt32(truncatingIfNeeded: valueKey + 2), valueLength: UInt32(valueLength))
                }
            }
        }
        var reader = ProtobufReader(buffer, unchecked: range)
        var label = LabelRef(nameOffset: 0, nameLength: 0, valueOffset: 0, valueLength: 0)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.lengthDelimited)
                let name = try reader.readLengthDelimited()
                label.nameOffset = UInt32(truncatingIfNeeded: name.lowerBound)
                label.nameLength = UInt32(truncatingIfNeeded: name.count)
            case 2:
                try key.expect(.lengthDelimited)
                let value = try reader.readLengthDelimited()
                label.valueOffset = UInt32(truncatingIfNeeded: value.lowerBound)
                label.valueLength = UInt32(truncatingIfNeeded: value.count)
            default:
                try reader.skipField(key)
            }
        }
        return label
    }

    /// Reads an exemplar whose labels go to `labels`; its `labelStart` is relative to that array for now.
    private static func readV1Exemplar(
        _ buffer: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        labels exemplarLabels: inout [LabelRef]
    ) throws(ProtobufDecodingError) -> Exemplar {
        var reader = ProtobufReader(buffer, unchecked: range)
        var exemplar = Exemplar(labelStart: UInt32(exemplarLabels.count), labelCount: 0, value: 0, timestamp: 0)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.lengthDelimited)
                let label = try Self.readV1Label(buffer, reader.readLengthDelimited())
                exemplarLabels.append(label)
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

    private static func readV1Metadata(
        _ buffer: UnsafeRawBufferPointer,
        _ range: Range<Int>
    ) throws(ProtobufDecodingError) -> MetricMetadata {
        var reader = ProtobufReader(buffer, unchecked: range)
        var metadata = MetricMetadata(type: .unknown, familyName: "")
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.varint)
                metadata.type = Self.metricType(try reader.readVarint())
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

    private mutating func checkV1Series(_ index: Int) throws(RemoteWriteDecodingError) {
        let position = batch.series.count - 1
        let series = batch.series[position]
        let location = Location.series(index)
        let count = Int(series.labelCount)
        guard count > 0 else { throw .noLabels(location) }
        guard count <= limits.maxLabelsPerSeries else {
            throw .tooManyLabels(location, count: count, limit: limits.maxLabelsPerSeries)
        }
        let base = self.base
        for labelIndex in series.labelRange {
            let label = batch.labels[labelIndex]
            try Self.checkName(label, base: base, limits: limits, at: location)
            try Self.checkValue(label, base: base, limits: limits, at: location)
        }
        try checkOrder(series: position, at: location)
        var exemplarLocation = location
        for (ordinal, exemplarIndex) in series.exemplarRange.enumerated() {
            let exemplar = batch.exemplars[exemplarIndex]
            exemplarLocation.exemplar = ordinal
            let start = Int(exemplar.labelStart)
            for labelIndex in start..<(start + Int(exemplar.labelCount)) {
                let label = batch.labels[labelIndex]
                try Self.checkName(label, base: base, limits: limits, at: exemplarLocation)
                try Self.checkValue(label, base: base, limits: limits, at: exemplarLocation)
            }
        }
    }

    // MARK: Remote-write 2.0

    mutating func decodeV2() throws(RemoteWriteDecodingError) {
        // The schema does not promise symbols come before timeseries, so the first pass collects the symbols (and
        // where each series is) and the second decodes the series against the complete table.
        var seriesRanges: [Range<Int>] = []
        var seriesBytes = 0
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
                    let range = try reader.readLengthDelimited()
                    seriesRanges.append(range)
                    seriesBytes += range.count
                default:
                    try reader.skipField(key)
                }
            }
        } catch {
            throw RemoteWriteDecodingError(error, decoding: .v2, at: .request)
        }
        // Names repeat across series; checking each name symbol once saves rescanning its bytes for every series.
        checkedNames = [Bool](repeating: false, count: symbols.count)
        for (index, range) in seriesRanges.enumerated() {
            let metadata: V2Metadata
            do throws(ProtobufDecodingError) {
                metadata = try readV2Series(range)
            } catch {
                throw RemoteWriteDecodingError(error, decoding: .v2, at: .series(index))
            }
            try resolveV2Series(index, metadata: metadata)
            if index == 0 {
                reserveForRest(firstSeriesBytes: range.count, remainingBytes: seriesBytes - range.count)
            }
        }
    }

    /// Reads a series' fields; its labels and its exemplars' labels stay runs of refs until `resolveV2Series`.
    @inline(__always)
    private mutating func readV2Series(_ range: Range<Int>) throws(ProtobufDecodingError) -> V2Metadata {
        var reader = ProtobufReader(buffer, unchecked: range)
        let sampleStart = batch.samples.count
        let histogramStart = batch.histograms.count
        let exemplarStart = batch.exemplars.count
        refRuns.removeAll(keepingCapacity: true)
        if !exemplarRefRuns.isEmpty { exemplarRefRuns.removeAll(keepingCapacity: true) }
        var metadata = V2Metadata()
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                let run = try Self.readRefRun(&reader, key)
                refRuns.append(run)
            case 2:
                try key.expect(.lengthDelimited)
                let sample = try Self.readSample(buffer, reader.readLengthDelimited(), version2: true)
                batch.samples.append(sample)
            case 3:
                try key.expect(.lengthDelimited)
                let histogram = try Self.readHistogram(buffer, reader.readLengthDelimited(), version2: true)
                batch.histograms.append(histogram)
            case 4:
                try key.expect(.lengthDelimited)
                let exemplar = try Self.readV2Exemplar(buffer, reader.readLengthDelimited(), runs: &exemplarRefRuns)
                batch.exemplars.append(exemplar)
            case 5:
                try key.expect(.lengthDelimited)
                try Self.readV2Metadata(buffer, reader.readLengthDelimited(), into: &metadata)
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

    /// Where the varints of a `labels_refs` field are: its packed run, or its one value when sent unpacked.
    @inline(__always)
    private static func readRefRun(
        _ reader: inout ProtobufReader,
        _ key: ProtobufFieldKey
    ) throws(ProtobufDecodingError) -> Range<Int> {
        switch key.wireType {
        case .lengthDelimited:
            return try reader.readLengthDelimited()
        case .varint:
            let start = reader.position
            _ = try reader.readVarint()
            return start..<reader.position
        default:
            throw .wrongWireType(key, expected: .lengthDelimited)
        }
    }

    /// Reads an exemplar whose ref runs go to `runs`; until resolved, its label range is a range of those runs.
    private static func readV2Exemplar(
        _ buffer: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        runs: inout [Range<Int>]
    ) throws(ProtobufDecodingError) -> Exemplar {
        var reader = ProtobufReader(buffer, unchecked: range)
        var exemplar = Exemplar(labelStart: UInt32(runs.count), labelCount: 0, value: 0, timestamp: 0)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                let run = try readRefRun(&reader, key)
                runs.append(run)
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
        exemplar.labelCount = UInt32(runs.count) - exemplar.labelStart
        return exemplar
    }

    /// Merges a `Metadata` message into `metadata`, as protobuf merges a repeated singular message field.
    private static func readV2Metadata(
        _ buffer: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        into metadata: inout V2Metadata
    ) throws(ProtobufDecodingError) {
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let key = try reader.readFieldKey()
            switch key.number {
            case 1:
                try key.expect(.varint)
                metadata.type = Self.metricType(try reader.readVarint())
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

    private mutating func resolveV2Series(_ index: Int, metadata: V2Metadata) throws(RemoteWriteDecodingError) {
        let location = Location.series(index)
        let position = batch.series.count - 1
        let count = try appendV2Labels(runs: 0..<refRuns.count, ofExemplar: false, at: location)
        guard count > 0 else { throw .noLabels(location) }
        guard count <= limits.maxLabelsPerSeries else {
            throw .tooManyLabels(location, count: count, limit: limits.maxLabelsPerSeries)
        }
        batch.series[position].labelCount = UInt32(count)
        try checkOrder(series: position, at: location)

        var exemplarLocation = location
        for (ordinal, exemplarIndex) in batch.series[position].exemplarRange.enumerated() {
            exemplarLocation.exemplar = ordinal
            let start = Int(batch.exemplars[exemplarIndex].labelStart)
            let runs = start..<(start + Int(batch.exemplars[exemplarIndex].labelCount))
            batch.exemplars[exemplarIndex].labelStart = UInt32(batch.labels.count)
            let count = try appendV2Labels(runs: runs, ofExemplar: true, at: exemplarLocation)
            batch.exemplars[exemplarIndex].labelCount = UInt32(count)
        }

        guard metadata.helpRef < UInt64(symbols.count) else {
            throw .symbolRefOutOfRange(location, field: "help_ref", ref: metadata.helpRef, symbols: symbols.count)
        }
        guard metadata.unitRef < UInt64(symbols.count) else {
            throw .symbolRefOutOfRange(location, field: "unit_ref", ref: metadata.unitRef, symbols: symbols.count)
        }
    }

    /// Appends and checks the labels whose name and value refs are in `runs` of `refRuns` (or of
    /// `exemplarRefRuns`); returns how many there were.
    @inline(__always)
    private mutating func appendV2Labels(
        runs: Range<Int>,
        ofExemplar: Bool,
        at location: Location
    ) throws(RemoteWriteDecodingError) -> Int {
        let base = self.base
        let symbolCount = UInt64(symbols.count)
        var count = 0
        var nameRef = 0
        var hasName = false
        for runIndex in runs {
            var reader = ProtobufReader(buffer, unchecked: ofExemplar ? exemplarRefRuns[runIndex] : refRuns[runIndex])
            while !reader.isAtEnd {
                let ref: UInt64
                do throws(ProtobufDecodingError) {
                    ref = try reader.readVarint()
                } catch {
                    throw RemoteWriteDecodingError(error, decoding: .v2, at: location)
                }
                guard ref < symbolCount else {
                    throw .symbolRefOutOfRange(location, field: "labels_refs", ref: ref, symbols: symbols.count)
                }
                guard hasName else {
                    nameRef = Int(ref)
                    hasName = true
                    continue
                }
                hasName = false
                let name = symbols[nameRef]
                let value = symbols[Int(ref)]
                let label = LabelRef(
                    nameOffset: name.offset, nameLength: name.length, valueOffset: value.offset,
                    valueLength: value.length)
                if !checkedNames[nameRef] {
                    try Self.checkName(label, base: base, limits: limits, at: location)
                    checkedNames[nameRef] = true
                }
                try Self.checkValue(label, base: base, limits: limits, at: location)
                batch.labels.append(label)
                count += 1
            }
        }
        if hasName { throw .oddLabelRefs(location, count: count * 2 + 1) }
        return count
    }

    // MARK: Shared

    /// Reserves room for the rest of the request in the proportions of its first series.
    ///
    /// Senders write homogeneous requests, and growing arrays of thousands of labels by doubling costs more than
    /// decoding them: every growth copies, and its fresh pages fault in. Histograms and exemplars are rare and
    /// large, so they grow as they come.
    private mutating func reserveForRest(firstSeriesBytes: Int, remainingBytes: Int) {
        guard remainingBytes > 0, firstSeriesBytes > 0 else { return }
        // A little slack, since later series may have longer label values and so fewer labels per byte.
        let scale = Double(remainingBytes) / Double(firstSeriesBytes) * 1.1
        func room(_ count: Int) -> Int {
            count + Int((Double(count) * scale).rounded(.up))
        }
        let series = room(batch.series.count)
        let labels = room(batch.labels.count)
        let samples = room(batch.samples.count)
        let seriesBytes = series * MemoryLayout<Series>.stride
        let labelBytes = labels * MemoryLayout<LabelRef>.stride
        let sampleBytes = samples * MemoryLayout<Sample>.stride
        // A small first series padded with unknown fields would extrapolate to far more than the request holds;
        // real series that compact could not need more than a few times the request's size.
        guard seriesBytes + labelBytes + sampleBytes <= 8 * (firstSeriesBytes + remainingBytes) else { return }
        batch.series.reserveCapacity(series)
        batch.labels.reserveCapacity(labels)
        batch.samples.reserveCapacity(samples)
    }

    @inline(__always)
    private static func readSample(
        _ buffer: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        version2: Bool
    ) throws(ProtobufDecodingError) -> Sample {
        var reader = ProtobufReader(buffer, unchecked: range)
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
        _ buffer: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        version2: Bool
    ) throws(ProtobufDecodingError) -> NativeHistogram {
        var reader = ProtobufReader(buffer, unchecked: range)
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
                histogram.negativeSpans.append(try readBucketSpan(buffer, reader.readLengthDelimited()))
            case 9:
                try reader.readRepeatedVarint(key) { histogram.negativeDeltas.append(ProtobufReader.zigZagDecode($0)) }
            case 10:
                try reader.readRepeatedFixed64(key) { histogram.negativeCounts.append(Double(bitPattern: $0)) }
            case 11:
                try key.expect(.lengthDelimited)
                histogram.positiveSpans.append(try readBucketSpan(buffer, reader.readLengthDelimited()))
            case 12:
                try reader.readRepeatedVarint(key) { histogram.positiveDeltas.append(ProtobufReader.zigZagDecode($0)) }
            case 13:
                try reader.readRepeatedFixed64(key) { histogram.positiveCounts.append(Double(bitPattern: $0)) }
            case 14:
                try key.expect(.varint)
                // Proto3 enums are open: a hint this code does not know is as good as no hint.
                histogram.resetHint =
                    NativeHistogram.ResetHint(rawValue: UInt8(clamping: try reader.readVarint())) ?? .unknown
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

    private static func readBucketSpan(
        _ buffer: UnsafeRawBufferPointer,
        _ range: Range<Int>
    ) throws(ProtobufDecodingError) -> BucketSpan {
        var reader = ProtobufReader(buffer, unchecked: range)
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
    private static func checkName(
        _ label: LabelRef,
        base: UnsafeRawPointer,
        limits: RemoteWriteDecoder.Limits,
        at location: Location
    ) throws(RemoteWriteDecodingError) {
        let length = Int(label.nameLength)
        guard length > 0 else { throw .emptyLabelName(location) }
        let name = UnsafeRawBufferPointer(start: base + Int(label.nameOffset), count: length)
        guard length <= limits.maxLabelNameLength else {
            throw .labelNameTooLong(location, name: name, limit: limits.maxLabelNameLength)
        }
        guard isValidUTF8(name) else { throw .invalidLabelName(location, name: name) }
    }

    @inline(__always)
    private static func checkValue(
        _ label: LabelRef,
        base: UnsafeRawPointer,
        limits: RemoteWriteDecoder.Limits,
        at location: Location
    ) throws(RemoteWriteDecodingError) {
        guard Int(label.valueLength) <= limits.maxLabelValueLength else {
            throw .labelValueTooLong(
                location, name: name(of: label, base: base), length: Int(label.valueLength),
                limit: limits.maxLabelValueLength)
        }
    }

    /// Throws on a duplicate name; sorts the series' labels only when the sender did not.
    private mutating func checkOrder(series position: Int, at location: Location) throws(RemoteWriteDecodingError) {
        let base = self.base
        let end = buffer.count
        let range = batch.series[position].labelRange
        guard range.count > 1 else { return }
        var previous = batch.labels[range.lowerBound]
        var sorted = true
        for index in (range.lowerBound + 1)..<range.upperBound {
            let label = batch.labels[index]
            let order = Self.compareNames(previous, label, base: base, end: end)
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
            if Self.compareNames(batch.labels[index - 1], label, base: base, end: end) == 0 {
                throw .duplicateLabelName(location, name: Self.name(of: label, base: base))
            }
        }
    }

    @inline(__always)
    private static func name(of label: LabelRef, base: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + Int(label.nameOffset), count: Int(label.nameLength))
    }

    /// Byte-wise order of two label names: negative, zero or positive.
    ///
    /// Names are short and differ early, where calling memcmp costs more than comparing in place.
    @inline(__always)
    private static func compareNames(_ left: LabelRef, _ right: LabelRef, base: UnsafeRawPointer, end: Int) -> Int {
        let leftName = base + Int(left.nameOffset)
        let rightName = base + Int(right.nameOffset)
        let common = Int(min(left.nameLength, right.nameLength))
        if common < 8 && Int(left.nameOffset) + 8 <= end && Int(right.nameOffset) + 8 <= end {
            // Eight bytes of the request can be read at both names: compare the common prefix in one step.
            if common > 0 {
                let shift = UInt64(64 - common * 8)
                let leftWord = UInt64(bigEndian: leftName.loadUnaligned(as: UInt64.self)) >> shift
                let rightWord = UInt64(bigEndian: rightName.loadUnaligned(as: UInt64.self)) >> shift
                if leftWord != rightWord { return leftWord < rightWord ? -1 : 1 }
            }
            return Int(left.nameLength) - Int(right.nameLength)
        }
        var index = 0
        while common - index >= 8 {
            // Big-endian words order as their bytes do.
            let leftWord = UInt64(bigEndian: leftName.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let rightWord = UInt64(bigEndian: rightName.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            if leftWord != rightWord { return leftWord < rightWord ? -1 : 1 }
            index += 8
        }
        while index < common {
            let leftByte = leftName.load(fromByteOffset: index, as: UInt8.self)
            let rightByte = rightName.load(fromByteOffset: index, as: UInt8.self)
            if leftByte != rightByte { return Int(leftByte) - Int(rightByte) }
            index += 1
        }
        return Int(left.nameLength) - Int(right.nameLength)
    }

    /// Whether `bytes` are well-formed UTF-8; names are nearly always ASCII, checked eight bytes at a time.
    @inline(__always)
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard let start = bytes.baseAddress else { return true }
        var index = 0
        while count - index >= 8 {
            if start.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
                return isValidNonASCIIUTF8(bytes, from: index)
            }
            index += 8
        }
        while index < count {
            if start.load(fromByteOffset: index, as: UInt8.self) >= 0x80 {
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
}
