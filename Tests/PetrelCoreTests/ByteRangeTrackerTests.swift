import PetrelCore
import Testing

/// The file checkpoint's rule: it moves only over a contiguous prefix of acknowledged ranges.
@Suite struct ByteRangeTrackerTests {
    @Test func startsWhereReadingStarts() {
        let tracker = ByteRangeTracker(offset: 120)
        #expect(tracker.committed == 120)
        #expect(tracker.issuedEnd == 120)
        #expect(tracker.pendingCount == 0)
    }

    @Test func outOfOrderAcknowledgementsAdvanceOnlyTheContiguousPrefix() {
        var tracker = ByteRangeTracker(offset: 0)
        for range: Range<Int64> in [0..<10, 10..<25, 25..<30, 30..<42] { tracker.issue(range) }
        var moved = tracker.markDone(10..<25)
        #expect(moved == false)
        #expect(tracker.committed == 0, "the first line is not acknowledged yet")
        tracker.markDone(30..<42)
        #expect(tracker.committed == 0)
        moved = tracker.markDone(0..<10)
        #expect(moved)
        #expect(tracker.committed == 25, "moves over 0..<10 and 10..<25, stops before 25..<30")
        tracker.markDone(25..<30)
        #expect(tracker.committed == 42)
        #expect(tracker.pendingCount == 0)
    }

    @Test func unknownOrRepeatedRangesChangeNothing() {
        var tracker = ByteRangeTracker(offset: 0)
        tracker.issue(0..<10)
        tracker.issue(10..<20)
        var moved = tracker.markDone(5..<10)
        #expect(moved == false)
        moved = tracker.markDone(10..<19)
        #expect(moved == false)
        tracker.markDone(0..<10)
        #expect(tracker.committed == 10)
        moved = tracker.markDone(0..<10)
        #expect(moved == false, "already passed")
        #expect(tracker.committed == 10)
    }

    @Test func manyRangesCompactWithoutLosingThePlace() {
        var tracker = ByteRangeTracker(offset: 0)
        for line in 0..<20_000 { tracker.issue(Int64(line * 10)..<Int64(line * 10 + 10)) }
        for line in stride(from: 1, to: 20_000, by: 2) { tracker.markDone(Int64(line * 10)..<Int64(line * 10 + 10)) }
        #expect(tracker.committed == 0)
        for line in stride(from: 0, to: 19_000, by: 2) { tracker.markDone(Int64(line * 10)..<Int64(line * 10 + 10)) }
        #expect(tracker.committed == 190_000, "every line before 19000 is done; 19000 is not")
        tracker.issue(200_000..<200_005)
        for line in stride(from: 19_000, to: 20_000, by: 2) {
            tracker.markDone(Int64(line * 10)..<Int64(line * 10 + 10))
        }
        #expect(tracker.committed == 200_000)
        tracker.markDone(200_000..<200_005)
        #expect(tracker.committed == 200_005)
    }
}
