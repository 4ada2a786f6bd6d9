import PetrelCodecs

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A rotated file the kubelet gzipped while Petrel was not running (a restart, a crash), with lines not yet read:
/// unpacked into an unnamed file in the checkpoint directory, so the tailer reads it from its checkpoint like any
/// file. The fingerprint and the offset are those of the plain contents, so the checkpoint written before the
/// rotation applies as it is.
enum CompressedRotation {
    /// Unpacks the gzip file at `path` into an unnamed file in `directory` when the fingerprint of its contents is
    /// one `wanted` accepts; returns the unnamed file's descriptor, or nil when it is not wanted.
    ///
    /// Stops as soon as the fingerprint is known and not wanted, so a file already read costs its first chunk.
    static func unpack(
        path: String, into directory: String, wanted: (UInt64) -> Bool
    ) throws(CompressedRotationError) -> Int32? {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw CompressedRotationError(path: path, reason: "cannot open (errno \(errno))") }
        defer { close(input) }
        var template = Array((directory + "/.unpacked-XXXXXX").utf8CString)
        let output = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard output >= 0 else {
            throw CompressedRotationError(path: path, reason: "cannot create a file in \(directory) (errno \(errno))")
        }
        // Unnamed from the start: it goes away with its descriptor, also after a crash.
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        var keep = false
        defer { if !keep { close(output) } }

        var head: [UInt8] = []
        var decided = false
        var writeFailed: Int32 = 0
        func accept(_ piece: UnsafeRawBufferPointer) -> Bool {
            if !decided {
                head.append(contentsOf: piece.prefix(FileFingerprint.maxBytes - head.count))
                if let fingerprint = head.withUnsafeBytes({ FileFingerprint.of($0) }) {
                    guard wanted(fingerprint) else { return false }
                    decided = true
                }
            }
            var written = 0
            while written < piece.count {
                let count = write(output, piece.baseAddress! + written, piece.count - written)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    writeFailed = errno
                    return false
                }
                written += count
            }
            return true
        }
        let inflater: Zlib.GzipStreamInflater
        do { inflater = try Zlib.GzipStreamInflater() } catch {
            throw CompressedRotationError(path: path, reason: error.description)
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CompressedRotationError(path: path, reason: "read failed (errno \(errno))") }
            if count == 0 { break }
            let fed: Result<Bool, ZlibError> = chunk.withUnsafeBytes { bytes in
                Result { () throws(ZlibError) in
                    try inflater.feed(UnsafeRawBufferPointer(rebasing: bytes[..<count]), emit: accept)
                }
            }
            let finished: Bool
            switch fed {
            case .success(let value): finished = value
            case .failure(let error): throw CompressedRotationError(path: path, reason: error.description)
            }
            guard finished else { break }
        }
        if writeFailed != 0 {
            throw CompressedRotationError(path: path, reason: "cannot write the unpacked copy (errno \(writeFailed))")
        }
        guard decided else { return nil }
        guard inflater.isAtEnd else {
            throw CompressedRotationError(path: path, reason: "the gzip stream is cut short")
        }
        keep = true
        return output
    }
}

/// Why a gzipped rotated file could not be unpacked; its unread lines are lost and counted.
struct CompressedRotationError: Error, CustomStringConvertible {
    let path: String
    let reason: String

    var description: String { "cannot unpack \(path): \(reason)" }
}
