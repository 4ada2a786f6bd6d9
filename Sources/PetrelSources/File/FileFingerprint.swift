import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who a file is: xxHash64 of its first line, newline included, or of its first `maxBytes` bytes when the first
/// line is longer. The inode alone is not enough: a file renamed keeps its fingerprint, a new file that reuses a
/// deleted one's inode does not, and a copy has the same one (and is not read twice).
///
/// A file whose first line is not complete and shorter than `maxBytes` has no fingerprint yet: it waits, unread,
/// until its first line is written out.
enum FileFingerprint {
    static let maxBytes = 256

    /// The fingerprint of a file starting with `head` (at most `maxBytes` of it are looked at), or `nil` when it is
    /// too short to tell.
    static func of(_ head: UnsafeRawBufferPointer) -> UInt64? {
        let window = UnsafeRawBufferPointer(rebasing: head.prefix(maxBytes))
        if let newline = window.firstIndex(of: UInt8(ascii: "\n")) {
            return XXHash64.hash(UnsafeRawBufferPointer(rebasing: window[...newline]))
        }
        return window.count == maxBytes ? XXHash64.hash(window) : nil
    }

    /// The fingerprint of the open file `descriptor`, read from its first bytes.
    static func of(descriptor: Int32) -> UInt64? {
        withUnsafeTemporaryAllocation(byteCount: maxBytes, alignment: 1) { buffer in
            var filled = 0
            while filled < maxBytes {
                let count = pread(descriptor, buffer.baseAddress! + filled, maxBytes - filled, off_t(filled))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                filled += count
            }
            return of(UnsafeRawBufferPointer(rebasing: buffer[..<filled]))
        }
    }
}
