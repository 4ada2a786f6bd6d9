/// The symbols table of a remote-write 2.0 request being encoded, deduplicated by content.
///
/// Symbols are arena ranges, never `String`s. Keys are byte contents rather than (offset, length), because a batch
/// decoded from 1.0 holds a separate copy of "job" for every series. The table is open addressing with linear
/// probing over a seeded hash, and keeps its storage between requests.
struct RemoteWriteSymbolTable: Sendable {
    /// Where each symbol's bytes are in the arena, in table order.
    private(set) var offsets: [UInt32] = []
    private(set) var lengths: [UInt32] = []
    private var hashes: [UInt64] = []
    /// 0 is an empty slot; otherwise a symbol index plus one. The count is a power of two.
    private var slots: [UInt32] = []
    // A random seed keeps a sender from choosing label values that all collide and make encoding quadratic.
    private let seed = UInt64.random(in: .min ... .max)

    var count: Int { offsets.count }

    /// Empties the table, keeping its storage, and adds "" as symbol 0, which the 2.0 spec requires.
    mutating func reset() {
        offsets.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        if slots.isEmpty {
            slots = [UInt32](repeating: 0, count: 256)
        } else {
            slots.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        _ = intern(nil, offset: 0, length: 0)
    }

    /// The index of the string at `offset..<offset + length` of `arena`, added to the table if new.
    @inline(__always)
    mutating func intern(_ arena: UnsafeRawPointer?, offset: UInt32, length: UInt32) -> UInt32 {
        let bytes = length == 0 ? nil : arena.unsafelyUnwrapped + Int(offset)
        let hash = hash(bytes, count: Int(length))
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { break }
            let index = Int(entry - 1)
            if hashes[index] == hash && lengths[index] == length
                && (length == 0
                    || Self.equal(arena.unsafelyUnwrapped + Int(offsets[index]), bytes.unsafelyUnwrapped, Int(length)))
            {
                return entry - 1
            }
            slot = (slot + 1) & mask
        }
        let index = UInt32(offsets.count)
        offsets.append(offset)
        lengths.append(length)
        hashes.append(hash)
        slots[slot] = index + 1
        if offsets.count * 2 > slots.count { grow() }
        return index
    }

    private mutating func grow() {
        slots = [UInt32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for index in hashes.indices {
            var slot = Int(truncatingIfNeeded: hashes[index]) & mask
            while slots[slot] != 0 {
                slot = (slot + 1) & mask
            }
            slots[slot] = UInt32(index + 1)
        }
    }

    /// A fast seeded hash of short byte strings, eight bytes per step, with a final avalanche.
    ///
    /// The last step loads the last eight (or four) bytes, overlapping the previous step, rather than a byte at a
    /// time; the length, mixed in first, keeps strings that share those bytes apart.
    @inline(__always)
    private func hash(_ bytes: UnsafeRawPointer?, count: Int) -> UInt64 {
        var hash = seed ^ (UInt64(count) &* 0x9E37_79B9_7F4A_7C15)
        guard let bytes else { return Self.avalanche(hash) }
        if count >= 8 {
            var index = 0
            while count - index > 8 {
                hash = Self.mix(hash ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                index += 8
            }
            hash = Self.mix(hash ^ bytes.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
        } else if count >= 4 {
            let head = UInt64(bytes.loadUnaligned(as: UInt32.self))
            let tail = UInt64(bytes.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
            hash = Self.mix(hash ^ (head << 32 | tail))
        } else {
            var word: UInt64 = 0
            for index in 0..<count {
                word = word << 8 | UInt64(bytes.load(fromByteOffset: index, as: UInt8.self))
            }
            hash = Self.mix(hash ^ word)
        }
        return Self.avalanche(hash)
    }

    /// Whether `count` bytes at `left` and `right` are equal; short strings compare faster in place than in memcmp.
    @inline(__always)
    static func equal(_ left: UnsafeRawPointer, _ right: UnsafeRawPointer, _ count: Int) -> Bool {
        if count >= 8 {
            var index = 0
            while count - index > 8 {
                if left.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    != right.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                {
                    return false
                }
                index += 8
            }
            return left.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
                == right.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        }
        if count >= 4 {
            return left.loadUnaligned(as: UInt32.self) == right.loadUnaligned(as: UInt32.self)
                && left.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
                    == right.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        }
        for index in 0..<count
        where left.load(fromByteOffset: index, as: UInt8.self) != right.load(fromByteOffset: index, as: UInt8.self) {
            return false
        }
        return true
    }

    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        let product = value &* 0xBF58_476D_1CE4_E5B9
        return (product << 31 | product >> 33) &* 0x94D0_49BB_1331_11EB
    }

    @inline(__always)
    private static func avalanche(_ value: UInt64) -> UInt64 {
        var value = value
        value ^= value >> 33
        value &*= 0xFF51_AFD7_ED55_8CCD
        value ^= value >> 33
        return value
    }
}
