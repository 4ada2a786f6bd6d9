/// Deterministic inputs for the codec tests, so a failure reproduces byte for byte.
enum TestPayloads {
    /// Bytes from a fixed xorshift64* sequence: effectively incompressible.
    static func pseudoRandom(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            var word = state &* 0x2545_F491_4F6C_DD1D
            for _ in 0..<min(8, count - result.count) {
                result.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return result
    }

    /// Repetitive metric-like text, which compresses by an order of magnitude or more.
    static func compressible(count: Int) -> [UInt8] {
        let sample = #"http_requests_total{method="GET",code="200",handler="/api/v1/write"} 1027 1712345678"#
        let line = Array(sample.utf8) + [UInt8(ascii: "\n")]
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            result.append(contentsOf: line.prefix(count - result.count))
        }
        return result
    }

    /// The payloads every round-trip test runs over, named for readable test output.
    static let roundTripCases: [(name: String, bytes: [UInt8])] = [
        ("empty", []),
        ("one byte", [0x2A]),
        ("small text", Array("hello, petrel".utf8)),
        ("1 MiB pseudo-random", pseudoRandom(count: 1 << 20)),
        ("1 MiB compressible", compressible(count: 1 << 20)),
    ]
}
