#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why writing a file failed: what was being done, to which path, and what the system said.
public struct FileSinkError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Operation: String, Sendable {
        case createDirectory = "create the directory of"
        case open
        case write
        case fsync
    }

    private let operation: Operation
    /// The file the operation was for.
    public let path: String
    /// The errno of the failed call.
    public let code: Int32

    private init(_ operation: Operation, _ path: String, _ code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    static func createDirectory(_ path: String, _ code: Int32) -> Self { Self(.createDirectory, path, code) }
    static func open(_ path: String, _ code: Int32) -> Self { Self(.open, path, code) }
    static func write(_ path: String, _ code: Int32) -> Self { Self(.write, path, code) }
    static func fsync(_ path: String, _ code: Int32) -> Self { Self(.fsync, path, code) }

    public var description: String {
        "cannot \(operation.rawValue) \(path): \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// The files a `file` sink has open, by rendered path: at most `maxOpenFiles`, the least recently written closed
/// first. Appends only (`O_APPEND`), files created `0640` and their directories as needed.
///
/// A file holds lines not yet fsynced while `dirty`; it is fsynced before it is closed, so closing never loses
/// what a pending acknowledgement stands for.
struct OpenFiles {
    private struct File {
        var descriptor: Int32
        var lastWrite: ContinuousClock.Instant
        var dirty: Bool
    }

    private var files: [String: File] = [:]
    let maxOpenFiles: Int

    init(maxOpenFiles: Int) {
        self.maxOpenFiles = max(maxOpenFiles, 1)
    }

    /// Appends `bytes[written...]` to `path`, advancing `written` as bytes reach the file, so a retry after a
    /// failure continues where the failed attempt stopped instead of writing lines twice.
    mutating func append(_ bytes: [UInt8], to path: String, written: inout Int) throws(FileSinkError) {
        guard written < bytes.count else { return }
        let descriptor = try descriptor(for: path)
        files[path]?.lastWrite = .now
        files[path]?.dirty = true
        let failure = bytes.withUnsafeBytes { buffer -> Int32 in
            while written < buffer.count {
                let count = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if count > 0 {
                    written += count
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    return count == 0 ? EIO : errno
                }
            }
            return 0
        }
        if failure != 0 {
            // The descriptor may be what is wrong (a file removed under it stays writable, but a stale NFS handle
            // does not): the next attempt opens the path afresh.
            closeFile(path)
            throw .write(path, failure)
        }
    }

    /// Fsyncs every file written since its last fsync.
    mutating func syncDirty() throws(FileSinkError) {
        for (path, file) in files where file.dirty {
            try sync(path, file)
        }
    }

    /// Closes the files nothing was written to since `deadline` (fsyncing them first); a failed fsync keeps its
    /// file open and is thrown.
    mutating func closeIdle(before deadline: ContinuousClock.Instant) throws(FileSinkError) {
        for (path, file) in files where file.lastWrite < deadline {
            if file.dirty { try sync(path, file) }
            closeFile(path)
        }
    }

    /// Fsyncs and closes every file.
    mutating func closeAll() throws(FileSinkError) {
        try syncDirty()
        for path in Array(files.keys) { closeFile(path) }
    }

    private mutating func sync(_ path: String, _ file: File) throws(FileSinkError) {
        while fsync(file.descriptor) != 0 {
            if errno != EINTR { throw .fsync(path, errno) }
        }
        files[path]?.dirty = false
    }

    private mutating func closeFile(_ path: String) {
        guard let file = files.removeValue(forKey: path) else { return }
        _ = close(file.descriptor)
    }

    private mutating func descriptor(for path: String) throws(FileSinkError) -> Int32 {
        if let file = files[path] { return file.descriptor }
        if files.count >= maxOpenFiles, let oldest = files.min(by: { $0.value.lastWrite < $1.value.lastWrite }) {
            if oldest.value.dirty { try sync(oldest.key, oldest.value) }
            closeFile(oldest.key)
        }
        var descriptor = Self.openAppending(path)
        if descriptor < 0, errno == ENOENT {
            try Self.makeParentDirectories(of: path)
            descriptor = Self.openAppending(path)
        }
        guard descriptor >= 0 else { throw .open(path, errno) }
        files[path] = File(descriptor: descriptor, lastWrite: .now, dirty: false)
        return descriptor
    }

    private static func openAppending(_ path: String) -> Int32 {
        while true {
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            if descriptor >= 0 || errno != EINTR { return descriptor }
        }
    }

    private static func makeParentDirectories(of path: String) throws(FileSinkError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path[..<slash].split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0, errno != EEXIST { throw .createDirectory(path, errno) }
            prefix += "/"
        }
    }
}
