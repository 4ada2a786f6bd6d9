import Synchronization
import Testing

@testable import PetrelBuffers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct DiskBufferTests {
    private func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    @Test func deliversExactPayloadsInAppendOrder() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            let payloads = [payload(0, size: 10), payload(1, size: 5000), [], payload(3, size: 1), payload(4)]
            let before = now()
            try await buffer.append(Array(payloads[0..<3]))
            try await buffer.append([payloads[3]])
            try await buffer.append([payloads[4]])
            let after = now()

            let records = try await take(5, from: buffer)
            #expect(records.map(\.payload) == payloads)
            #expect(records.map(\.id.sequence) == [0, 1, 2, 3, 4])
            for record in records { #expect((before...after).contains(record.writtenAt)) }
            #expect(records[0].writtenAt == records[2].writtenAt, "one append, one write time")

            var statistics = buffer.statistics
            #expect(statistics.recordsWritten == 5)
            #expect(statistics.recordsRead == 5)
            #expect(statistics.bytesWritten == payloads.reduce(0) { $0 + frameSize($1) })
            #expect(statistics.bytesOnDisk == segmentHeaderSize + statistics.bytesWritten)
            #expect(statistics.unacknowledgedRecords == 5)
            #expect(statistics.oldestUnacknowledgedWrittenAt == records[0].writtenAt)

            for record in records { buffer.acknowledge(record.id) }
            statistics = buffer.statistics
            #expect(statistics.recordsAcknowledged == 5)
            #expect(statistics.unacknowledgedRecords == 0)
            #expect(statistics.oldestUnacknowledgedWrittenAt == nil)
            await buffer.close()
        }
    }

    @Test func nextWaitsForAnAppend() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            let reader = Task { await buffer.next() }
            try await Task.sleep(for: .milliseconds(50))
            try await buffer.append([payload(7)])
            let record = try await within { await reader.value }
            #expect(record?.payload == payload(7))
            await buffer.close()
        }
    }

    @Test func finishWritingDrainsThenEnds() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            try await buffer.append([payload(1), payload(2)])
            buffer.finishWriting()
            await #expect(throws: DiskBufferError.closed) { try await buffer.append([payload(3)]) }
            #expect(try await drain(buffer).map(\.payload) == [payload(1), payload(2)])
            await buffer.close()
        }
    }

    @Test func closeEndsAWaitingNext() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            let reader = Task { await buffer.next() }
            try await Task.sleep(for: .milliseconds(20))
            await buffer.close()
            #expect(try await within { await reader.value } == nil)
            #expect(await buffer.next() == nil)
            await #expect(throws: DiskBufferError.closed) { try await buffer.append([payload(1)]) }
        }
    }

    @Test func createsMissingParentDirectories() async throws {
        try await withTemporaryDirectory { directory in
            let nested = directory + "/a/b/c"
            let buffer = try await DiskBuffer(configuration(nested))
            try await buffer.append([payload(1)])
            #expect(try segmentNames(nested) == ["00000000000000000001.seg"])
            await buffer.close()
        }
    }

    @Test func outOfOrderAcknowledgementsAdvanceOnlyThePrefixAndFreeWholeSegments() async throws {
        try await withTemporaryDirectory { directory in
            // Three 200-byte records fill a segment.
            let segment = segmentHeaderSize + 3 * frameSize(payload(0, size: 200))
            let buffer = try await DiskBuffer(configuration(directory, maxSegmentSize: segment))
            try await buffer.append((0..<9).map { payload($0, size: 200) })
            let names = (1...3).map { Format.segmentName(UInt64($0)) }
            #expect(try segmentNames(directory) == names)
            let records = try await take(9, from: buffer)

            for index in [3, 4, 5, 8] { buffer.acknowledge(records[index].id) }
            await buffer.settle()
            #expect(try segmentNames(directory) == names, "segment 1 is unacknowledged, so nothing goes")
            #expect(buffer.statistics.unacknowledgedRecords == 5)
            #expect(buffer.statistics.oldestUnacknowledgedWrittenAt == records[0].writtenAt)

            buffer.acknowledge(records[0].id)
            buffer.acknowledge(records[1].id)
            await buffer.settle()
            #expect(try segmentNames(directory) == names, "record 2 still holds segment 1 and everything after it")

            buffer.acknowledge(records[2].id)
            await buffer.settle()
            #expect(try segmentNames(directory) == [names[2]], "segments 1 and 2 are fully acknowledged")
            #expect(buffer.statistics.unacknowledgedRecords == 2)

            buffer.acknowledge(records[6].id)
            buffer.acknowledge(records[7].id)
            await buffer.settle()
            #expect(try segmentNames(directory) == [names[2]], "the active segment stays while it is written")
            #expect(buffer.statistics.bytesOnDisk == (try fileSize(directory + "/" + names[2])))
            #expect(buffer.statistics.unacknowledgedRecords == 0)
            await buffer.close()
        }
    }

    @Test func acknowledgingTwiceOrUnknownIDsChangesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            try await buffer.append([payload(1), payload(2)])
            let records = try await take(2, from: buffer)
            buffer.acknowledge(records[1].id)
            buffer.acknowledge(records[1].id)
            buffer.acknowledge(DiskBufferRecord.ID(sequence: 99, slot: 0))
            buffer.acknowledge(DiskBufferRecord.ID(sequence: 1, slot: 5))
            #expect(buffer.statistics.recordsAcknowledged == 1)
            #expect(buffer.statistics.unacknowledgedRecords == 1)
            await buffer.close()
        }
    }

    @Test func rollsSegmentsAtTheSizeLimit() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory, maxSegmentSize: 1000))
            let small = (0..<7).map { payload($0, size: 300) }
            let big = payload(7, size: 2000)
            try await buffer.append(small)
            try await buffer.append([big])
            try await buffer.append([payload(8, size: 10)])
            // 24 + 2 * 328 = 680 bytes; a third record would make 1008.
            let names = try segmentNames(directory)
            #expect(names == (1...6).map { Format.segmentName(UInt64($0)) })
            let sizes = try names.map { try fileSize(directory + "/" + $0) }
            #expect(sizes == [680, 680, 680, 352, 2052, 62], "a record bigger than a segment gets one to itself")
            #expect(buffer.statistics.bytesOnDisk == sizes.reduce(0, +))
            let records = try await take(9, from: buffer)
            #expect(records.map(\.payload) == small + [big, payload(8, size: 10)])
            await buffer.close()

            let reopened = try await DiskBuffer(configuration(directory, maxSegmentSize: 1000))
            #expect(try await drain(reopened).map(\.payload) == small + [big, payload(8, size: 10)])
            await reopened.close()
        }
    }

    @Test func fullUntilAcknowledgementsFreeASegment() async throws {
        try await withTemporaryDirectory { directory in
            let record = payload(0, size: 200)
            let segment = segmentHeaderSize + 3 * frameSize(record)
            let buffer = try await DiskBuffer(
                configuration(directory, maxSize: 3 * segment, maxSegmentSize: segment))
            var appended = 0
            while appended < 20 {
                do {
                    try await buffer.append([payload(appended, size: 200)])
                    appended += 1
                } catch {
                    #expect(error as? DiskBufferError == .full)
                    break
                }
            }
            #expect(appended == 9, "three full segments")
            #expect(buffer.statistics.bytesOnDisk == 3 * segment)

            let freed = Atomic<Bool>(false)
            let waiter = Task {
                await buffer.waitForSpace(for: [record])
                freed.store(true, ordering: .sequentiallyConsistent)
            }
            let records = try await take(3, from: buffer)
            buffer.acknowledge(records[0].id)
            buffer.acknowledge(records[2].id)
            try await Task.sleep(for: .milliseconds(50))
            let freedEarly = freed.load(ordering: .sequentiallyConsistent)
            #expect(!freedEarly, "record 1 still holds the first segment")

            buffer.acknowledge(records[1].id)
            try await within { await waiter.value }
            let freedNow = freed.load(ordering: .sequentiallyConsistent)
            #expect(freedNow)
            try await buffer.append([record])
            #expect(try segmentNames(directory) == (2...4).map { Format.segmentName(UInt64($0)) })
            await buffer.close()
        }
    }

    @Test func aFullyAcknowledgedActiveSegmentIsReplacedToFreeSpace() async throws {
        try await withTemporaryDirectory { directory in
            let record = payload(0, size: 100)
            let maxSize = segmentHeaderSize + 5 * frameSize(record)
            let buffer = try await DiskBuffer(configuration(directory, maxSize: maxSize, maxSegmentSize: 1 << 20))
            for index in 0..<5 { try await buffer.append([payload(index, size: 100)]) }
            await #expect(throws: DiskBufferError.full) { try await buffer.append([record]) }

            let waiter = Task { await buffer.waitForSpace(for: [record]) }
            for stored in try await take(5, from: buffer) { buffer.acknowledge(stored.id) }
            try await within { await waiter.value }
            try await buffer.append([record])
            #expect(try segmentNames(directory) == ["00000000000000000002.seg"])
            #expect(try await take(1, from: buffer).map(\.payload) == [record])
            await buffer.close()
        }
    }

    @Test func waitForSpaceReturnsWhenClosed() async throws {
        try await withTemporaryDirectory { directory in
            let record = payload(0, size: 100)
            let buffer = try await DiskBuffer(
                configuration(directory, maxSize: segmentHeaderSize + frameSize(record), maxSegmentSize: 1 << 20))
            try await buffer.append([record])
            let waiter = Task { await buffer.waitForSpace(for: [record]) }
            try await Task.sleep(for: .milliseconds(20))
            await buffer.close()
            try await within { await waiter.value }
        }
    }

    @Test func recordsThatCanNeverFitAreRejectedAsTooLarge() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory, maxSize: 1000, maxSegmentSize: 1000))
            await #expect(throws: DiskBufferError.tooLarge(bytes: 24 + 28 + 1000, limit: 1000)) {
                try await buffer.append([payload(0, size: 1000)])
            }
            await #expect(throws: DiskBufferError.tooLarge(bytes: 24 + 528 + 24 + 528, limit: 1000)) {
                try await buffer.append([payload(1, size: 500), payload(2, size: 500)])
            }
            try await buffer.append([payload(3, size: 500)])
            #expect(try await take(1, from: buffer).map(\.payload) == [payload(3, size: 500)])
            #expect(buffer.statistics.recordsWritten == 1)
            await buffer.close()
        }
    }

    @Test func intervalFsyncKeepsDataReadableAndDurable() async throws {
        try await withTemporaryDirectory { directory in
            let policy = DiskBufferConfiguration.FsyncPolicy.interval(.milliseconds(20))
            let buffer = try await DiskBuffer(configuration(directory, fsync: policy))
            let payloads = (0..<5).map { payload($0) }
            for payload in payloads { try await buffer.append([payload]) }
            #expect(try await take(5, from: buffer).map(\.payload) == payloads)
            try await Task.sleep(for: .milliseconds(60))
            await buffer.close()

            let reopened = try await DiskBuffer(configuration(directory, fsync: policy))
            #expect(try await drain(reopened).map(\.payload) == payloads, "read but not acknowledged: kept")
            await reopened.close()
        }
    }

    @Test(arguments: [ENOSPC, EDQUOT])
    func aFullDiskLeavesNoTornRecordAndMakesTheBufferFull(code: Int32) async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            try await buffer.append([payload(0)])
            let path = segmentPath(directory, 1)
            let size = try fileSize(path)

            await buffer.injectWriteFailure(code)
            await #expect(throws: DiskBufferError.full) { try await buffer.append([payload(1), payload(2)]) }
            #expect(try fileSize(path) == size, "the half-written records were cut off")

            let clock = ContinuousClock()
            let waited = try await clock.measure { try await within { await buffer.waitForSpace(for: [payload(1)]) } }
            #expect(waited >= .milliseconds(90), "a full disk is polled, not spun on")
            try await buffer.append([payload(1), payload(2)])
            #expect(try await take(3, from: buffer).map(\.payload) == [payload(0), payload(1), payload(2)])
            #expect(buffer.statistics.recordsCorrupted == 0)
            await buffer.close()

            let reopened = try await DiskBuffer(configuration(directory))
            #expect(try await drain(reopened).count == 3)
            #expect(reopened.statistics.recordsCorrupted == 0)
            await reopened.close()
        }
    }

    @Test func anIOErrorIsReportedAndTheBufferCarriesOn() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            await buffer.injectWriteFailure(EIO)
            await #expect(throws: DiskBufferError.io(operation: "write", path: segmentPath(directory, 1), errno: EIO)) {
                try await buffer.append([payload(1)])
            }
            #expect(try fileSize(segmentPath(directory, 1)) == segmentHeaderSize)
            try await buffer.append([payload(2)])
            #expect(try await take(1, from: buffer).map(\.payload) == [payload(2)])
            await buffer.close()
        }
    }

    @Test func concurrentProducerAndOutOfOrderConsumerSeeEverythingOnce() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(
                configuration(directory, maxSize: 64 << 10, maxSegmentSize: 8 << 10, fsync: .interval(.milliseconds(5)))
            )
            let count = 300
            let producer = Task {
                for index in 0..<count {
                    let record = payload(index, size: 50 + index * 37 % 3000)
                    while true {
                        do {
                            try await buffer.append([record])
                            break
                        } catch {
                            #expect(error as? DiskBufferError == .full)
                            await buffer.waitForSpace(for: [record])
                        }
                    }
                }
                buffer.finishWriting()
            }
            var received: [[UInt8]] = []
            var window: [DiskBufferRecord.ID] = []
            while let record = try await nextRecord(buffer) {
                received.append(record.payload)
                window.append(record.id)
                if window.count == 8 {
                    for id in window.reversed() { buffer.acknowledge(id) }
                    window.removeAll()
                }
            }
            for id in window { buffer.acknowledge(id) }
            try await within { await producer.value }
            #expect(received == (0..<count).map { payload($0, size: 50 + $0 * 37 % 3000) })
            await buffer.close()
            #expect(try segmentNames(directory).count == 1)

            let reopened = try await DiskBuffer(configuration(directory, maxSize: 64 << 10, maxSegmentSize: 8 << 10))
            #expect(try await drain(reopened).isEmpty, "everything was acknowledged")
            await reopened.close()
        }
    }

    @Test func rejectsConfigurationsThatCannotWork() async throws {
        await #expect(throws: DiskBufferError.self) {
            _ = try await DiskBuffer(DiskBufferConfiguration(directory: "", maxSize: 1 << 20))
        }
        await #expect(throws: DiskBufferError.self) {
            _ = try await DiskBuffer(DiskBufferConfiguration(directory: "/tmp/x", maxSize: 1 << 20, maxSegmentSize: 10))
        }
        await #expect(throws: DiskBufferError.self) {
            _ = try await DiskBuffer(
                DiskBufferConfiguration(directory: "/tmp/x", maxSize: 1 << 20, fsync: .interval(.zero)))
        }
    }
}
