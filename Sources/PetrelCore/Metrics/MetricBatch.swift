#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A label as offsets into a batch's byte arena: no `String` per label on the hot path.
public struct LabelRef: Sendable, Hashable {
    public var nameOffset: UInt32
    public var nameLength: UInt32
    public var valueOffset: UInt32
    public var valueLength: UInt32

    @inlinable
    public init(nameOffset: UInt32, nameLength: UInt32, valueOffset: UInt32, valueLength: UInt32) {
        self.nameOffset = nameOffset
        self.nameLength = nameLength
        self.valueOffset = valueOffset
        self.valueLength = valueLength
    }
}

/// Prometheus metric types, numbered as remote-write 1.0 and 2.0 number them.
public enum MetricType: UInt8, Sendable, CaseIterable {
    case unknown = 0
    case counter = 1
    case gauge = 2
    case histogram = 3
    case gaugeHistogram = 4
    case summary = 5
    case info = 6
    case stateset = 7
}

/// A float sample.
public struct Sample: Sendable, Hashable {
    public var timestamp: Int64
    public var value: Double

    @inlinable
    public init(timestamp: Int64, value: Double) {
        self.timestamp = timestamp
        self.value = value
    }
}

/// An exemplar; its labels are a range of the batch's `labels`.
public struct Exemplar: Sendable, Hashable {
    public var labelStart: UInt32
    public var labelCount: UInt32
    public var value: Double
    public var timestamp: Int64

    public init(labelStart: UInt32, labelCount: UInt32, value: Double, timestamp: Int64) {
        self.labelStart = labelStart
        self.labelCount = labelCount
        self.value = value
        self.timestamp = timestamp
    }
}

/// A span of native histogram buckets.
public struct BucketSpan: Sendable, Hashable {
    public var offset: Int32
    public var length: UInt32

    public init(offset: Int32, length: UInt32) {
        self.offset = offset
        self.length = length
    }
}

/// A Prometheus native histogram sample, integer or float flavoured, as remote-write carries it.
public struct NativeHistogram: Sendable, Hashable {
    /// A count that is an integer for integer histograms and a float for float histograms.
    public enum Count: Sendable, Hashable {
        case int(UInt64)
        case float(Double)
    }

    /// Whether the sender knows the histogram was reset.
    public enum ResetHint: UInt8, Sendable {
        case unknown = 0
        case yes = 1
        case no = 2
        case gauge = 3
    }

    public var count: Count = .int(0)
    public var sum: Double = 0
    public var schema: Int32 = 0
    public var zeroThreshold: Double = 0
    public var zeroCount: Count = .int(0)
    public var negativeSpans: [BucketSpan] = []
    public var negativeDeltas: [Int64] = []
    public var negativeCounts: [Double] = []
    public var positiveSpans: [BucketSpan] = []
    public var positiveDeltas: [Int64] = []
    public var positiveCounts: [Double] = []
    public var resetHint: ResetHint = .unknown
    public var timestamp: Int64 = 0
    public var customValues: [Double] = []

    public init() {}
}

/// Metadata of a metric family, as remote-write 1.0 sends it beside the series.
public struct MetricMetadata: Sendable, Hashable {
    public var type: MetricType
    public var familyName: String
    public var help: String
    public var unit: String

    public init(type: MetricType, familyName: String, help: String = "", unit: String = "") {
        self.type = type
        self.familyName = familyName
        self.help = help
        self.unit = unit
    }
}

/// A series: ranges into the batch's flat arrays of labels, samples, histograms and exemplars.
public struct Series: Sendable, Hashable {
    public var labelStart: UInt32
    public var labelCount: UInt32
    public var sampleStart: UInt32
    public var sampleCount: UInt32
    public var histogramStart: UInt32
    public var histogramCount: UInt32
    public var exemplarStart: UInt32
    public var exemplarCount: UInt32
    public var type: MetricType

    public init(
        labelStart: UInt32, labelCount: UInt32,
        sampleStart: UInt32, sampleCount: UInt32,
        histogramStart: UInt32 = 0, histogramCount: UInt32 = 0,
        exemplarStart: UInt32 = 0, exemplarCount: UInt32 = 0,
        type: MetricType = .unknown
    ) {
        self.labelStart = labelStart
        self.labelCount = labelCount
        self.sampleStart = sampleStart
        self.sampleCount = sampleCount
        self.histogramStart = histogramStart
        self.histogramCount = histogramCount
        self.exemplarStart = exemplarStart
        self.exemplarCount = exemplarCount
        self.type = type
    }

