/// MD5 (RFC 1321), for `hashmod` (Prometheus shards on MD5, so the same digest is needed to agree with it) and
/// remap's `md5`.
public struct MD5 {
    private static let shifts: [UInt32] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ]

    /// floor(abs(sin(i + 1)) * 2^32), as tabulated in the RFC.
    private static let constants: [UInt32] = [
        0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
        0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
        0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
        0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
        0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
        0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
        0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
        0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
    ]

    private var a0: UInt32 = 0x6745_2301
    private var b0: UInt32 = 0xefcd_ab89
    private var c0: UInt32 = 0x98ba_dcfe
    private var d0: UInt32 = 0x1032_5476

    /// The 16-byte digest of `bytes`.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var state = MD5()
        state.hash(bytes)
        var digest: [UInt8] = []
        digest.reserveCapacity(16)
        for word in [state.a0, state.b0, state.c0, state.d0] {
            for shift in stride(from: 0, to: 32, by: 8) {
                digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift)))
            }
        }
        return digest
    }

    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { digest($0) }
    }

    /// The last 8 digest bytes read big-endian, which is what Prometheus' `hashmod` takes the modulus of.
    static func hashmodKey(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var state = MD5()
        state.hash(bytes)
        // Bytes 8...15 of the digest are c0 then d0, each stored little-endian.
        return UInt64(state.c0.byteSwapped) << 32 | UInt64(state.d0.byteSwapped)
    }

    private mutating func hash(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        var offset = 0
        while count - offset >= 64 {
            compress(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 64]))
            offset += 64
        }
        // The tail, a 0x80 byte, zeros, then the length in bits as a little-endian 64-bit number.
        let rest = count - offset
        let tailCount = rest < 56 ? 64 : 128
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { tail in
            tail.initializeMemory(as: UInt8.self, repeating: 0)
            if rest > 0 {
                tail.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: rest)
            }
            tail[rest] = 0x80
            let bits = UInt64(count) &* 8
            tail.storeBytes(of: bits.littleEndian, toByteOffset: tailCount - 8, as: UInt64.self)
            compress(UnsafeRawBufferPointer(rebasing: tail[0..<64]))
            if tailCount == 128 {
                compress(UnsafeRawBufferPointer(rebasing: tail[64..<128]))
            }
        }
    }

    private mutating func compress(_ block: UnsafeRawBufferPointer) {
        var a = a0
        var b = b0
        var c = c0
        var d = d0
        for index in 0..<64 {
            var f: UInt32
            let g: Int
            switch index {
            case 0..<16:
                f = (b & c) | (~b & d)
                g = index
            case 16..<32:
                f = (d & b) | (~d & c)
                g = (5 &* index &+ 1) % 16
            case 32..<48:
                f = b ^ c ^ d
                g = (3 &* index &+ 5) % 16
            default:
                f = c ^ (b | ~d)
                g = (7 &* index) % 16
            }
            f =
                f &+ a &+ Self.constants[index]
                &+ block.loadUnaligned(fromByteOffset: 4 * g, as: UInt32.self).littleEndian
            a = d
            d = c
            c = b
            let shift = Self.shifts[index]
            b = b &+ ((f << shift) | (f >> (32 - shift)))
        }
        a0 = a0 &+ a
        b0 = b0 &+ b
        c0 = c0 &+ c
        d0 = d0 &+ d
    }
}
