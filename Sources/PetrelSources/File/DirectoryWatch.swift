#if canImport(Glibc)
import Glibc
#endif

/// Tells the tailer at once that entries appeared in or left the directories it tails, or that files in them
/// grew, through inotify; the periodic scan stays as the backstop (and the only way where inotify is missing).
final class DirectoryWatch {
    /// What the events since the last look were about.
    struct Changes: Equatable {
        /// Entries were created, moved or deleted: scan again.
        var entries = false
        /// A file was written to: read again.
        var data = false
    }

    #if canImport(Glibc)
    private let descriptor: Int32
    private var watched: Set<String> = []
    private var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    private let mask: UInt32

    /// `dataChanges`: also report writes to files (the tailer reads on them); without, only entries.
    init(dataChanges: Bool = true) {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        mask = UInt32(
            IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | (dataChanges ? IN_MODIFY : 0))
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Adds watches on directories not yet watched; watches of directories that went away end by themselves.
    func watch(_ directories: [String]) {
        guard descriptor >= 0 else { return }
        for directory in directories where !watched.contains(directory) {
            if inotify_add_watch(descriptor, directory, mask) >= 0 { watched.insert(directory) }
        }
    }

    /// Reads every pending event without waiting.
    func changes() -> Changes {
        var changes = Changes()
        guard descriptor >= 0 else { return changes }
        var directoryGone = false
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            var offset = 0
            buffer.withUnsafeBytes { bytes in
                while offset + 16 <= count {
                    let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let nameLength = bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)
                    if mask & UInt32(IN_MODIFY) != 0 { changes.data = true }
                    if mask & ~UInt32(IN_MODIFY) != 0 { changes.entries = true }
                    if mask & UInt32(IN_IGNORED) != 0 {
                        // The directory went: forget it, so that a directory made again under its name is watched.
                        directoryGone = true
                    }
                    offset += 16 + Int(nameLength)
                }
            }
        }
        if directoryGone { watched.removeAll() }
        return changes
    }
    #else
    init(dataChanges: Bool = true) {}
    func watch(_ directories: [String]) {}
    func changes() -> Changes { Changes() }
    #endif
}