    @inlinable public var labelRange: Range<Int> { Int(labelStart)..<Int(labelStart + labelCount) }
    @inlinable public var sampleRange: Range<Int> { Int(sampleStart)..<Int(sampleStart + sampleCount) }
    @inlinable public var histogramRange: Range<Int> { Int(histogramStart)..<Int(histogramStart + histogramCount) }
    @inlinable public var exemplarRange: Range<Int> { Int(exemplarStart)..<Int(exemplarStart + exemplarCount) }
}

/// A batch of metric series in a flat layout.
///
/// Every label name and value lives in one byte arena (for a decoded request, the decompressed
/// request itself); labels are offsets into it. Transforms rewrite label references and append
/// new strings to the arena; ranges left unreferenced are simply never encoded. Each series'
/// labels are kept sorted by name, as Prometheus requires.
public struct MetricBatch: Sendable {
    public var arena: [UInt8]
    public var labels: [LabelRef]
    public var series: [Series]
    public var samples: [Sample]
    public var histograms: [NativeHistogram]
    public var exemplars: [Exemplar]
    public var metadata: [MetricMetadata]

    /// A batch whose arena starts as `arena`, typically a decompressed request that labels point into.
    public init(arena: [UInt8] = []) {
        self.arena = arena
        self.labels = []
        self.series = []
        self.samples = []
        self.histograms = []
        self.exemplars = []
        self.metadata = []
    }

    public var seriesCount: Int { series.count }

    public var estimatedBytes: Int {
        arena.count + labels.count * MemoryLayout<LabelRef>.stride + series.count * MemoryLayout<Series>.stride
            + samples.count * MemoryLayout<Sample>.stride + histograms.count * 128
            + exemplars.count * MemoryLayout<Exemplar>.stride
    }

    // MARK: Building

    /// Appends bytes to the arena and returns where they are.
    @inlinable
    public mutating func appendToArena(_ bytes: UnsafeRawBufferPointer) -> (offset: UInt32, length: UInt32) {
        let offset = UInt32(arena.count)
        arena.append(contentsOf: bytes)
        return (offset, UInt32(bytes.count))
    }

    /// Appends a string's UTF-8 bytes to the arena and returns where they are.
    @inlinable
    public mutating func appendToArena(_ string: String) -> (offset: UInt32, length: UInt32) {
        let offset = UInt32(arena.count)
        arena.append(contentsOf: string.utf8)
        return (offset, UInt32(arena.count) - offset)
    }

    /// Appends a label's name and value to the arena; the result can be set on many series.
    public mutating func makeLabel(name: String, value: String) -> LabelRef {
        let name = appendToArena(name)
        let value = appendToArena(value)
        return LabelRef(
            nameOffset: name.offset, nameLength: name.length, valueOffset: value.offset, valueLength: value.length)
    }

