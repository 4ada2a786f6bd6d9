/// A file a discovery found, and the logical stream it belongs to.
///
/// The files of one stream are one sequence of lines (a log file and the files it was rotated into): the tailer
/// reads them oldest first, never a newer one while an older one has unread bytes, and hands their lines to one
/// decoder, so a record may be merged from pieces in two files.
struct DiscoveredFile: Sendable, Equatable {
    var path: String
    /// The stream of a file first seen now; a file already open stays in the stream it was opened in.
    var stream: String
    /// Sorts the files of a stream found in the same scan, oldest first (rotated files before the live one).
    var order: String
    /// A rotated file the kubelet gzipped: read only when a checkpoint says it holds unread lines.
    var isCompressed = false
    /// Where this rotated file is once gzipped; nil for a file nothing compresses.
    var gzipPath: String? = nil

    /// The file gzipped, when it may be: what to look for if it is gone by the time the tailer opens it.
    var gzipped: DiscoveredFile? {
        gzipPath.map { DiscoveredFile(path: $0, stream: stream, order: order, isCompressed: true) }
    }
}

/// Where a tailer finds its files: the `file` source's globs, `kubernetes_logs`' pod directories.
protocol FileDiscovery: Sendable {
    /// The files present now, and the directories to watch for new ones.
    func scan() -> (files: [DiscoveredFile], directories: [String])
}

/// The `file` source's discovery: include and exclude globs; every file is its own stream, named by its path.
struct GlobDiscovery: FileDiscovery {
    let walk: GlobWalk

    init(include: [String], exclude: [String]) {
        walk = GlobWalk(include: include.map(GlobPattern.init), exclude: exclude.map(GlobPattern.init))
    }

    func scan() -> (files: [DiscoveredFile], directories: [String]) {
        let (paths, directories) = walk.run()
        return (paths.map { DiscoveredFile(path: $0, stream: $0, order: $0) }, directories)
    }
}
