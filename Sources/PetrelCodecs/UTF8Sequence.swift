/// The extent of one UTF-8 sequence in a byte buffer, valid or not, per the Unicode Standard's table 3-7.
struct UTF8Sequence {
    /// Whether the bytes form a well-formed scalar (no overlongs, surrogates or values past U+10FFFF).
    var isValid: Bool

    /// The sequence's length when valid; otherwise the maximal ill-formed subpart, which Unicode recommends
    /// replacing with a single U+FFFD so one bad byte does not swallow the valid bytes after it.
    var length: Int

    /// Measures the sequence that starts with the non-ASCII byte at `index`.
    static func measure(_ bytes: UnsafeRawBufferPointer, at index: Int) -> UTF8Sequence {
        let lead = bytes[index]
        let continuationCount: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF:
            continuationCount = 1
        case 0xE0:
            continuationCount = 2
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF:
            continuationCount = 2
        case 0xED:
            continuationCount = 2
            secondRange = 0x80...0x9F
        case 0xF0:
            continuationCount = 3
            secondRange = 0x90...0xBF
        case 0xF1...0xF3:
            continuationCount = 3
        case 0xF4:
            continuationCount = 3
            secondRange = 0x80...0x8F
        default:
            return UTF8Sequence(isValid: false, length: 1)
        }
        for offset in 1...continuationCount {
            let position = index + offset
            let range: ClosedRange<UInt8> = offset == 1 ? secondRange : 0x80...0xBF
            guard position < bytes.count, range.contains(bytes[position]) else {
                return UTF8Sequence(isValid: false, length: offset)
            }
        }
        return UTF8Sequence(isValid: true, length: continuationCount + 1)
    }
}
