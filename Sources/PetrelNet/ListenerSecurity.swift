import Logging
import PetrelCore

/// What every listening component reads alike: `tls` (TLS, mutual TLS) and `auth` (who may send).
public struct ListenerSecurity: Sendable {
    public var tls: TLSServerSettings?
    public var auth: SourceAuthSettings?

    public init(tls: TLSServerSettings? = nil, auth: SourceAuthSettings? = nil) {
        self.tls = tls
        self.auth = auth
    }

    /// Reads `tls` and `auth` under `reader`, checking that their files load.
    public static func read(from reader: ConfigReader) -> ListenerSecurity {
        ListenerSecurity(tls: TLSServerSettings.read(from: reader), auth: SourceAuthSettings.read(from: reader))
    }

    /// The TLS context new connections take, or nil for plain text; `applicationProtocols` go in ALPN.
    public func makeTLS(applicationProtocols: [String], logger: Logger) throws -> ReloadingTLSContext? {
        guard let tls else { return nil }
        return try ReloadingTLSContext(tls, applicationProtocols: applicationProtocols, logger: logger)
    }

    /// The credentials check, or nil when anyone may send.
    public func makeAuthenticator(logger: Logger) -> SourceAuthenticator? {
        auth.map { SourceAuthenticator(settings: $0, logger: logger) }
    }
}
