/// Streaming xxHash64: a fast, stable hash (Prometheus hashes label sets with it too).
public struct XXHash64: Sendable {
    @usableFromInline static let prime1: UInt64 = 11_400_714_785_074_694_791
    @usableFromInline static let prime2: UInt64 = 14_029_467_366_897_019_727
    @usableFromInline static let prime3: UInt64 = 1_609_587_929_392_839_161
    @usableFromInline static let prime4: UInt64 = 9_650_029_242_287_828_579
    @usableFromInline static let prime5: UInt64 = 2_870_177_450_012_600_261

    private let seed: UInt64
    private var v1: UInt64
    private var v2: UInt64
    private var v3: UInt64
    private var v4: UInt64
    private var totalLength: UInt64 = 0
    // Bytes of an incomplete 32-byte stripe.
    private var pending: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var pendingCount = 0

    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ Self.prime1 &+ Self.prime2
        v2 = seed &+ Self.prime2
        v3 = seed
        v4 = seed &- Self.prime1
    }

    /// The hash of `bytes` in one call.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var hasher = XXHash64(seed: seed)
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The hash of `bytes` in one call.
    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    @inline(__always)
    private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        rotateLeft(accumulator &+ input &* prime2, 31) &* prime1
    }

    @inline(__always)
    private static func merge(_ accumulator: UInt64, _ value: UInt64) -> UInt64 {
        (accumulator ^ round(0, value)) &* prime1 &+ prime4
    }

    @inline(__always)
    private static func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    @inline(__always)
    private mutating func consumeStripe(_ stripe: UnsafeRawPointer) {
        v1 = Self.round(v1, UInt64(littleEndian: stripe.loadUnaligned(as: UInt64.self)))
        v2 = Self.round(v2, UInt64(littleEndian: stripe.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        v3 = Self.round(v3, UInt64(littleEndian: stripe.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        v4 = Self.round(v4, UInt64(littleEndian: stripe.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var pointer = bytes.baseAddress, !bytes.isEmpty else { return }
        var remaining = bytes.count
        totalLength &+= UInt64(remaining)
        if pendingCount > 0 {
            let take = min(32 - pendingCount, remaining)
            withUnsafeMutableBytes(of: &pending) { pendingBytes in
                pendingBytes.baseAddress!.advanced(by: pendingCount).copyMemory(from: pointer, byteCount: take)
            }
            pendingCount += take
            pointer += take
            remaining -= take
            if pendingCount < 32 { return }
            var stripe = pending
            withUnsafeBytes(of: &stripe) { consumeStripe($0.baseAddress!) }
            pendingCount = 0
        }
        while remaining >= 32 {
            consumeStripe(pointer)
            pointer += 32
            remaining -= 32
        }
        if remaining > 0 {
            withUnsafeMutableBytes(of: &pending) { pendingBytes in
                pendingBytes.baseAddress!.copyMemory(from: pointer, byteCount: remaining)
            }
            pendingCount = remaining
        }
    }

    /// The hash of everything fed so far.
    public func finalize() -> UInt64 {
        var hash: UInt64
        if totalLength >= 32 {
            hash =
                Self.rotateLeft(v1, 1) &+ Self.rotateLeft(v2, 7) &+ Self.rotateLeft(v3, 12) &+ Self.rotateLeft(v4, 18)
            hash = Self.merge(hash, v1)
            hash = Self.merge(hash, v2)
            hash = Self.merge(hash, v3)
            hash = Self.merge(hash, v4)
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= totalLength
        var tail = pending
        withUnsafeBytes(of: &tail) { tail in
            var offset = 0
            while offset + 8 <= pendingCount {
                let lane = UInt64(littleEndian: tail.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                hash ^= Self.round(0, lane)
                hash = Self.rotateLeft(hash, 27) &* Self.prime1 &+ Self.prime4
                offset += 8
            }
            if offset + 4 <= pendingCount {
                let lane = UInt64(UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                hash ^= lane &* Self.prime1
                hash = Self.rotateLeft(hash, 23) &* Self.prime2 &+ Self.prime3
                offset += 4
            }
            while offset < pendingCount {
                hash ^= UInt64(tail[offset]) &* Self.prime5
                hash = Self.rotateLeft(hash, 11) &* Self.prime1
                offset += 1
            }
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        return hash
    }
}
