import Foundation
import PetrelCodecs
import Testing

@Suite struct ZlibTests {
    /// `zlib.compress(b"hello, petrel")` from Python's zlib module.
    static let pythonZlibHello: [UInt8] = [
        0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x28, 0x48, 0x2d, 0x29, 0x4a, 0xcd, 0x01, 0x00, 0x22,
        0x09, 0x04, 0xed,
    ]

    /// `printf 'hello, petrel' | gzip -n` from GNU gzip.
    static let gnuGzipHello: [UInt8] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x28,
        0x48, 0x2d, 0x29, 0x4a, 0xcd, 0x01, 0x00, 0xc0, 0x78, 0x88, 0x2d, 0x0d, 0x00, 0x00, 0x00,
    ]

    static let hello = Array("hello, petrel".utf8)

    @Test(arguments: [Zlib.Format.zlib, .gzip], TestPayloads.roundTripCases.map(\.name))
    func roundTrip(format: Zlib.Format, caseName: String) throws {
        let input = try #require(TestPayloads.roundTripCases.first { $0.name == caseName }).bytes
        let compressed = Zlib.compress(input, format: format)
        #expect(try Zlib.decompress(compressed, format: format, maxDecompressedLength: input.count) == input)
        // Auto-detection must read both containers.
        #expect(try Zlib.decompress(compressed, maxDecompressedLength: input.count) == input)
    }

    @Test func headersIdentifyTheContainer() {
        let gzip = Zlib.compress(Self.hello, format: .gzip)
        #expect(Array(gzip.prefix(3)) == [0x1f, 0x8b, 0x08], "gzip magic followed by the deflate method")
        let zlib = Zlib.compress(Self.hello, format: .zlib)
        #expect(zlib[0] == 0x78, "deflate with a 32 KiB window")
        #expect((UInt16(zlib[0]) << 8 | UInt16(zlib[1])) % 31 == 0, "RFC 1950 header check bits")
    }

    @Test func decodesOtherImplementationsOutput() throws {
        #expect(try Zlib.decompress(Self.pythonZlibHello, format: .zlib, maxDecompressedLength: 100) == Self.hello)
        #expect(try Zlib.decompress(Self.gnuGzipHello, format: .gzip, maxDecompressedLength: 100) == Self.hello)
        #expect(try Zlib.decompress(Self.pythonZlibHello, maxDecompressedLength: 100) == Self.hello)
        #expect(try Zlib.decompress(Self.gnuGzipHello, maxDecompressedLength: 100) == Self.hello)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip")))
    func systemGzipReadsOurOutput() throws {
        let input = TestPayloads.compressible(count: 200_000)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-codecs-\(UUID()).gz")
        try Data(Zlib.compress(input, format: .gzip)).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
        process.arguments = ["-d", "-c", url.path]
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        let decoded = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect([UInt8](decoded) == input)
    }

    @Test func levelsTradeSizeForSpeed() throws {
        let input = TestPayloads.compressible(count: 100_000)
        let stored = Zlib.compress(input, format: .zlib, level: 0)
        let best = Zlib.compress(input, format: .zlib, level: 9)
        #expect(stored.count > input.count, "level 0 stores without compressing")
        #expect(best.count < input.count / 20)
        for compressed in [stored, best] {
            #expect(try Zlib.decompress(compressed, format: .zlib, maxDecompressedLength: input.count) == input)
        }
    }

    @Test func reusedBuffersRoundTrip() throws {
        var compressed: [UInt8] = []
        var output: [UInt8] = []
        for count in [300_000, 10, 0, 50_000] {
            let input = TestPayloads.pseudoRandom(count: count, seed: UInt64(count) + 7)
            Zlib.compress(input, into: &compressed, format: .gzip)
            #expect(compressed == Zlib.compress(input, format: .gzip))
            try Zlib.decompress(compressed, into: &output, maxDecompressedLength: 1 << 20)
            #expect(output == input)
        }
    }

    @Test func rawBufferOverloadsMatchArrayOverloads() throws {
        let input = TestPayloads.compressible(count: 5_000)
        let compressed = input.withUnsafeBytes { Zlib.compress($0, format: .zlib) }
        #expect(compressed == Zlib.compress(input, format: .zlib))
        let output = try compressed.withUnsafeBytes { try Zlib.decompress($0, maxDecompressedLength: 5_000) }
        #expect(output == input)
    }

    @Test func concatenatedGzipMembersAreJoined() throws {
        let first = Array("first member, ".utf8)
        let second = Array("second member".utf8)
        let joined = Zlib.compress(first, format: .gzip) + Zlib.compress(second, format: .gzip)
        #expect(try Zlib.decompress(joined, format: .gzip, maxDecompressedLength: 100) == first + second)
        #expect(try Zlib.decompress(joined, maxDecompressedLength: 100) == first + second)
        // The limit covers all members together, not each one.
        #expect(throws: ZlibError.tooLarge) {
            try Zlib.decompress(joined, maxDecompressedLength: first.count + second.count - 1)
        }
    }

    @Test func trailingBytesAfterTheStreamThrow() {
        let zlibWithZlib = Self.pythonZlibHello + Self.pythonZlibHello
        #expect(throws: ZlibError.corruptInput) { try Zlib.decompress(zlibWithZlib, maxDecompressedLength: 100) }
        let gzipWithGarbage = Self.gnuGzipHello + [0x00, 0x00]
        #expect(throws: ZlibError.corruptInput) { try Zlib.decompress(gzipWithGarbage, maxDecompressedLength: 100) }
    }

    @Test func wrongContainerThrows() {
        let error = #expect(throws: ZlibError.corruptInput) {
            try Zlib.decompress(Self.gnuGzipHello, format: .zlib, maxDecompressedLength: 100)
        }
        #expect(error?.description == "zlib: corrupt input (incorrect header check)")
        #expect(throws: ZlibError.corruptInput) {
            try Zlib.decompress(Self.pythonZlibHello, format: .gzip, maxDecompressedLength: 100)
        }
    }

    @Test func corruptInputThrows() {
        var badChecksum = Self.gnuGzipHello
        badChecksum[badChecksum.count - 5] ^= 0xFF  // inside the CRC-32
        let error = #expect(throws: ZlibError.corruptInput) {
            try Zlib.decompress(badChecksum, maxDecompressedLength: 100)
        }
        #expect(error?.description == "gzip: corrupt input (incorrect data check)")

        var badAdler = Self.pythonZlibHello
        badAdler[badAdler.count - 1] ^= 0x01
        #expect(throws: ZlibError.corruptInput) { try Zlib.decompress(badAdler, maxDecompressedLength: 100) }

        // Block type 3 is reserved in deflate.
        let reservedBlockType: [UInt8] = [0x78, 0x9c, 0x07, 0x00]
        #expect(throws: ZlibError.corruptInput) { try Zlib.decompress(reservedBlockType, maxDecompressedLength: 100) }

        let garbage = TestPayloads.pseudoRandom(count: 1_000)
        #expect(throws: ZlibError.corruptInput) { try Zlib.decompress(garbage, maxDecompressedLength: 10_000) }
    }

    @Test(arguments: [Zlib.Format.zlib, .gzip])
    func everyProperPrefixIsTruncated(format: Zlib.Format) {
        let compressed = Zlib.compress(TestPayloads.compressible(count: 2_000), format: format)
        for cut in 0..<compressed.count {
            let prefix = Array(compressed.prefix(cut))
            #expect(throws: ZlibError.truncatedInput, "prefix of \(cut) bytes") {
                try Zlib.decompress(prefix, format: format, maxDecompressedLength: 10_000)
            }
        }
    }

    @Test func limitIsInclusive() throws {
        let input = TestPayloads.compressible(count: 100_000)
        let compressed = Zlib.compress(input, format: .gzip)
        #expect(try Zlib.decompress(compressed, maxDecompressedLength: input.count) == input)
        let error = #expect(throws: ZlibError.tooLarge) {
            try Zlib.decompress(compressed, maxDecompressedLength: input.count - 1)
        }
        #expect(error?.limit == input.count - 1)
        #expect(error?.description == "gzip: decompressed size exceeds the limit of 99999 bytes")

        #expect(try Zlib.decompress(Zlib.compress([], format: .zlib), maxDecompressedLength: 0) == [])
        #expect(throws: ZlibError.tooLarge) {
            try Zlib.decompress(Zlib.compress([0x01], format: .zlib), maxDecompressedLength: 0)
        }
    }

    @Test func bombStopsAtTheLimit() throws {
        // 16 MiB of zeros deflates to about 16 KiB; inflating must stop soon after the 1 MiB limit.
        let bomb = Zlib.compress([UInt8](repeating: 0, count: 16 << 20), format: .gzip, level: 9)
        #expect(bomb.count < 64 << 10)
        var output: [UInt8] = []
        #expect(throws: ZlibError.tooLarge) {
            try Zlib.decompress(bomb, into: &output, maxDecompressedLength: 1 << 20)
        }
        #expect(output.count <= (1 << 20) + 1, "never inflate more than one byte past the limit")
    }

    @Test func errorDescriptions() {
        #expect(ZlibError.truncatedInput.description == "zlib: input ended before the end of the compressed stream")
        #expect(ZlibError.corruptInput.description == "zlib: corrupt input")
        #expect(ZlibError.tooLarge.description == "zlib: decompressed size exceeds the limit")
        #expect(ZlibError.corruptInput != ZlibError.truncatedInput)
    }
}
