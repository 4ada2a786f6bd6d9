import PetrelCore
import Testing

/// Reference values from the xxHash reference implementation (python-xxhash).
@Suite struct XXHash64Tests {
    @Test(arguments: [
        ("", 0xEF46_DB37_51D8_E999 as UInt64),
        ("abc", 0x44BC_2CF5_AD77_0999),
        ("Nobody inspects the spammish repetition", 0xFBCE_A83C_8A37_8BF1),
    ])
    func matchesReference(input: String, expected: UInt64) {
        #expect(XXHash64.hash(Array(input.utf8)) == expected)
    }

    @Test func longInputMatchesReference() {
        #expect(XXHash64.hash(Array(0..<100)) == 0x6AC1_E580_3216_6597)
    }

    @Test func streamingInAnyChunksEqualsOneShot() {
        let bytes: [UInt8] = Array(0..<100)
        for chunk in [1, 3, 7, 31, 32, 33, 64] {
            var hasher = XXHash64()
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + chunk, bytes.count)
                bytes[offset..<end].withUnsafeBytes { hasher.update($0) }
                offset = end
            }
            #expect(hasher.finalize() == 0x6AC1_E580_3216_6597, "chunk size \(chunk)")
        }
    }
}
