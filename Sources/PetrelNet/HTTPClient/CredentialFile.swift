import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads secrets from files (bearer tokens, passwords), as Kubernetes mounts them.
public enum CredentialFile {
    /// The file's contents without a trailing newline, or nil when it cannot be read.
    public static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        if ferror(file) != 0 { return nil }
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A secret file that is re-read when it changes on disk, as a projected service-account token rotates.
public final class ReloadingCredentialFile: Sendable {
    private struct State {
        var watch: FileWatch
        var value: String?
    }

    public let path: String
    private let state: Mutex<State>

    /// Reads the file now; looks for a change at most once per `checkInterval`.
    public init(path: String, checkInterval: Duration = .seconds(1)) {
        self.path = path
        state = Mutex(State(watch: FileWatch([path], interval: checkInterval), value: Self.readNonEmpty(path)))
    }

    /// The contents, re-read first if the file changed; a file that became unreadable or empty keeps the previous
    /// value (a rotation swaps it in one step, so that is a moment between two good ones). Nil when never readable.
    public var current: String? {
        state.withLock { state in
            if state.watch.changed(), let value = Self.readNonEmpty(path) { state.value = value }
            return state.value
        }
    }

    /// Reads the file now whatever its stamp says: after a server refused the value, the file may have changed
    /// within the same second.
    public func reload() -> String? {
        state.withLock { state in
            if let value = Self.readNonEmpty(path) { state.value = value }
            return state.value
        }
    }

    private static func readNonEmpty(_ path: String) -> String? {
        guard let value = CredentialFile.read(path), !value.isEmpty else { return nil }
        return value
    }
}
