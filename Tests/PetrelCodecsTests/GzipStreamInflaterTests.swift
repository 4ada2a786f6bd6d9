import PetrelCodecs
import Testing

/// The piece-by-piece gzip inflater that reads gzipped log files without holding them whole.
@Suite struct GzipStreamInflaterTests {
    /// 2 MiB of log-like lines: many output chunks from one input.
    static let text: [UInt8] = Array((0..<40_000).map { "2026-12-06T10:15:10Z stdout F line \($0)\n" }.joined().utf8)

    static func inflate(_ compressed: [UInt8], feeding size: Int) throws -> (output: [UInt8], atEnd: Bool) {
        let inflater = try Zlib.GzipStreamInflater(chunkBytes: 4096)
        var output: [UInt8] = []
        var offset = 0
        while offset < compressed.count {
            let end = min(compressed.count, offset + size)
            let piece = Array(compressed[offset..<end])
            let result: Result<Bool, ZlibError> = piece.withUnsafeBytes { bytes in
                Result { () throws(ZlibError) in
                    try inflater.feed(bytes) {
                        output.append(contentsOf: $0)
                        return true
                    }
                }
            }
            #expect(try result.get())
            offset = end
        }
        return (output, inflater.isAtEnd)
    }

    @Test(arguments: [1, 7, 4096, 1 << 30])
    func inflatesWhateverTheInputPieces(size: Int) throws {
        let compressed = Zlib.compress(Self.text, format: .gzip)
        let (output, atEnd) = try Self.inflate(compressed, feeding: size)
        #expect(output == Self.text)
        #expect(atEnd)
    }

    @Test func joinsConcatenatedMembers() throws {
        let first = Array("first member\n".utf8)
        let compressed = Zlib.compress(first, format: .gzip) + Zlib.compress(Self.text, format: .gzip)
        let (output, atEnd) = try Self.inflate(compressed, feeding: 1000)
        #expect(output == first + Self.text)
        #expect(atEnd)
    }

    @Test func aCutStreamIsNotAtItsEnd() throws {
        let compressed = Zlib.compress(Self.text, format: .gzip)
        let (output, atEnd) = try Self.inflate(Array(compressed.dropLast(100)), feeding: 4096)
        #expect(!atEnd, "cut short")
        #expect(Self.text.starts(with: output))
    }

    @Test func corruptInputAndTrailingBytesAreErrors() throws {
        var corrupt = Zlib.compress(Self.text, format: .gzip)
        corrupt[20] ^= 0xff
        #expect(throws: ZlibError.self) { try Self.inflate(corrupt, feeding: 4096) }
        let trailing = Zlib.compress(Self.text, format: .gzip) + [0x00, 0x01]
        #expect(throws: ZlibError.self) { try Self.inflate(trailing, feeding: 4096) }
    }

    @Test func stopsWhenAskedTo() throws {
        let inflater = try Zlib.GzipStreamInflater(chunkBytes: 4096)
        let compressed = Zlib.compress(Self.text, format: .gzip)
        var pieces = 0
        let result: Result<Bool, ZlibError> = compressed.withUnsafeBytes { bytes in
            Result { () throws(ZlibError) in
                try inflater.feed(bytes) { _ in
                    pieces += 1
                    return false
                }
            }
        }
        #expect(try result.get() == false)
        #expect(pieces == 1)
    }
}
