import Testing

@testable import PetrelBuffers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Restarts, crashes and damaged files.
@Suite struct RecoveryTests {
    @Test func restartResumesWithExactlyTheUnacknowledgedRecords() async throws {
        try await withTemporaryDirectory { directory in
            let payloads = (0..<10).map { payload($0) }
            let buffer = try await DiskBuffer(configuration(directory))
            for pair in stride(from: 0, to: 10, by: 2) { try await buffer.append(Array(payloads[pair..<pair + 2])) }
            let records = try await take(10, from: buffer)
            for index in [0, 1, 2, 3, 6] { buffer.acknowledge(records[index].id) }
            await buffer.close()

            let reopened = try await DiskBuffer(configuration(directory))
            let statistics = reopened.statistics
            #expect(statistics.unacknowledgedRecords == 6, "6 was acknowledged out of order, past the unacknowledged 4")
            #expect(statistics.oldestUnacknowledgedWrittenAt == records[4].writtenAt)
            let again = try await drain(reopened)
            #expect(again.map(\.payload) == Array(payloads[4...]))
            #expect(again.map(\.id.sequence) == Array(4...9), "records keep their sequence numbers")
            #expect(again.map(\.writtenAt) == records[4...].map(\.writtenAt))
            await reopened.close()
        }
    }

