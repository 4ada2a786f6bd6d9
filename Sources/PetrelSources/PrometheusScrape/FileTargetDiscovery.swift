import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `file_sd_configs`: target groups read from YAML or JSON files, whose names may end in a glob.
///
/// Files are read again whenever their bytes change (looked at every `checkInterval`, which a stat and a small
/// read make cheap) and at least every `refresh_interval`; a file that cannot be parsed keeps its last good groups,
/// as Prometheus keeps them.
struct FileTargetDiscovery: Sendable {
    let config: ScrapeJobConfig.FileDiscovery
    /// Last bytes and groups by path.
    private var files: [String: (bytes: [UInt8], groups: [TargetGroup])] = [:]

    init(_ config: ScrapeJobConfig.FileDiscovery) {
        self.config = config
    }

    /// The groups of every file now; `changed` when any file's bytes differ from the last look. Problems are
    /// returned as messages for the log.
    mutating func refresh() -> (groups: [TargetGroup], changed: Bool, problems: [String]) {
        var problems: [String] = []
        var changed = false
        var seen: Set<String> = []
        for pattern in config.files {
            for path in Self.expand(pattern) {
                seen.insert(path)
                guard let bytes = Self.readFile(path) else {
                    problems.append("cannot read \(path)")
                    continue
                }
                if let known = files[path], known.bytes == bytes { continue }
                changed = true
                do {
                    files[path] = (bytes, try Self.parse(bytes, path: path))
                } catch {
                    problems.append("cannot parse \(path): \(error)")
                    files[path] = (bytes, files[path]?.groups ?? [])
                }
            }
        }
        for path in files.keys where !seen.contains(path) {
            files[path] = nil
            changed = true
        }
        let groups = files.keys.sorted().flatMap { files[$0]!.groups }
        return (groups, changed, problems)
    }

    /// A file's groups: `[{targets: [...], labels: {...}}]`, each target also labelled `__meta_filepath`.
    static func parse(_ bytes: [UInt8], path: String) throws -> [TargetGroup] {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let loaded = try Yams.load(yaml: text) else { return [] }
        guard let list = loaded as? [Any] else { throw FileTargetDiscoveryError("expected a list of target groups") }
        var groups: [TargetGroup] = []
        for (index, item) in list.enumerated() {
            guard let group = item as? [String: Any] else {
                throw FileTargetDiscoveryError("group \(index): expected a mapping")
            }
            for key in group.keys where key != "targets" && key != "labels" {
                throw FileTargetDiscoveryError("group \(index): unknown key \"\(key)\"")
            }
            let targets = (group["targets"] as? [Any] ?? []).map { "\($0)" }
            var labels: [String: String] = ["__meta_filepath": path]
            for (name, value) in group["labels"] as? [String: Any] ?? [:] {
                labels[name] = "\(value)"
            }
            groups.append(
                TargetGroup(
                    targets: targets.map { ["__address__": $0] }, labels: labels))
        }
        return groups
    }

    /// The files a pattern names; a glob only in the last path element, as Prometheus allows.
    static func expand(_ pattern: String) -> [String] {
        guard pattern.contains(where: { "*?[".contains($0) }) else { return [pattern] }
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in
            result.gl_pathv[index].map { String(cString: $0) }
        }.sorted()
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }
}

/// A target file that is not a list of target groups.
struct FileTargetDiscoveryError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
