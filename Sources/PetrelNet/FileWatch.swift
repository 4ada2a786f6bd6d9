#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tells when files changed on disk, looking at most once per `interval`, as cert-manager and Kubernetes secret
/// mounts rotate them.
///
/// A file is known by its device, inode, size and modification time, read with `stat`: a secret mount swaps a
/// symlink (a new inode), cert-manager rewrites in place (a new time and size); both are seen without reading.
public struct FileWatch {
    private let paths: [String]
    private let interval: Duration
    private var stamps: [FileStamp?]
    private var checkedAt: ContinuousClock.Instant

    public init(_ paths: [String], interval: Duration) {
        self.paths = paths
        self.interval = interval
        stamps = paths.map(FileStamp.init(path:))
        checkedAt = .now
    }

    /// Whether a file changed since the last look; looks only if `interval` has passed since then.
    public mutating func changed() -> Bool {
        let now = ContinuousClock.now
        guard now - checkedAt >= interval else { return false }
        checkedAt = now
        let current = paths.map(FileStamp.init(path:))
        guard current != stamps else { return false }
        stamps = current
        return true
    }
}

/// What identifies a file's contents without reading it.
private struct FileStamp: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var modifiedNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
    }
}
