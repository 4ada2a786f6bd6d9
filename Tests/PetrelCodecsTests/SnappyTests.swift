import PetrelCodecs
import Testing

@Suite struct SnappyTests {
    @Test(arguments: TestPayloads.roundTripCases.map(\.name))
    func roundTrip(caseName: String) throws {
        let input = try #require(TestPayloads.roundTripCases.first { $0.name == caseName }).bytes
        let compressed = Snappy.compress(input)
        #expect(Snappy.isValidBlock(compressed))
        let output = try Snappy.decompress(compressed, maxDecompressedLength: input.count)
        #expect(output == input)
    }

    @Test func compressibleInputShrinks() throws {
        let input = TestPayloads.compressible(count: 1 << 20)
        let compressed = Snappy.compress(input)
        #expect(compressed.count < input.count / 5)
    }

    @Test func reusedBuffersRoundTrip() throws {
        var compressed: [UInt8] = []
        var output: [UInt8] = []
        // Large then small then large again: the buffers must be resized to fit each time, not just grown.
        for count in [100_000, 10, 0, 70_000] {
            let input = TestPayloads.pseudoRandom(count: count, seed: UInt64(count) + 1)
            Snappy.compress(input, into: &compressed)
            #expect(compressed == Snappy.compress(input))
            try Snappy.decompress(compressed, into: &output, maxDecompressedLength: 1 << 20)
            #expect(output == input)
        }
    }

    /// A remote-write request is its batch's labels arena: the labels transforms add are appended in place.
    @Test func roomToGrowTakesAppendsWithoutMovingTheBytes() throws {
        let input = TestPayloads.pseudoRandom(count: 320_000)
        var output = try Snappy.decompress(Snappy.compress(input), maxDecompressedLength: 1 << 20, roomToGrow: true)
        #expect(output == input)
        let before = output.withUnsafeBufferPointer { $0.baseAddress }
        output.append(contentsOf: repeatElement(7, count: input.count / 16))
        #expect(output.withUnsafeBufferPointer { $0.baseAddress } == before, "appended in place")
        #expect(output[..<input.count].elementsEqual(input))
    }

    @Test func decodesHandWrittenBlocks() throws {
        // Length varint 5, then a literal tag ((5 - 1) << 2) and the five bytes.
        let hello: [UInt8] = [0x05, 0x10] + Array("hello".utf8)
        #expect(try Snappy.decompress(hello, maxDecompressedLength: 5) == Array("hello".utf8))
        #expect(try Snappy.decompress([0x00], maxDecompressedLength: 0) == [])
        #expect(Snappy.compress([]) == [0x00])
    }

    @Test func rawBufferOverloadsMatchArrayOverloads() throws {
        let input = TestPayloads.compressible(count: 5_000)
        let compressed = input.withUnsafeBytes { Snappy.compress($0) }
        #expect(compressed == Snappy.compress(input))
        let output = try compressed.withUnsafeBytes { try Snappy.decompress($0, maxDecompressedLength: 5_000) }
        #expect(output == input)
        #expect(compressed.withUnsafeBytes { Snappy.declaredDecompressedLength($0) } == 5_000)
    }

    @Test func corruptInputThrows() {
        // Declares 4 bytes, then copies 4 bytes from offset 5 before anything was written.
        let badCopy: [UInt8] = [0x04, 0x01, 0x05]
        #expect(throws: SnappyError.corruptInput) { try Snappy.decompress(badCopy, maxDecompressedLength: 100) }
        #expect(!Snappy.isValidBlock(badCopy))

        // Declares 10 bytes but carries a 5-byte literal.
        let shortBody: [UInt8] = [0x0A, 0x10] + Array("hello".utf8)
        #expect(throws: SnappyError.corruptInput) { try Snappy.decompress(shortBody, maxDecompressedLength: 100) }

        // A length varint that never ends.
        let endlessVarint: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: SnappyError.corruptInput) { try Snappy.decompress(endlessVarint, maxDecompressedLength: 100) }

        #expect(throws: SnappyError.corruptInput) { try Snappy.decompress([], maxDecompressedLength: 100) }
    }

    @Test func truncatedInputThrows() throws {
        let input = TestPayloads.pseudoRandom(count: 4_096)
        let compressed = Snappy.compress(input)
        for cut in [1, 2, compressed.count / 2, compressed.count - 1] {
            let truncated = Array(compressed.prefix(cut))
            #expect(throws: SnappyError.corruptInput) {
                try Snappy.decompress(truncated, maxDecompressedLength: input.count)
            }
            var output: [UInt8] = []
            #expect(throws: SnappyError.corruptInput) {
                try Snappy.decompress(truncated, into: &output, maxDecompressedLength: input.count)
            }
        }
    }

    @Test func oversizeDeclaredLengthThrowsBeforeDecompressing() throws {
        // Declares 40_000_000 bytes (varint 0x80 0xB4 0x89 0x13) with a body far too short to hold them: reaching
        // tooLarge rather than corruptInput shows the limit was checked before any decompression or allocation.
        let bomb: [UInt8] = [0x80, 0xB4, 0x89, 0x13, 0x00, 0x01, 0x02]
        let limit = 32 << 20
        let error = #expect(throws: SnappyError.tooLarge) {
            try Snappy.decompress(bomb, maxDecompressedLength: limit)
        }
        #expect(error?.declaredLength == 40_000_000)
        #expect(error?.limit == limit)
        #expect(
            error?.description == "snappy: declared decompressed size 40000000 bytes exceeds the limit of 33554432"
        )

        var output: [UInt8] = [1, 2, 3]
        #expect(throws: SnappyError.tooLarge) {
            try Snappy.decompress(bomb, into: &output, maxDecompressedLength: limit)
        }
        #expect(output == [1, 2, 3], "the output buffer must not be touched when the limit is exceeded")
    }

    @Test func limitIsInclusive() throws {
        let input = TestPayloads.compressible(count: 1_000)
        let compressed = Snappy.compress(input)
        #expect(try Snappy.decompress(compressed, maxDecompressedLength: 1_000) == input)
        #expect(throws: SnappyError.tooLarge) { try Snappy.decompress(compressed, maxDecompressedLength: 999) }
    }

    @Test func errorDescriptions() {
        #expect(SnappyError.corruptInput.description == "snappy: corrupt or truncated input")
        #expect(SnappyError.tooLarge.description == "snappy: declared decompressed size exceeds the limit")
        #expect(SnappyError.corruptInput != SnappyError.tooLarge)
    }
}
