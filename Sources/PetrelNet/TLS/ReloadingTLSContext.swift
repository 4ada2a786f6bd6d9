import Logging
import NIOCore
import NIOSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TLS context that follows its files on disk, as cert-manager and Kubernetes secret mounts rotate them.
///
/// Each new connection takes `current`; at most once per `checkInterval` it looks at the files' identity (device,
/// inode, size, modification time — a secret mount swaps a symlink, so the inode changes) and, when one changed,
/// builds a new context. Open connections keep the context they started with. A new file that cannot be read or
/// parsed is logged and the old context kept; the next change is tried again.
public final class ReloadingTLSContext: Sendable {
    private struct State {
        var context: NIOSSLContext
        var stamps: [FileStamp?]
        var checkedAt: ContinuousClock.Instant
    }

    private let files: [String]
    private let make: @Sendable () throws(TLSFileError) -> NIOSSLContext
    private let logger: Logger
    private let checkInterval: Duration
    private let state: Mutex<State>

    init(
        files: [String], logger: Logger, checkInterval: Duration,
        make: @escaping @Sendable () throws(TLSFileError) -> NIOSSLContext
    ) throws(TLSFileError) {
        self.files = files
        self.make = make
        self.logger = logger
        self.checkInterval = checkInterval
        let stamps = files.map(FileStamp.init(path:))
        state = Mutex(State(context: try make(), stamps: stamps, checkedAt: .now))
    }

    /// A server context: `applicationProtocols` are offered in ALPN (`h2` for gRPC, `http/1.1` for HTTP/1.1).
    public static func server(
        _ settings: TLSServerSettings, applicationProtocols: [String], logger: Logger,
        checkInterval: Duration = .seconds(1)
    ) throws(TLSFileError) -> ReloadingTLSContext {
        try ReloadingTLSContext(files: settings.files, logger: logger, checkInterval: checkInterval) {
            () throws(TLSFileError) in try settings.makeContext(applicationProtocols: applicationProtocols)
        }
    }

    /// A client context for `https://` endpoints or gRPC with TLS.
    public static func client(
        _ settings: TLSClientSettings, applicationProtocols: [String], logger: Logger,
        checkInterval: Duration = .seconds(1)
    ) throws(TLSFileError) -> ReloadingTLSContext {
        try ReloadingTLSContext(files: settings.files, logger: logger, checkInterval: checkInterval) {
            () throws(TLSFileError) in try settings.makeContext(applicationProtocols: applicationProtocols)
        }
    }

    /// The context for a new connection, rebuilt first if a file changed.
    public var current: NIOSSLContext {
        state.withLock { state in
            let now = ContinuousClock.now
            guard now - state.checkedAt >= checkInterval else { return state.context }
            state.checkedAt = now
            let stamps = files.map(FileStamp.init(path:))
            guard stamps != state.stamps else { return state.context }
            state.stamps = stamps
            do {
                state.context = try make()
                logger.info("TLS files changed; new connections use them", metadata: ["files": "\(files)"])
            } catch {
                logger.error(
                    "TLS files changed but cannot be used; keeping the previous certificate",
                    metadata: ["error": "\(error)"])
            }
            return state.context
        }
    }

    /// A handler that serves TLS on an accepted connection.
    public func makeServerHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: current)
    }

    /// A handler that speaks TLS to a server; `serverName` goes in SNI and is checked against its certificate
    /// (an IP address is checked against the certificate's IP addresses and not sent in SNI).
    public func makeClientHandler(serverName: String) throws -> NIOSSLClientHandler {
        let isAddress = (try? SocketAddress(ipAddress: serverName, port: 0)) != nil
        return try NIOSSLClientHandler(context: current, serverHostname: isAddress ? nil : serverName)
    }
}

/// What identifies a file's contents without reading it.
struct FileStamp: Equatable {
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
