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

    /// Where the label named `name` is among a series' labels, or where it would go to keep them sorted.
    @inline(__always)
    func relabelPosition(series: Int, name: UnsafeRawBufferPointer, arena: UnsafeRawBufferPointer) -> (
        index: Int, found: Bool
    ) {
        let range = self.series[series].labelRange
        for index in range {
            let label = labels[index]
            let order = Self.relabelCompare(arena, label.nameOffset, label.nameLength, name)
            if order >= 0 { return (index, order == 0) }
        }
        return (range.upperBound, false)
    }

    /// The index into `labels` of the label named `name` on a series, given the arena's bytes.
    @inline(__always)
    func relabelIndex(series: Int, name: UnsafeRawBufferPointer, arena: UnsafeRawBufferPointer) -> Int? {
        let position = relabelPosition(series: series, name: name, arena: arena)
        return position.found ? position.index : nil
    }

    /// The index into `labels` of the label named `name` on a series.
    func relabelIndex(series: Int, name: UnsafeRawBufferPointer) -> Int? {
        arena.withUnsafeBytes { relabelIndex(series: series, name: name, arena: $0) }
    }

    /// Where the label whose name is the arena string at `offset` is on a series, or would go.
    func relabelPosition(series: Int, nameOffset offset: UInt32, nameLength length: UInt32) -> (
        index: Int, found: Bool
    ) {
        arena.withUnsafeBytes { arena in
            let name = UnsafeRawBufferPointer(rebasing: arena[Int(offset)..<Int(offset + length)])
            return relabelPosition(series: series, name: name, arena: arena)
        }
    }

    /// Inserts `label` at `position` among a series' labels.
    ///
    /// A series whose labels end the array grows in place; any other first moves its labels to the
    /// end, element by element and without `reserveCapacity`: appending a slice of `labels` to itself,
    /// or reserving an exact capacity, would copy the whole array for every series.
    mutating func relabelInsert(series: Int, _ label: LabelRef, at position: Int) {
        let range = self.series[series].labelRange
        if range.upperBound == labels.count {
            labels.insert(label, at: position)
        } else {
            let start = labels.count
            for index in range.lowerBound..<position {
                labels.append(labels[index])
            }
            labels.append(label)
            for index in position..<range.upperBound {
                labels.append(labels[index])
            }
            self.series[series].labelStart = UInt32(start)
        }
        self.series[series].labelCount += 1
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
        let position = relabelPosition(series: series, nameOffset: name.offset, nameLength: name.length)
        if position.found {
            labels[position.index].valueOffset = value.offset
            labels[position.index].valueLength = value.length
        } else {
            let label = LabelRef(
                nameOffset: name.offset, nameLength: name.length, valueOffset: value.offset, valueLength: value.length)
            relabelInsert(series: series, label, at: position.index)
        }
    }

    /// Sets a label whose name is in the arena to `value`, appending the value only when it changes.
    mutating func relabelSet(series: Int, name: (offset: UInt32, length: UInt32), value: UnsafeRawBufferPointer) {
        let position = relabelPosition(series: series, nameOffset: name.offset, nameLength: name.length)
        if position.found && relabelValueEquals(position.index, value) { return }
        let appended = appendToArena(value)
        if position.found {
            labels[position.index].valueOffset = appended.offset
            labels[position.index].valueLength = appended.length
        } else {
            let label = LabelRef(
                nameOffset: name.offset, nameLength: name.length, valueOffset: appended.offset,
                valueLength: appended.length)
            relabelInsert(series: series, label, at: position.index)
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