    /// Appends a series with float samples; its labels are sorted by name on the way in.
    @discardableResult
    public mutating func appendSeries(
        labels pairs: [(name: String, value: String)],
        samples newSamples: [Sample],
        type: MetricType = .unknown
    ) -> Int {
        let labelStart = UInt32(labels.count)
        for pair in pairs.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            labels.append(makeLabel(name: pair.name, value: pair.value))
        }
        let sampleStart = UInt32(samples.count)
        samples.append(contentsOf: newSamples)
        series.append(
            Series(
                labelStart: labelStart, labelCount: UInt32(pairs.count),
                sampleStart: sampleStart, sampleCount: UInt32(newSamples.count),
                histogramStart: UInt32(histograms.count), exemplarStart: UInt32(exemplars.count),
                type: type))
        return series.count - 1
    }

    // MARK: Reading labels

    /// The bytes of a string in the arena, for the duration of `body`.
    @inlinable
    public func withBytes<R>(offset: UInt32, length: UInt32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows
        -> R
    {
        try arena.withUnsafeBytes { arena in
            try body(UnsafeRawBufferPointer(rebasing: arena[Int(offset)..<Int(offset + length)]))
        }
    }

    /// A label's name as a `String` (allocates: not for the hot path).
    public func name(_ label: LabelRef) -> String {
        withBytes(offset: label.nameOffset, length: label.nameLength) { String(decoding: $0, as: UTF8.self) }
    }

    /// A label's value as a `String` (allocates: not for the hot path).
    public func value(_ label: LabelRef) -> String {
        withBytes(offset: label.valueOffset, length: label.valueLength) { String(decoding: $0, as: UTF8.self) }
    }

    /// The labels of a series, sorted by name.
    @inlinable
    public func labels(of seriesIndex: Int) -> ArraySlice<LabelRef> {
        labels[series[seriesIndex].labelRange]
    }

    /// The labels of a series as strings, sorted by name (allocates: for tests and printing).
    public func labelPairs(of seriesIndex: Int) -> [(name: String, value: String)] {
        labels(of: seriesIndex).map { (name($0), value($0)) }
    }

    /// The samples of a series.
    @inlinable
    public func samples(of seriesIndex: Int) -> ArraySlice<Sample> {
        samples[series[seriesIndex].sampleRange]
    }

    /// The value of the label `name` on a series.
    public func labelValue(series seriesIndex: Int, name: String) -> String? {
        labelIndex(series: seriesIndex, name: name).map { value(labels[$0]) }
    }

    /// The index into `labels` of the label `name` on a series.
    public func labelIndex(series seriesIndex: Int, name: String) -> Int? {
        var name = name
        return name.withUTF8 { name in
            let range = series[seriesIndex].labelRange
            return arena.withUnsafeBytes { arena in
                for index in range {
                    let label = labels[index]
                    let order = Self.compare(arena, label.nameOffset, label.nameLength, UnsafeRawBufferPointer(name))
                    if order == 0 { return index }
                    if order > 0 { return nil }
                }
                return nil
            }
        }
    }

    // MARK: Changing labels

    /// Sets the label `name` to `value` on a series, keeping its labels sorted.
    public mutating func setLabel(series seriesIndex: Int, name: String, value: String) {
        if let index = labelIndex(series: seriesIndex, name: name) {
            let value = appendToArena(value)
            labels[index].valueOffset = value.offset
            labels[index].valueLength = value.length
        } else {
            setLabel(series: seriesIndex, makeLabel(name: name, value: value))
        }
    }

    /// Sets a label already in the arena (see `makeLabel`) on a series, replacing one of the same name.
    public mutating func setLabel(series seriesIndex: Int, _ label: LabelRef) {
        let range = series[seriesIndex].labelRange
        var position = range.upperBound
        let found: Bool = arena.withUnsafeBytes { arena in
            let name = UnsafeRawBufferPointer(
                rebasing: arena[Int(label.nameOffset)..<Int(label.nameOffset + label.nameLength)])
            for index in range {
                let existing = labels[index]
                let order = Self.compare(arena, existing.nameOffset, existing.nameLength, name)
                if order >= 0 {
                    position = index
                    return order == 0
                }
            }
            return false
        }
        if found {
            labels[position] = label
            return
        }
        if range.upperBound == labels.count {
            labels.insert(label, at: position)
        } else {
            // Another series' labels follow: move this series' labels to the end, where it can grow.
            // Element by element: appending a slice of `labels` to itself would copy the whole array.
            let newStart = labels.count
            for index in range.lowerBound..<position { labels.append(labels[index]) }
            labels.append(label)
            for index in position..<range.upperBound { labels.append(labels[index]) }
            series[seriesIndex].labelStart = UInt32(newStart)
        }
        series[seriesIndex].labelCount += 1
    }

    /// Adds `added` (labels made with `makeLabel`, sorted by name, names distinct) to every series, keeping each
    /// series' labels sorted; where a series has a label of the same name, it is replaced only with `overwrite`.
    ///
    /// One pass builds a new `labels` array of exactly the live labels: cheaper than a `setLabel` per series and
    /// label, and it drops the slots that earlier moves left behind, so a batch that waits in a buffer holds no garbage.
    public mutating func addLabelsToEverySeries(_ added: [LabelRef], overwrite: Bool) {
        guard !added.isEmpty, !series.isEmpty else { return }
        var rebuilt: [LabelRef] = []
        rebuilt.reserveCapacity(series.reduce(0) { $0 + Int($1.labelCount) } + series.count * added.count)
        var ranges = series.map { $0.labelRange }
        arena.withUnsafeBytes { arena in
            labels.withUnsafeBufferPointer { labels in
                for index in ranges.indices {
                    let range = ranges[index]
                    let start = rebuilt.count
                    var own = range.lowerBound
                    var next = 0
                    while own < range.upperBound || next < added.count {
                        let order: Int
                        if next == added.count {
                            order = -1
                        } else if own == range.upperBound {
                            order = 1
                        } else {
                            let name = added[next]
                            order = Self.compare(
                                arena, labels[own].nameOffset, labels[own].nameLength,
                                UnsafeRawBufferPointer(
                                    rebasing: arena[Int(name.nameOffset)..<Int(name.nameOffset + name.nameLength)]))
                        }
                        if order < 0 {
                            rebuilt.append(labels[own])
                            own += 1
                        } else if order > 0 {
                            rebuilt.append(added[next])
                            next += 1
                        } else {
                            rebuilt.append(overwrite ? added[next] : labels[own])
                            own += 1
                            next += 1
                        }
                    }
                    ranges[index] = start..<rebuilt.count
                }
            }
        }
        for index in series.indices {
            series[index].labelStart = UInt32(ranges[index].lowerBound)
            series[index].labelCount = UInt32(ranges[index].count)
        }
        labels = rebuilt
    }

    /// Removes the label `name` from a series; returns whether it was there.
    @discardableResult
    public mutating func deleteLabel(series seriesIndex: Int, name: String) -> Bool {
        guard let index = labelIndex(series: seriesIndex, name: name) else { return false }
        let end = series[seriesIndex].labelRange.upperBound
        for moving in index..<(end - 1) {
            labels[moving] = labels[moving + 1]
        }
        series[seriesIndex].labelCount -= 1
        return true
    }

    /// Restores name order after labels were rewritten in place.
    public mutating func sortLabels(series seriesIndex: Int) {
        let range = series[seriesIndex].labelRange
        let arena = self.arena
        arena.withUnsafeBytes { arena in
            labels[range].sort { left, right in
                let rightName = UnsafeRawBufferPointer(
                    rebasing: arena[Int(right.nameOffset)..<Int(right.nameOffset + right.nameLength)])
                return Self.compare(arena, left.nameOffset, left.nameLength, rightName) < 0
            }
        }
    }

    /// Keeps only the series for which `keep(batch, seriesIndex)` is true; their data stays where it is.
    public mutating func retainSeries(where keep: (MetricBatch, Int) -> Bool) {
        let snapshot = self
        var kept: [Series] = []
        kept.reserveCapacity(series.count)
        for index in snapshot.series.indices where keep(snapshot, index) {
            kept.append(snapshot.series[index])
        }
        series = kept
    }

    // MARK: Hashing

    /// A stable 64-bit hash of a series' labels (xxHash64 over `name 0xff value 0xff ...`), the same on every node.
    public func labelsHash(series seriesIndex: Int) -> UInt64 {
        var hasher = XXHash64()
        // A byte on the stack: an array here was a heap allocation per series hashed.
        let separatorByte: UInt8 = 0xff
        arena.withUnsafeBytes { arena in
            withUnsafeBytes(of: separatorByte) { separator in
                for label in labels(of: seriesIndex) {
                    hasher.update(
                        UnsafeRawBufferPointer(
                            rebasing: arena[Int(label.nameOffset)..<Int(label.nameOffset + label.nameLength)]))
                    hasher.update(separator)
                    hasher.update(
                        UnsafeRawBufferPointer(
                            rebasing: arena[Int(label.valueOffset)..<Int(label.valueOffset + label.valueLength)]))
                    hasher.update(separator)
                }
            }
        }
        return hasher.finalize()
    }

    /// Byte-wise order of an arena string against other bytes: negative, zero or positive.
    @inlinable
    static func compare(
        _ arena: UnsafeRawBufferPointer, _ offset: UInt32, _ length: UInt32, _ other: UnsafeRawBufferPointer
    ) -> Int {
        let common = min(Int(length), other.count)
        if common > 0 {
            let order = Int(memcmp(arena.baseAddress! + Int(offset), other.baseAddress!, common))
            if order != 0 { return order }
        }
        return Int(length) - other.count
    }
}
