import Logging
import NIOSSL
import Synchronization

/// A client's TLS configuration that follows its files on disk, for AsyncHTTPClient's per-request `tlsConfiguration`.
///
/// The configuration holds the certificates and key read into memory, so a changed file gives a configuration that
/// differs from the last one: AsyncHTTPClient keys its connection pools by the configuration, so the requests after a
/// change open new connections with the new files while the connections already open keep theirs and close when idle.
/// At most once per `checkInterval` it looks whether a file changed (`FileWatch`); a new file that cannot be read or
/// parsed is logged and the old configuration kept; the next change is tried again.
public final class ReloadingClientTLS: Sendable {
    private struct State {
        var configuration: TLSConfiguration
        var watch: FileWatch
    }

    private let settings: TLSClientSettings
    private let logger: Logger
    private let state: Mutex<State>

    /// Throws when the files cannot be used now.
    public init(_ settings: TLSClientSettings, logger: Logger, checkInterval: Duration = .seconds(1))
        throws(TLSFileError)
    {
        self.settings = settings
        self.logger = logger
        state = Mutex(
            State(
                configuration: try settings.checkedConfiguration(applicationProtocols: ["http/1.1"]),
                watch: FileWatch(settings.files, interval: checkInterval)))
    }

    /// The configuration for the next request, rebuilt first if a file changed.
    public var current: TLSConfiguration {
        state.withLock { state in
            guard state.watch.changed() else { return state.configuration }
            do {
                state.configuration = try settings.checkedConfiguration(applicationProtocols: ["http/1.1"])
                logger.info("TLS files changed; new connections use them", metadata: ["files": "\(settings.files)"])
            } catch {
                logger.error(
                    "TLS files changed but cannot be used; keeping the previous certificate",
                    metadata: ["error": "\(error)"])
            }
            return state.configuration
        }
    }
}
