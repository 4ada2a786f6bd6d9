import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens files as soon as they appear, on a task of its own, and hands the descriptors to the tailer's next scan.
///
/// The tailer looks for new files between read rounds, and a round can wait a long time for room downstream; a pod
/// that lives 200 ms and whose directory the kubelet removes a second later would be gone by then. An open
/// descriptor keeps a deleted file's contents readable, so the tailer reads all of it whenever it gets to it.
final class FileOpener<Discovery: FileDiscovery>: Sendable {
    /// A file opened early, waiting for the tailer.
    struct Opened: Sendable {
        let file: DiscoveredFile
        let descriptor: Int32
        let key: [UInt64]
    }

    /// At most this many descriptors wait for the tailer; past it, new files wait for the tailer's own scan.
    static var maxWaiting: Int { 1024 }

    private let discovery: Discovery
    private let waiting = Mutex<[Opened]>([])

    init(discovery: Discovery) {
        self.discovery = discovery
    }

    deinit {
        for opened in waiting.withLock({ $0 }) { close(opened.descriptor) }
    }

    /// The files opened since the last call; the caller owns their descriptors.
    func take() -> [Opened] {
        waiting.withLock { waiting in
            defer { waiting = [] }
            return waiting
        }
    }

    /// Watches until cancelled. Files present when it starts are left to the tailer's first scan (which follows).
    func run(every interval: Duration = .milliseconds(20)) async {
        let watch = DirectoryWatch(dataChanges: false)
        let (present, directories) = discovery.scan()
        watch.watch(directories)
        var known = Set(present.compactMap { Self.key(of: $0.path) })
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard watch.changes().entries else { continue }
            let (found, directories) = discovery.scan()
            watch.watch(directories)
            var seen: Set<[UInt64]> = []
            for file in found where !file.isCompressed {
                guard let key = Self.key(of: file.path) else { continue }
                seen.insert(key)
                guard !known.contains(key) else { continue }
                guard waiting.withLock({ $0.count }) < Self.maxWaiting else { continue }
                let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { continue }
                var info = stat()
                // Replaced between the look and the open: the tailer's own scan takes the new one.
                guard fstat(descriptor, &info) == 0, [UInt64(info.st_dev), UInt64(info.st_ino)] == key else {
                    close(descriptor)
                    continue
                }
                known.insert(key)
                waiting.withLock { $0.append(Opened(file: file, descriptor: descriptor, key: key)) }
            }
            // A key gone from the directories may come back as another file (inode reuse).
            known.formIntersection(seen)
        }
    }

    private static func key(of path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }
}
