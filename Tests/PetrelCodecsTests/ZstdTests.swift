import Foundation
import PetrelCodecs
import Testing

@Suite struct ZstdTests {
    /// `printf 'hello, petrel' | zstd -c --no-check` from the zstd 1.5.4 CLI: a frame that does not declare its size.
    static let cliHello: [UInt8] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x69, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x70, 0x65,
        0x74, 0x72, 0x65, 0x6c,
    ]

    static let hello = Array("hello, petrel".utf8)

    static let zstdCLI = "/usr/bin/zstd"

    @Test(arguments: TestPayloads.roundTripCases.map(\.name))
    func roundTrip(caseName: String) throws {
        let input = try #require(TestPayloads.roundTripCases.first { $0.name == caseName }).bytes
        let compressed = Zstd.compress(input)
        #expect(Array(compressed.prefix(4)) == [0x28, 0xb5, 0x2f, 0xfd], "the zstd frame magic number")
        #expect(try Zstd.decompress(compressed, maxDecompressedLength: input.count) == input)
    }

    @Test func decodesTheCLIsOutput() throws {
        #expect(try Zstd.decompress(Self.cliHello, maxDecompressedLength: 100) == Self.hello)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: zstdCLI)))
    func theCLIReadsOurOutput() throws {
        let input = TestPayloads.compressible(count: 200_000)
        let decoded = try Self.runCLI(["-d"], input: Zstd.compress(input, level: 19))
        #expect(decoded == input)
    }

    @Test func levelsTradeSizeForSpeed() throws {
        let input = TestPayloads.compressible(count: 100_000)
        let fast = Zstd.compress(input, level: 1)
        let small = Zstd.compress(input, level: 19)
        #expect(small.count <= fast.count)
        #expect(small.count < input.count / 20)
        for compressed in [fast, small] {
            #expect(try Zstd.decompress(compressed, maxDecompressedLength: input.count) == input)
        }
    }

    @Test func reusedBuffersRoundTrip() throws {
        var compressed: [UInt8] = []
        var output: [UInt8] = []
        for count in [300_000, 10, 0, 50_000] {
            let input = TestPayloads.pseudoRandom(count: count, seed: UInt64(count) + 7)
            Zstd.compress(input, into: &compressed)
            #expect(compressed == Zstd.compress(input))
            try Zstd.decompress(compressed, into: &output, maxDecompressedLength: 1 << 20)
            #expect(output == input)
        }
    }

    @Test func rawBufferOverloadsMatchArrayOverloads() throws {
        let input = TestPayloads.compressible(count: 5_000)
        let compressed = input.withUnsafeBytes { Zstd.compress($0) }
        #expect(compressed == Zstd.compress(input))
        let output = try compressed.withUnsafeBytes { try Zstd.decompress($0, maxDecompressedLength: 5_000) }
        #expect(output == input)
    }

    @Test func concatenatedFramesAreJoined() throws {
        let first = Array("first frame, ".utf8)
        let second = Array("second frame".utf8)
        let joined = Zstd.compress(first) + Self.cliHello + Zstd.compress(second)
        #expect(try Zstd.decompress(joined, maxDecompressedLength: 100) == first + Self.hello + second)
        // The limit covers all frames together, not each one.
        #expect(throws: ZstdError.tooLarge) {
            try Zstd.decompress(joined, maxDecompressedLength: first.count + Self.hello.count + second.count - 1)
        }
    }

    @Test func skippableFramesAreSkipped() throws {
        // RFC 8878 §3.1.2: magic 0x184D2A5?, a 4-byte little-endian size, then that many bytes of anything.
        let skippable: [UInt8] = [0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 0xde, 0xad, 0xbe]
        #expect(try Zstd.decompress(skippable + Self.cliHello, maxDecompressedLength: 100) == Self.hello)
    }

    @Test func corruptInputThrows() {
        var badMagic = Self.cliHello
        badMagic[0] ^= 0xFF
        let error = #expect(throws: ZstdError.corruptInput) {
            try Zstd.decompress(badMagic, maxDecompressedLength: 100)
        }
        #expect(error?.description == "zstd: corrupt input (Unknown frame descriptor)")

        var badChecksum = Zstd.compress(TestPayloads.compressible(count: 1_000))
        badChecksum[badChecksum.count - 1] ^= 0xFF  // inside the content checksum
        #expect(throws: ZstdError.corruptInput) { try Zstd.decompress(badChecksum, maxDecompressedLength: 10_000) }

        let trailingGarbage = Self.cliHello + [0x00, 0x01, 0x02, 0x03, 0x04]
        #expect(throws: ZstdError.corruptInput) { try Zstd.decompress(trailingGarbage, maxDecompressedLength: 100) }

        let garbage = TestPayloads.pseudoRandom(count: 1_000)
        #expect(throws: ZstdError.corruptInput) { try Zstd.decompress(garbage, maxDecompressedLength: 10_000) }
    }

    @Test func everyProperPrefixIsTruncatedOrCorrupt() {
        let compressed = Zstd.compress(TestPayloads.compressible(count: 2_000))
        for cut in 0..<compressed.count {
            let prefix = Array(compressed.prefix(cut))
            #expect(throws: ZstdError.truncatedInput, "prefix of \(cut) bytes") {
                try Zstd.decompress(prefix, maxDecompressedLength: 10_000)
            }
        }
    }

    @Test func limitIsInclusive() throws {
        let input = TestPayloads.compressible(count: 100_000)
        let compressed = Zstd.compress(input)
        #expect(try Zstd.decompress(compressed, maxDecompressedLength: input.count) == input)
        let error = #expect(throws: ZstdError.tooLarge) {
            try Zstd.decompress(compressed, maxDecompressedLength: input.count - 1)
        }
        #expect(error?.limit == input.count - 1)
        #expect(error?.description == "zstd: decompressed size exceeds the limit of 99999 bytes")

        #expect(try Zstd.decompress(Zstd.compress([]), maxDecompressedLength: 0) == [])
        #expect(throws: ZstdError.tooLarge) { try Zstd.decompress(Zstd.compress([0x01]), maxDecompressedLength: 0) }
        // Without a declared size the limit is found while decoding.
        #expect(try Zstd.decompress(Self.cliHello, maxDecompressedLength: Self.hello.count) == Self.hello)
        #expect(throws: ZstdError.tooLarge) {
            try Zstd.decompress(Self.cliHello, maxDecompressedLength: Self.hello.count - 1)
        }
    }

    @Test func aBombThatDeclaresItsSizeIsRefusedByItsHeader() throws {
        let bomb = Zstd.compress([UInt8](repeating: 0, count: 16 << 20))
        #expect(bomb.count < 64 << 10)
        var output: [UInt8] = []
        #expect(throws: ZstdError.tooLarge) { try Zstd.decompress(bomb, into: &output, maxDecompressedLength: 1 << 20) }
        #expect(output.isEmpty, "nothing decoded")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: zstdCLI)))
    func aBombThatHidesItsSizeStopsAtTheLimit() throws {
        // 16 MiB of zeros from the CLI without a declared size: about 600 bytes that decoding must stop early.
        let bomb = try Self.runCLI(["--no-content-size"], input: [UInt8](repeating: 0, count: 16 << 20))
        #expect(bomb.count < 16 << 10)
        var output: [UInt8] = []
        #expect(throws: ZstdError.tooLarge) { try Zstd.decompress(bomb, into: &output, maxDecompressedLength: 1 << 20) }
        #expect(output.count <= (1 << 20) + 1, "never decode more than one byte past the limit")
    }

    @Test func aFrameAskingForAHugeWindowIsRefused() throws {
        // The CLI's frame with its window descriptor (exponent 20) set to ask for 1 GiB, as `zstd --long=30` does.
        var frame = Self.cliHello
        frame[5] = 0xa0
        let error = #expect(throws: ZstdError.tooLarge) { try Zstd.decompress(frame, maxDecompressedLength: 1 << 20) }
        #expect(error?.description.contains("Frame requires too much memory") == true, "\(String(describing: error))")
        // A window of 2^24 fits the smallest limit Petrel sets (8 MiB) only when the output limit is larger.
        frame[5] = 0x70
        #expect(throws: ZstdError.tooLarge) { try Zstd.decompress(frame, maxDecompressedLength: 1 << 20) }
        #expect(try Zstd.decompress(frame, maxDecompressedLength: 32 << 20) == Self.hello)
    }

    @Test func errorDescriptions() {
        #expect(ZstdError.truncatedInput.description == "zstd: input ended before the end of the compressed stream")
        #expect(ZstdError.corruptInput.description == "zstd: corrupt input")
        #expect(ZstdError.tooLarge.description == "zstd: decompressed size exceeds the limit")
        #expect(ZstdError.corruptInput != ZstdError.truncatedInput)
    }

    /// Runs the zstd CLI on `input` and returns what it wrote.
    private static func runCLI(_ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-zstd-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputFile = directory.appendingPathComponent("in")
        let outputFile = directory.appendingPathComponent("out")
        try Data(input).write(to: inputFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: zstdCLI)
        process.arguments = ["-q", "-f"] + arguments + [inputFile.path, "-o", outputFile.path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ZstdTestError(message: "zstd \(arguments) exited with \(process.terminationStatus)")
        }
        return [UInt8](try Data(contentsOf: outputFile))
    }

    struct ZstdTestError: Error {
        let message: String
    }
}
