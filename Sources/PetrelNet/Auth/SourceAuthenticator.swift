import Logging
import PetrelCodecs
import PetrelCore
import Synchronization

/// `auth:` of a listening component: who may send.
public struct SourceAuthSettings: Sendable {
    /// How a sender proves itself, in the `Authorization` header (gRPC: `authorization` metadata).
    public enum Strategy: String, Sendable, CaseIterable {
        /// `Bearer <token>`, the token read from `token_file`.
        case bearer
        /// `Basic base64(username:password)`, the password read from `password_file`.
        case basic
    }

    public var strategy: Strategy
    public var tokenFile: String?
    public var username: String?
    public var passwordFile: String?

    public init(strategy: Strategy) {
        self.strategy = strategy
    }

    /// Reads the `auth` section under `reader`, if there is one, and checks that its file can be read.
    public static func read(_ key: String = "auth", from reader: ConfigReader) -> SourceAuthSettings? {
        guard let section = reader.section(key) else { return nil }
        defer { section.finish() }
        guard section.contains("strategy") else {
            _ = section.requiredString("strategy")
            return nil
        }
        var settings = SourceAuthSettings(strategy: section.choice("strategy", default: .bearer))
        let fileKey: String
        switch settings.strategy {
        case .bearer:
            settings.tokenFile = section.requiredString("token_file")
            fileKey = "token_file"
        case .basic:
            settings.username = section.requiredString("username")
            settings.passwordFile = section.requiredString("password_file")
            fileKey = "password_file"
        }
        guard let file = settings.tokenFile ?? settings.passwordFile,
            settings.strategy == .bearer || settings.username != nil
        else { return nil }
        guard let secret = CredentialFile.read(file) else {
            section.error(fileKey, "cannot read \(file)")
            return nil
        }
        if secret.isEmpty { section.error(fileKey, "\(file) is empty") }
        return settings
    }

    var file: String { tokenFile ?? passwordFile ?? "" }

    /// The `Authorization` credentials (after the scheme) a sender must present, given the file's contents.
    func credentials(secret: String) -> [UInt8] {
        switch strategy {
        case .bearer: Array(secret.utf8)
        case .basic: Array(Base64.encode(Array("\(username ?? ""):\(secret)".utf8)).utf8)
        }
    }
}

/// Checks `Authorization` values against the configured credentials, in constant time, re-reading the secret file
/// (at most once a second) when it changes on disk.
public final class SourceAuthenticator: Sendable {
    private struct State {
        var expected: [UInt8]
        var watch: FileWatch
    }

    public let settings: SourceAuthSettings
    private let logger: Logger
    private let state: Mutex<State>

    public init(settings: SourceAuthSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        let secret = CredentialFile.read(settings.file)
        if secret == nil {
            logger.error(
                "cannot read the credentials file; refusing every request", metadata: ["file": "\(settings.file)"])
        }
        state = Mutex(
            State(
                expected: secret.map(settings.credentials(secret:)) ?? [],
                watch: FileWatch([settings.file], interval: .seconds(1))))
    }

    /// The scheme a sender must use, as `WWW-Authenticate` names it.
    public var scheme: String { settings.strategy == .bearer ? "Bearer" : "Basic" }

    /// Whether an `Authorization` value carries the configured credentials.
    public func authorizes(_ authorization: String?) -> Bool {
        guard let authorization else { return false }
        let value = Array(authorization.utf8)
        guard let space = value.firstIndex(of: UInt8(ascii: " ")),
            String(decoding: value[..<space], as: UTF8.self).lowercased() == scheme.lowercased()
        else { return false }
        var start = space
        while start < value.count, value[start] == UInt8(ascii: " ") { start += 1 }
        let expected = currentCredentials()
        return !expected.isEmpty && Self.constantTimeEquals(value[start...], expected)
    }

    private func currentCredentials() -> [UInt8] {
        state.withLock { state in
            guard state.watch.changed() else { return state.expected }
            if let secret = CredentialFile.read(settings.file), !secret.isEmpty {
                state.expected = settings.credentials(secret: secret)
                logger.info("credentials file changed; using it", metadata: ["file": "\(settings.file)"])
            } else {
                logger.error(
                    "credentials file changed but cannot be read; keeping the previous credentials",
                    metadata: ["file": "\(settings.file)"])
            }
            return state.expected
        }
    }

    /// Compares every byte whatever the first difference, so the time taken tells nothing about the secret.
    static func constantTimeEquals(_ given: ArraySlice<UInt8>, _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = given.count == expected.count ? 0 : 1
        var index = given.startIndex
        for byte in expected {
            let other = index < given.endIndex ? given[index] : ~byte
            difference |= other ^ byte
            index += 1
        }
        return difference == 0
    }
}
