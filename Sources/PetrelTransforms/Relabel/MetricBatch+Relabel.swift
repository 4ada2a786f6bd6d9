import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Label access by bytes rather than `String`, for the relabel hot path.
extension MetricBatch {
    /// Byte-wise order of an arena string against other bytes: negative, zero or positive.
    @inline(__always)
    static func relabelCompare(
        _ arena: UnsafeRawBufferPointer, _ offset: UInt32, _ length: UInt32, _ other: UnsafeRawBufferPointer
    ) -> Int {
        let common = min(Int(length), other.count)
        if common > 0 {
            let order = Int(memcmp(arena.baseAddress! + Int(offset), other.baseAddress!, common))
            if order != 0 { return order }
        }
        return Int(length) - other.count
    }

    /// The index into `labels` of the label named `name` on a series, given the arena's bytes.
    @inline(__always)
    func relabelIndex(series: Int, name: UnsafeRawBufferPointer, arena: UnsafeRawBufferPointer) -> Int? {
        for index in self.series[series].labelRange {
            let label = labels[index]
            let order = Self.relabelCompare(arena, label.nameOffset, label.nameLength, name)
            if order == 0 { return index }
            if order > 0 { return nil }
        }
        return nil
    }

    /// The index into `labels` of the label named `name` on a series.
    func relabelIndex(series: Int, name: UnsafeRawBufferPointer) -> Int? {
        arena.withUnsafeBytes { relabelIndex(series: series, name: name, arena: $0) }
    }

    /// The index into `labels` of the label whose name is the arena string at `offset` on a series.
    func relabelIndex(series: Int, nameOffset offset: UInt32, nameLength length: UInt32) -> Int? {
        arena.withUnsafeBytes { arena in
            let name = UnsafeRawBufferPointer(rebasing: arena[Int(offset)..<Int(offset + length)])
            return relabelIndex(series: series, name: name, arena: arena)
        }
    }

    /// Whether the value of `labels[index]` is `value`.
    func relabelValueEquals(_ index: Int, _ value: UnsafeRawBufferPointer) -> Bool {
        let label = labels[index]
        return arena.withUnsafeBytes { Self.relabelCompare($0, label.valueOffset, label.valueLength, value) == 0 }
    }

    /// Where a label name lives in the arena: the series' own label of that name when there is one,
    /// else `cached` (a name already appended for this batch), else newly appended.
    mutating func relabelName(series: Int, _ name: UnsafeRawBufferPointer, cached: inout (UInt32, UInt32)?)
        -> (offset: UInt32, length: UInt32)
    {
        if let index = relabelIndex(series: series, name: name) {
            return (labels[index].nameOffset, labels[index].nameLength)
        }
        if let cached { return cached }
        let appended = appendToArena(name)
        cached = appended
        return appended
    }

    /// Sets a label whose name and value are both already in the arena, keeping the labels sorted.
    mutating func relabelSet(
        series: Int, name: (offset: UInt32, length: UInt32), value: (offset: UInt32, length: UInt32)
    ) {
        if let index = relabelIndex(series: series, nameOffset: name.offset, nameLength: name.length) {
            labels[index].valueOffset = value.offset
            labels[index].valueLength = value.length
        } else {
            setLabel(
                series: series,
                LabelRef(
                    nameOffset: name.offset, nameLength: name.length, valueOffset: value.offset,
                    valueLength: value.length))
        }
    }

    /// Sets a label whose name is in the arena to `value`, appending the value only when it changes.
    mutating func relabelSet(series: Int, name: (offset: UInt32, length: UInt32), value: UnsafeRawBufferPointer) {
        if let index = relabelIndex(series: series, nameOffset: name.offset, nameLength: name.length) {
            if relabelValueEquals(index, value) { return }
            let appended = appendToArena(value)
            labels[index].valueOffset = appended.offset
            labels[index].valueLength = appended.length
        } else {
            let appended = appendToArena(value)
            setLabel(
                series: series,
                LabelRef(
                    nameOffset: name.offset, nameLength: name.length, valueOffset: appended.offset,
                    valueLength: appended.length))
        }
    }

    /// Removes the label named `name` from a series, keeping the others in order.
    mutating func relabelDelete(series: Int, name: UnsafeRawBufferPointer) {
        guard let index = relabelIndex(series: series, name: name) else { return }
        let end = self.series[series].labelRange.upperBound
        for moving in index..<(end - 1) {
            labels[moving] = labels[moving + 1]
        }
        self.series[series].labelCount -= 1
    }
}
