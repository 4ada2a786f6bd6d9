import Foundation
import Logging
import PetrelTestSupport
import Testing

@testable import PetrelNet

@Suite struct SourceAuthenticatorTests {
    private func secretFile(_ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-secret-\(UUID().uuidString)")
            .path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func bearerTokensMatchExactlyAndTheSchemeIgnoresCase() throws {
        var settings = SourceAuthSettings(strategy: .bearer)
        settings.tokenFile = try secretFile("t0ken\n")
        defer { try? FileManager.default.removeItem(atPath: settings.tokenFile!) }
        let authenticator = SourceAuthenticator(settings: settings, logger: Logger(label: "test"))
        #expect(authenticator.authorizes("Bearer t0ken"))
        #expect(authenticator.authorizes("bearer t0ken"))
        #expect(!authenticator.authorizes("Bearer t0ke"))
        #expect(!authenticator.authorizes("Bearer t0ken2"))
        #expect(!authenticator.authorizes("Basic t0ken"))
        #expect(!authenticator.authorizes("t0ken"))
        #expect(!authenticator.authorizes(nil))
    }

    @Test func basicCredentialsAreUserAndPasswordInBase64() throws {
        var settings = SourceAuthSettings(strategy: .basic)
        settings.username = "agent"
        settings.passwordFile = try secretFile("pa:ss")
        defer { try? FileManager.default.removeItem(atPath: settings.passwordFile!) }
        let authenticator = SourceAuthenticator(settings: settings, logger: Logger(label: "test"))
        // base64("agent:pa:ss")
        #expect(authenticator.authorizes("Basic YWdlbnQ6cGE6c3M="))
        #expect(!authenticator.authorizes("Basic YWdlbnQ6cGE6c3Q="))
        #expect(!authenticator.authorizes("Bearer YWdlbnQ6cGE6c3M="))
    }

    @Test func anUnreadableFileRefusesEveryone() {
        var settings = SourceAuthSettings(strategy: .bearer)
        settings.tokenFile = "/nonexistent/token"
        let authenticator = SourceAuthenticator(settings: settings, logger: Logger(label: "test"))
        #expect(!authenticator.authorizes("Bearer "))
        #expect(!authenticator.authorizes("Bearer anything"))
    }

    @Test func comparisonLooksAtEveryByte() {
        let expected = Array("abcdef".utf8)
        #expect(SourceAuthenticator.constantTimeEquals(ArraySlice(expected), expected))
        #expect(!SourceAuthenticator.constantTimeEquals(ArraySlice(Array("abcdeg".utf8)), expected))
        #expect(!SourceAuthenticator.constantTimeEquals(ArraySlice(Array("abcde".utf8)), expected))
        #expect(!SourceAuthenticator.constantTimeEquals(ArraySlice(Array("abcdefabcdef".utf8)), expected))
        #expect(!SourceAuthenticator.constantTimeEquals([], expected))
    }
}

@Suite struct HTTPEndpointTests {
    @Test func httpsEndpointsDefaultToPort443AndSayTheirScheme() throws {
        let endpoint = try HTTPEndpoint.parse("https://vminsert.monitoring/insert/0/prometheus/api/v1/write").get()
        #expect(endpoint.usesTLS)
        #expect(endpoint.port == 443)
        #expect(endpoint.hostHeader == "vminsert.monitoring")
        #expect(endpoint.description == "https://vminsert.monitoring:443/insert/0/prometheus/api/v1/write")
        let plain = try HTTPEndpoint.parse("http://vm:8428/api/v1/write").get()
        #expect(!plain.usesTLS)
        #expect(plain.hostHeader == "vm:8428")
    }
}

@Suite struct ReloadingTLSContextTests {
    @Test func changedFilesAreReadAndBrokenOnesKeepThePreviousContext() throws {
        let certificates = try TestCertificates()
        let first = try certificates.issue("first", commonName: "first")
        let second = try certificates.issue("second", commonName: "second")
        let crt = certificates.path("served.crt")
        let key = certificates.path("served.key")
        try FileManager.default.copyItem(atPath: first.crt, toPath: crt)
        try FileManager.default.copyItem(atPath: first.key, toPath: key)
        let context = try ReloadingTLSContext(
            TLSServerSettings(certificateFile: crt, keyFile: key), applicationProtocols: [], logger: Logger(label: "t"),
            checkInterval: .zero)
        let original = context.current
        #expect(context.current === original, "unchanged files keep the context")

        try FileManager.default.removeItem(atPath: crt)
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.copyItem(atPath: second.crt, toPath: crt)
        try FileManager.default.copyItem(atPath: second.key, toPath: key)
        let rotated = context.current
        #expect(rotated !== original)

        try FileManager.default.removeItem(atPath: crt)
        try "garbage".write(toFile: crt, atomically: true, encoding: .utf8)
        #expect(context.current === rotated, "a broken file keeps the context in use")
    }

    @Test func missingOrMismatchedFilesAreErrorsNamingTheKey() throws {
        let certificates = try TestCertificates()
        let one = try certificates.issue("one", commonName: "one")
        let two = try certificates.issue("two", commonName: "two")
        #expect(throws: TLSFileError.self) {
            _ = try ReloadingTLSContext(
                TLSServerSettings(certificateFile: "/nonexistent.crt", keyFile: one.key), applicationProtocols: [],
                logger: Logger(label: "t"))
        }
        do {
            _ = try ReloadingTLSContext(
                TLSServerSettings(certificateFile: one.crt, keyFile: two.key), applicationProtocols: [],
                logger: Logger(label: "t"))
            Issue.record("a key of another certificate was accepted")
        } catch {
            #expect(error.key == "key_file")
        }
    }
}
