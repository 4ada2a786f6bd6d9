/// Where a file's checkpoint may stand: the end of the longest prefix of its byte ranges that are all done.
///
/// A tailer issues the ranges of the lines it reads in file order; batches are acknowledged in any order (fan-out,
/// sinks of different speeds), so a range may be done before one issued earlier. The checkpoint moves only over a
/// contiguous run of done ranges, so it never passes a line that some buffer does not yet hold.
public struct ByteRangeTracker: Sendable {
    private var starts: [Int64] = []
    private var ends: [Int64] = []
    private var done: [Bool] = []
    /// The first range not yet passed by the checkpoint.
    private var head = 0
    /// The offset the checkpoint stands at: everything before it is done.
    public private(set) var committed: Int64
    /// Where the next range must start.
    public private(set) var issuedEnd: Int64

    /// A tracker whose checkpoint starts at `offset` (where reading starts).
    public init(offset: Int64) {
        committed = offset
        issuedEnd = offset
    }

    /// The number of ranges issued and not yet passed by the checkpoint.
    public var pendingCount: Int { starts.count - head }

    /// Records a range read from the file; ranges are issued in order and without gaps.
    public mutating func issue(_ range: Range<Int64>) {
        precondition(range.lowerBound == issuedEnd, "ranges are issued in file order without gaps")
        issuedEnd = range.upperBound
        if head == starts.count && range.isEmpty { return }
        starts.append(range.lowerBound)
        ends.append(range.upperBound)
        done.append(false)
    }

    /// Marks an issued range done and moves the checkpoint over the done prefix; returns whether it moved.
    /// A range that was never issued (or is already passed) changes nothing.
    @discardableResult
    public mutating func markDone(_ range: Range<Int64>) -> Bool {
        guard let index = index(of: range.lowerBound), ends[index] == range.upperBound else { return false }
        done[index] = true
        guard index == head else { return false }
        while head < starts.count && done[head] {
            committed = ends[head]
            head += 1
        }
        if head == starts.count || head > 4096 && head > starts.count / 2 { compact() }
        return true
    }

    private func index(of start: Int64) -> Int? {
        var low = head
        var high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] < start { low = middle + 1 } else { high = middle }
        }
        return low < starts.count && starts[low] == start ? low : nil
    }

    private mutating func compact() {
        starts.removeFirst(head)
        ends.removeFirst(head)
        done.removeFirst(head)
        head = 0
    }
}
