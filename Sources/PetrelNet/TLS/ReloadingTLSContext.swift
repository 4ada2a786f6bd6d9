import Logging
import NIOCore
import NIOSSL
import Synchronization

/// TLS settings that can build a context from their files: a listener's or a sink's `tls`.
public protocol TLSContextSettings: Sendable {
    /// The files the context is built from, watched for changes.
    var files: [String] { get }
    /// A context with the files read now; `applicationProtocols` are offered in ALPN.
    func makeContext(applicationProtocols: [String]) throws(TLSFileError) -> NIOSSLContext
}

/// A TLS context that follows its files on disk, as cert-manager and Kubernetes secret mounts rotate them.
///
/// Each new connection takes `current`; at most once per `checkInterval` it looks whether a file changed (`FileWatch`)
/// and, when one did, builds a new context. Open connections keep the context they started with. A new file that
/// cannot be read or parsed is logged and the old context kept; the next change is tried again.
public final class ReloadingTLSContext: Sendable {
    private struct State {
        var context: NIOSSLContext
        var watch: FileWatch
    }

    private let make: @Sendable () throws(TLSFileError) -> NIOSSLContext
    private let files: [String]
    private let logger: Logger
    private let state: Mutex<State>

    /// A context for `settings` (a server's or a client's); `applicationProtocols` are offered in ALPN (`h2` for
    /// gRPC, `http/1.1` for HTTP/1.1). Throws when the files cannot be used now.
    public init(
        _ settings: some TLSContextSettings, applicationProtocols: [String], logger: Logger,
        checkInterval: Duration = .seconds(1)
    ) throws(TLSFileError) {
        make = { () throws(TLSFileError) in try settings.makeContext(applicationProtocols: applicationProtocols) }
        files = settings.files
        self.logger = logger
        state = Mutex(
            State(context: try make(), watch: FileWatch(settings.files, interval: checkInterval)))
    }

    /// The context for a new connection, rebuilt first if a file changed.
    public var current: NIOSSLContext {
        state.withLock { state in
            guard state.watch.changed() else { return state.context }
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
