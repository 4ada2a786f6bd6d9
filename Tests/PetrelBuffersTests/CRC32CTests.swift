import PetrelBuffers
import Testing

@Suite struct CRC32CTests {
    /// Bit at a time, straight from the definition, to check the table-driven version against.
    private func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    @Test func matchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    /// The test vectors of RFC 3720, appendix B.4.
    static let rfc3720Vectors: [([UInt8], UInt32)] = [
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
    ]

    @Test(arguments: rfc3720Vectors)
    func matchesRFC3720Vectors(input: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(input) == expected)
    }

    @Test func emptyInputIsZero() {
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func matchesBitwiseDefinitionAtEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in 0..<9 {
            for end in stride(from: start, through: bytes.count, by: 7) {
                let slice = Array(bytes[start..<end])
                let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
                #expect(crc == reference(slice), "bytes \(start)..<\(end)")
            }
        }
    }

    @Test func piecesGiveTheOneShotValue() {
        let bytes = Array("The quick brown fox jumps over the lazy dog, twice over for length.".utf8)
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            let crc = bytes.withUnsafeBytes { raw in
                let head = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<split]))
                return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[split...]), continuing: head)
            }
            #expect(crc == whole, "split at \(split)")
        }
    }
}