    @Test func appendsAfterARestartFollowTheOldRecords() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory, maxSegmentSize: 500))
            try await buffer.append((0..<5).map { payload($0) })
            await buffer.close()

            let reopened = try await DiskBuffer(configuration(directory, maxSegmentSize: 500))
            try await reopened.append([payload(5), payload(6)])
            let records = try await drain(reopened)
            #expect(records.map(\.payload) == (0..<7).map { payload($0) })
            #expect(records.map(\.id.sequence) == Array(0...6))
            #expect(reopened.statistics.recordsCorrupted == 0)
            await reopened.close()
        }
    }

    @Test func aCrashRedeliversWhatTheLedgerHadNotRecordedAsAcknowledged() async throws {
        try await withTemporaryDirectory { directory in
            let payloads = (0..<6).map { payload($0) }
            var buffer: DiskBuffer? = try await DiskBuffer(configuration(directory, ledgerInterval: .milliseconds(20)))
            try await buffer!.append(payloads)
            let records = try await take(6, from: buffer!)
            for record in records[0..<3] { buffer!.acknowledge(record.id) }
            try await Task.sleep(for: .milliseconds(150))
            await buffer!.abandon()
            buffer = nil

            let reopened = try await DiskBuffer(configuration(directory))
            #expect(try await drain(reopened).map(\.payload) == Array(payloads[3...]))
            await reopened.close()
        }
    }

    @Test func aCrashBeforeTheLedgerIsWrittenRedeliversMoreButLosesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let payloads = (0..<6).map { payload($0) }
            var buffer: DiskBuffer? = try await DiskBuffer(
                configuration(directory, fsync: .interval(.seconds(60)), ledgerInterval: .seconds(60)))
            try await buffer!.append(Array(payloads[0..<4]))
            let records = try await take(4, from: buffer!)
            for record in records[0..<2] { buffer!.acknowledge(record.id) }
            try await buffer!.append(Array(payloads[4...]))
            await buffer!.abandon()
            buffer = nil

            let reopened = try await DiskBuffer(configuration(directory))
            #expect(try await drain(reopened).map(\.payload) == payloads, "never fsynced, yet kept by the kernel")
            await reopened.close()
        }
    }

    @Test func aTornTailIsCutOffAndCounted() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            for index in 0..<3 { try await buffer.append([payload(index)]) }
            await buffer.close()
            let path = segmentPath(directory, 1)
            let twoRecords = segmentHeaderSize + 2 * frameSize(payload(0))
            try truncateFile(path, to: twoRecords + frameSize(payload(2)) - 10)

            let diagnostics = DiagnosticsLog()
            let reopened = try await DiskBuffer(configuration(directory), diagnostics: diagnostics.callback)
            #expect(reopened.statistics.recordsCorrupted == 1)
            #expect(diagnostics.contains("torn tail"))
            #expect(try fileSize(path) == twoRecords)
            #expect(try await take(2, from: reopened).map(\.payload) == [payload(0), payload(1)])

            try await reopened.append([payload(9)])
            let appended = try await take(1, from: reopened)
            #expect(appended.map(\.payload) == [payload(9)])
            #expect(appended.map(\.id.sequence) == [2])
            #expect(reopened.statistics.recordsCorrupted == 1)
            await reopened.close()

            let again = try await DiskBuffer(configuration(directory))
            #expect(try await drain(again).map(\.payload) == [payload(0), payload(1), payload(9)])
            #expect(again.statistics.recordsCorrupted == 0)
            await again.close()
        }
    }

    @Test func garbageAfterTheLastRecordIsCutOff() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            try await buffer.append([payload(0), payload(1)])
            await buffer.close()
            let path = segmentPath(directory, 1)
            let size = try fileSize(path)
            // A whole record whose checksum fails, as when the page of a last write was lost.
            var record = Format.encodeRecords([payload(2)], firstSequence: 2, writtenAt: 1)
            record[40] ^= 0x01
            try writeFile(path, record, at: size)

            let reopened = try await DiskBuffer(configuration(directory))
            #expect(reopened.statistics.recordsCorrupted == 1)
            #expect(try fileSize(path) == size)
            #expect(try await drain(reopened).map(\.payload) == [payload(0), payload(1)])
            await reopened.close()
        }
    }

    @Test func aBitFlipInAPayloadSkipsThatRecordOnly() async throws {
        try await withTemporaryDirectory { directory in
            let payloads = (0..<5).map { payload($0) }
            let buffer = try await DiskBuffer(configuration(directory))
            try await buffer.append(payloads)
            await buffer.close()
            let thirdPayload = segmentHeaderSize + 2 * frameSize(payloads[0]) + recordHeaderSize
            let path = segmentPath(directory, 1)
            try writeFile(path, [payloads[2][10] ^ 0x04], at: thirdPayload + 10)

            let diagnostics = DiagnosticsLog()
            let reopened = try await DiskBuffer(configuration(directory), diagnostics: diagnostics.callback)
            #expect(reopened.statistics.recordsCorrupted == 0, "damage followed by good records is not a torn tail")
            let records = try await drain(reopened)
            #expect(records.map(\.payload) == [payloads[0], payloads[1], payloads[3], payloads[4]])
            #expect(reopened.statistics.recordsCorrupted == 1)
            #expect(diagnostics.contains("checksum mismatch"))

            for record in records { reopened.acknowledge(record.id) }
            #expect(reopened.statistics.unacknowledgedRecords == 0, "the skipped record counts as acknowledged")
            await reopened.close()
            let again = try await DiskBuffer(configuration(directory))
            #expect(try await drain(again).isEmpty)
            await again.close()
        }
    }

    @Test(arguments: [0xFFFF_FFF0 as UInt32, 3, 0])
    func aGarbageLengthIsResynchronisedPast(length: UInt32) async throws {
        try await withTemporaryDirectory { directory in
            let payloads = (0..<5).map { payload($0) }
            let buffer = try await DiskBuffer(configuration(directory))
            try await buffer.append(payloads)
            await buffer.close()
            let lengthField = segmentHeaderSize + 2 * frameSize(payloads[0]) + 8
            let bytes = withUnsafeBytes(of: length.littleEndian) { Array($0) }
            try writeFile(segmentPath(directory, 1), bytes, at: lengthField)

            let reopened = try await DiskBuffer(configuration(directory))
            #expect(try await drain(reopened).map(\.payload) == [payloads[0], payloads[1], payloads[3], payloads[4]])
            #expect(reopened.statistics.recordsCorrupted == 1)
            await reopened.close()
        }
    }

    @Test func damageAtTheEndOfASealedSegmentSkipsToTheNextSegment() async throws {
        try await withTemporaryDirectory { directory in
            let payloads = (0..<4).map { payload($0) }
            let segment = segmentHeaderSize + 2 * frameSize(payloads[0])
            let buffer = try await DiskBuffer(configuration(directory, maxSegmentSize: segment))
            try await buffer.append(payloads)
            await buffer.close()
            #expect(try segmentNames(directory).count == 2)
            // Wipe the marker and length of the second record of segment 1.
            let second = segmentHeaderSize + frameSize(payloads[0])
            try writeFile(segmentPath(directory, 1), [UInt8](repeating: 0, count: 12), at: second)

            let reopened = try await DiskBuffer(configuration(directory, maxSegmentSize: segment))
            #expect(try await drain(reopened).map(\.payload) == [payloads[0], payloads[2], payloads[3]])
            #expect(reopened.statistics.recordsCorrupted == 1)
            await reopened.close()
        }
    }

    enum LedgerDamage: CaseIterable {
        case missing
        case garbage
        case truncated
        case bitFlip
    }

    @Test(arguments: LedgerDamage.allCases)
    func aLostLedgerRedeliversEverything(damage: LedgerDamage) async throws {
        try await withTemporaryDirectory { directory in
            let payloads = (0..<5).map { payload($0) }
            let buffer = try await DiskBuffer(configuration(directory))
            try await buffer.append(payloads)
            for record in try await take(3, from: buffer) { buffer.acknowledge(record.id) }
            await buffer.close()
            let ledger = directory + "/ledger"
            #expect(try fileSize(ledger) == 80)
            switch damage {
            case .missing: try FileIO.unlink(AT_FDCWD, ledger)
            case .garbage: try writeFile(ledger, Array("not a ledger at all".utf8))
            case .truncated: try truncateFile(ledger, to: 40)
            case .bitFlip: try writeFile(ledger, [0x10], at: 22)
            }

            let diagnostics = DiagnosticsLog()
            let reopened = try await DiskBuffer(configuration(directory), diagnostics: diagnostics.callback)
            #expect(diagnostics.contains("ledger"))
            #expect(try await drain(reopened).map(\.payload) == payloads)
            await reopened.close()
        }
    }

    @Test func aSegmentWhoseHeaderNeverReachedTheDiskIsStartedOver() async throws {
        try await withTemporaryDirectory { directory in
            let segment = segmentHeaderSize + 2 * frameSize(payload(0))
            let buffer = try await DiskBuffer(configuration(directory, maxSegmentSize: segment))
            try await buffer.append((0..<2).map { payload($0) })
            await buffer.close()
            // A crash right after creating segment 2.
            try writeFile(segmentPath(directory, 2), [])

            let reopened = try await DiskBuffer(configuration(directory, maxSegmentSize: segment))
            try await reopened.append([payload(2)])
            let records = try await drain(reopened)
            #expect(records.map(\.payload) == (0..<3).map { payload($0) })
            #expect(records.map(\.id.sequence) == [0, 1, 2])
            #expect(reopened.statistics.recordsCorrupted == 0)
            await reopened.close()
        }
    }

    @Test func theFilesFollowTheDocumentedFormat() async throws {
        try await withTemporaryDirectory { directory in
            let buffer = try await DiskBuffer(configuration(directory))
            try await buffer.append([[0xAA, 0xBB, 0xCC]])
            let record = try await take(1, from: buffer)[0]
            await buffer.close()

            let bytes = try readFile(segmentPath(directory, 1))
            #expect(bytes.count == 24 + 28 + 3)
            #expect(Array(bytes[0..<8]) == Array("PETRELSG".utf8))
            #expect(Array(bytes[8..<12]) == [1, 0, 0, 0])
            #expect(Array(bytes[12..<20]) == [UInt8](repeating: 0, count: 8), "first sequence number")
            #expect(Array(bytes[20..<24]) == littleEndian(CRC32C.checksum(Array(bytes[0..<20]))))
            #expect(Array(bytes[24..<28]) == [0xFF, 0x50, 0x42, 0x52])
            #expect(Array(bytes[28..<32]) == littleEndian(CRC32C.checksum(Array(bytes[32...]))))
            #expect(Array(bytes[32..<36]) == [3, 0, 0, 0])
            #expect(Array(bytes[36..<44]) == [UInt8](repeating: 0, count: 8), "sequence number")
            #expect(Array(bytes[44..<52]) == littleEndian(UInt64(record.writtenAt)))
            #expect(Array(bytes[52...]) == [0xAA, 0xBB, 0xCC])

            let ledger = try readFile(directory + "/ledger")
            #expect(Array(ledger[0..<8]) == Array("PETRELLG".utf8))
            #expect(Array(ledger[12..<28]) == littleEndian(UInt64(1)) + littleEndian(UInt64(24)), "unacknowledged")
            #expect(Array(ledger[76..<80]) == littleEndian(CRC32C.checksum(Array(ledger[0..<76]))))
        }
    }

    private func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
