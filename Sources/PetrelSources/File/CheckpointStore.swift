import PetrelCore

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
    private var file: StateFile { StateFile(path: path) }

    /// The saved checkpoints; none when the file does not exist yet.
    func load() throws(CheckpointError) -> [FileCheckpoint] {
        let bytes: [UInt8]?
        do {
            bytes = try file.load()
        } catch {
            throw CheckpointError(description: error.description)
        }
        guard let bytes else { return [] }
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
        do {
            try file.save(Array(Self.render(checkpoints).utf8))
        } catch {
            throw CheckpointError(description: error.description)
        }
    }

    /// Moves an unreadable checkpoint file aside (kept for a human to look at), so the next save does not lose it.
    func setAside() -> String {
        file.setAside()
    }
}
