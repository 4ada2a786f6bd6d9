#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where reading a file resumes: every byte before `offset` is in every buffer downstream.
struct FileCheckpoint: Sendable, Equatable {
    var fingerprint: UInt64
    var offset: Int64
    /// The path it was last read at, for humans; the fingerprint is what a file is known by.
    var path: String
}

/// A checkpoint file that cannot be read.
struct CheckpointError: Error, CustomStringConvertible {
    var description: String
}

/// The checkpoints of one source, in `<data_dir>/checkpoints/<source id>/checkpoints`: a header line, then one
/// `<fingerprint, 16 hex digits> <offset> <path>` line per file. Written whole to a temporary file, fsynced and
/// renamed over the old one, so a crash leaves either the old or the new file, never a mix.
struct CheckpointStore: Sendable {
    static let header = "petrel file checkpoints v1"
    let directory: String

    var path: String { directory + "/checkpoints" }

    /// The saved checkpoints; none when the file does not exist yet.
    func load() throws(CheckpointError) -> [FileCheckpoint] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return [] }
            throw CheckpointError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw CheckpointError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return try Self.parse(String(decoding: bytes, as: UTF8.self), path: path)
    }

    static func parse(_ text: String, path: String) throws(CheckpointError) -> [FileCheckpoint] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(header) else {
            throw CheckpointError(description: "\(path) is not a checkpoint file: its first line is not \"\(header)\"")
        }
        if lines.last == "" { lines.removeLast() }
        var checkpoints: [FileCheckpoint] = []
        for (index, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0].utf8.count == 16, let fingerprint = UInt64(fields[0], radix: 16),
                let offset = Int64(fields[1]), offset >= 0
            else {
                throw CheckpointError(description: "\(path) line \(index + 1) is not \"<fingerprint> <offset> <path>\"")
            }
            checkpoints.append(FileCheckpoint(fingerprint: fingerprint, offset: offset, path: String(fields[2])))
        }
        return checkpoints
    }

    static func render(_ checkpoints: [FileCheckpoint]) -> String {
        var text = header + "\n"
        for checkpoint in checkpoints {
            let hex = String(checkpoint.fingerprint, radix: 16)
            let path = checkpoint.path.map { $0 == "\n" ? "?" : $0 }
            text += String(repeating: "0", count: 16 - hex.count) + hex + " \(checkpoint.offset) " + String(path) + "\n"
        }
        return text
    }

    /// Replaces the saved checkpoints: temporary file, fsync, rename, fsync of the directory.
    func save(_ checkpoints: [FileCheckpoint]) throws(CheckpointError) {
        try Self.makeDirectories(directory)
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("cannot create \(temporary)") }
        var text = Self.render(checkpoints)
        let written = text.withUTF8 { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let count = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                offset += count
            }
            return true
        }
        let synced = written && fsync(descriptor) == 0
        close(descriptor)
        guard synced else { throw failure("cannot write \(temporary)") }
        guard rename(temporary, path) == 0 else { throw failure("cannot rename \(temporary) to \(path)") }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// Moves an unreadable checkpoint file aside (kept for a human to look at), so the next save does not lose it.
    func setAside() -> String {
        let aside = path + ".corrupt"
        _ = rename(path, aside)
        return aside
    }

    private func failure(_ what: String) -> CheckpointError {
        CheckpointError(description: "\(what): \(String(cString: strerror(errno)))")
    }

    private static func makeDirectories(_ directory: String) throws(CheckpointError) {
        var current = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw CheckpointError(description: "cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }
}
