#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The pod and container a log stream belongs to, read from its path
/// `<pods_root>/<namespace>_<pod>_<uid>/<container>/<restart count>.log`.
struct PodLogPath: Sendable, Equatable {
    var namespace: String
    var pod: String
    var uid: String
    var container: String
    var restartCount: Int

    /// The parts of a stream's path; nil when it is not laid out as the kubelet lays it out.
    init?(stream: String) {
        let components = stream.split(separator: "/")
        guard components.count >= 3, let directory = PodDirectory(name: components[components.count - 3]),
            let file = PodLogFileName(components[components.count - 1]), file.rotation == nil
        else { return nil }
        namespace = directory.namespace
        pod = directory.pod
        uid = directory.uid
        container = String(components[components.count - 2])
        restartCount = file.restartCount
    }
}

/// A pod's log directory name, `<namespace>_<pod>_<uid>`: namespaces and pod names are DNS names, without `_`.
struct PodDirectory: Sendable, Equatable {
    var namespace: String
    var pod: String
    var uid: String

    init?(name: some StringProtocol) {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        namespace = String(parts[0])
        pod = String(parts[1])
        uid = String(parts[2])
    }
}

/// A container log file name: the live `<n>.log`, `<n>.log.<YYYYMMDD-hhmmss>` the kubelet rotated it into, or
/// that file gzipped (`.gz`). The kubelet's half-written (`.tmp`) files are not log files.
struct PodLogFileName: Sendable, Equatable {
    var restartCount: Int
    /// The rotated file's suffix (a timestamp); nil for the live file.
    var rotation: String?
    var isCompressed = false

    init?(_ name: some StringProtocol) {
        let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[1] == "log", !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigitCharacter),
            let count = Int(parts[0])
        else { return nil }
        restartCount = count
        guard parts.count == 3 else { return }
        let suffix = parts[2]
        guard !suffix.isEmpty, !suffix.hasSuffix(".tmp") else { return nil }
        isCompressed = suffix.hasSuffix(".gz")
        rotation = String(isCompressed ? suffix.dropLast(3) : suffix)
        guard rotation?.isEmpty == false else { return nil }
    }
}

/// `kubernetes_logs`' discovery: the container log files under `pods_root`, one stream per container and restart
/// (`<pod dir>/<container>/<n>.log`), the rotated files before the live one.
///
/// Namespace and container rules apply here, from the path; pod label rules need the pod's metadata and apply to
/// records (`ContainerLineDecoder`).
struct PodLogDiscovery: FileDiscovery {
    let podsRoot: String
    let include: PodLogRules
    let exclude: PodLogRules

    func scan() -> (files: [DiscoveredFile], directories: [String]) {
        var directories = [podsRoot]
        var files: [DiscoveredFile] = []
        for podName in GlobWalk.entries(of: podsRoot).sorted() {
            guard let pod = PodDirectory(name: podName), admits(namespace: pod.namespace) else { continue }
            let podPath = Self.join(podsRoot, podName)
            guard Self.isDirectory(podPath) else { continue }
            directories.append(podPath)
            for container in GlobWalk.entries(of: podPath).sorted() where admits(container: container) {
                let containerPath = podPath + "/" + container
                guard Self.isDirectory(containerPath) else { continue }
                directories.append(containerPath)
                let names = GlobWalk.entries(of: containerPath).sorted()
                let present = Set(names)
                for name in names {
                    guard let file = PodLogFileName(name) else { continue }
                    // Being compressed: the plain file is still there, and the one to read.
                    if file.isCompressed && present.contains(String(name.dropLast(3))) { continue }
                    let path = containerPath + "/" + name
                    guard Self.isRegularFile(path) else { continue }
                    files.append(
                        DiscoveredFile(
                            path: path, stream: containerPath + "/\(file.restartCount).log",
                            order: file.rotation.map { "0." + $0 } ?? "1", isCompressed: file.isCompressed,
                            gzipPath: file.rotation != nil && !file.isCompressed ? path + ".gz" : nil))
                }
            }
        }
        return (files, directories)
    }

    private func admits(namespace: String) -> Bool {
        (include.namespaces.isEmpty || include.namespaces.contains(namespace))
            && !exclude.namespaces.contains(namespace)
    }

    private func admits(container: String) -> Bool {
        (include.containers.isEmpty || include.containers.contains(container))
            && !exclude.containers.contains(container)
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
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

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
