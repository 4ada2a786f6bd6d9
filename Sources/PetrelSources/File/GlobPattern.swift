#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An absolute path glob: each component matched with fnmatch(3) (`*`, `?`, `[...]`, never across a `/`), and a
/// component `**` that matches any number of directories, none included.
struct GlobPattern: Sendable, Equatable {
    let text: String
    let components: [String]

    init(_ text: String) {
        self.text = text
        components = text.split(separator: "/").map(String.init)
    }

    /// The directory the pattern's literal leading components name, where a walk starts.
    var root: String {
        let literal = components.prefix { !Self.hasWildcard($0) }
        return "/" + literal.joined(separator: "/")
    }

    /// The components after `root`.
    var wildcardComponents: ArraySlice<String> {
        components.drop { !Self.hasWildcard($0) }
    }

    /// Whether `path` (absolute) matches the whole pattern.
    func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/").map(String.init)
        return Self.matches(components[...], parts[...])
    }

    private static func matches(_ pattern: ArraySlice<String>, _ parts: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return parts.isEmpty }
        if first == "**" {
            var rest = parts
            while true {
                if matches(pattern.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let part = parts.first, matchesComponent(first, part) else { return false }
        return matches(pattern.dropFirst(), parts.dropFirst())
    }

    static func matchesComponent(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }

    static func hasWildcard(_ component: String) -> Bool {
        component.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }
}

/// Finds the files a set of include globs name, minus the excluded ones, and the directories it looked in.
struct GlobWalk: Sendable {
    let include: [GlobPattern]
    let exclude: [GlobPattern]

    /// Regular files (symlinks followed) matching an include glob and no exclude glob, sorted, and every
    /// directory visited on the way (to watch for new entries).
    func run() -> (files: [String], directories: [String]) {
        var files: Set<String> = []
        var directories: Set<String> = []
        for pattern in include {
            walk(pattern.root, pattern.wildcardComponents, &files, &directories)
        }
        let kept = files.filter { path in !exclude.contains { $0.matches(path) } }
        return (kept.sorted(), directories.sorted())
    }

    private func walk(
        _ directory: String, _ rest: ArraySlice<String>, _ files: inout Set<String>, _ directories: inout Set<String>
    ) {
        guard let first = rest.first else {
            if Self.isRegularFile(directory) { files.insert(directory) }
            return
        }
        if first == "**" {
            walk(directory, rest.dropFirst(), &files, &directories)
            guard Self.isDirectory(directory) else { return }
            directories.insert(directory)
            for name in Self.entries(of: directory) {
                let child = Self.join(directory, name)
                if Self.isDirectory(child) { walk(child, rest, &files, &directories) }
            }
            return
        }
        guard Self.isDirectory(directory) else { return }
        directories.insert(directory)
        if !GlobPattern.hasWildcard(first) {
            walk(Self.join(directory, first), rest.dropFirst(), &files, &directories)
            return
        }
        for name in Self.entries(of: directory) where GlobPattern.matchesComponent(first, name) {
            walk(Self.join(directory, name), rest.dropFirst(), &files, &directories)
        }
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func entries(of directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: pointer.pointee)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }
}
