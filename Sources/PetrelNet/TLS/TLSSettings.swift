import NIOSSL
import PetrelCore

/// The oldest TLS version a side accepts, as `min_version` spells it.
public enum TLSMinimumVersion: String, Sendable, CaseIterable {
    case tls12 = "1.2"
    case tls13 = "1.3"

    var nio: TLSVersion {
        switch self {
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }
}

/// `tls:` of a listening component: serve TLS with `crt_file` and `key_file`; with `verify_certificate`, require a
/// client certificate signed by `ca_file` (mutual TLS).
public struct TLSServerSettings: TLSContextSettings {
    public var certificateFile: String
    public var keyFile: String
    public var caFile: String?
    public var verifyCertificate = false
    public var minVersion = TLSMinimumVersion.tls12

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Reads the `tls` section under `reader`, if there is one, and checks that its files load.
    public static func read(_ key: String = "tls", from reader: ConfigReader) -> TLSServerSettings? {
        guard let section = reader.section(key) else { return nil }
        defer { section.finish() }
        let certificate = section.requiredString("crt_file")
        let privateKey = section.requiredString("key_file")
        var settings = TLSServerSettings(certificateFile: certificate ?? "", keyFile: privateKey ?? "")
        settings.caFile = section.string("ca_file")
        settings.verifyCertificate = section.bool("verify_certificate", default: false)
        settings.minVersion = section.choice("min_version", default: settings.minVersion)
        if settings.verifyCertificate && settings.caFile == nil {
            section.error("verify_certificate", "needs ca_file: the CA that signs the client certificates")
        }
        guard certificate != nil, privateKey != nil else { return nil }
        do {
            _ = try settings.makeContext(applicationProtocols: [])
        } catch {
            section.error(error.key, error.message)
            return nil
        }
        return settings
    }

    /// A context for these settings, with the files read now.
    public func makeContext(applicationProtocols: [String]) throws(TLSFileError) -> NIOSSLContext {
        try TLSMaterial.context(try configuration(applicationProtocols: applicationProtocols))
    }

    private func configuration(applicationProtocols: [String]) throws(TLSFileError) -> TLSConfiguration {
        let material = try TLSMaterial.load(certificateFile: certificateFile, keyFile: keyFile, caFile: caFile)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: material.chain.map { .certificate($0) },
            privateKey: .privateKey(material.key!))
        configuration.minimumTLSVersion = minVersion.nio
        configuration.applicationProtocols = applicationProtocols
        if verifyCertificate {
            // A client certificate is required and must chain to ca_file; there is no host name to check it against.
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(material.authorities)
            configuration.sendCANameList = true
        }
        return configuration
    }

    public var files: [String] { [certificateFile, keyFile] + (caFile.map { [$0] } ?? []) }
}

/// `tls:` of a sink: trust `ca_file` (or the system's roots), present `crt_file`/`key_file` as a client certificate.
public struct TLSClientSettings: TLSContextSettings {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    public var verifyCertificate = true
    public var verifyHostname = true
    /// The name sent in SNI and checked against the certificate, instead of the endpoint's host.
    public var serverName: String?
    public var minVersion = TLSMinimumVersion.tls12

    public init() {}

    /// Reads the `tls` section under `reader`; the defaults (verify everything, system roots) when it is absent.
    public static func read(_ key: String = "tls", from reader: ConfigReader) -> TLSClientSettings {
        var settings = TLSClientSettings()
        guard let section = reader.section(key) else { return settings }
        defer { section.finish() }
        settings.caFile = section.string("ca_file")
        settings.certificateFile = section.string("crt_file")
        settings.keyFile = section.string("key_file")
        settings.verifyCertificate = section.bool("verify_certificate", default: true)
        settings.verifyHostname = section.bool("verify_hostname", default: true)
        settings.serverName = section.string("server_name")
        settings.minVersion = section.choice("min_version", default: settings.minVersion)
        if (settings.certificateFile == nil) != (settings.keyFile == nil) {
            section.error(
                settings.certificateFile == nil ? "crt_file" : "key_file",
                "crt_file and key_file go together: a client certificate needs its key")
            return settings
        }
        do {
            _ = try settings.makeContext(applicationProtocols: [])
        } catch {
            section.error(error.key, error.message)
        }
        return settings
    }

    /// A context for these settings, with the files read now.
    public func makeContext(applicationProtocols: [String]) throws(TLSFileError) -> NIOSSLContext {
        try TLSMaterial.context(try configuration(applicationProtocols: applicationProtocols))
    }

    /// The configuration with the files read now, once a context has been built from it (the key fits the
    /// certificate): what the HTTP client hands AsyncHTTPClient.
    func checkedConfiguration(applicationProtocols: [String]) throws(TLSFileError) -> TLSConfiguration {
        let configuration = try configuration(applicationProtocols: applicationProtocols)
        _ = try TLSMaterial.context(configuration)
        return configuration
    }

    private func configuration(applicationProtocols: [String]) throws(TLSFileError) -> TLSConfiguration {
        let material = try TLSMaterial.load(certificateFile: certificateFile, keyFile: keyFile, caFile: caFile)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = minVersion.nio
        configuration.applicationProtocols = applicationProtocols
        if caFile != nil { configuration.trustRoots = .certificates(material.authorities) }
        if let key = material.key {
            configuration.certificateChain = material.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        }
        configuration.certificateVerification =
            !verifyCertificate ? .none : verifyHostname ? .fullVerification : .noHostnameVerification
        return configuration
    }

    public var files: [String] { [caFile, certificateFile, keyFile].compactMap { $0 } }
}

/// A TLS file that cannot be read or parsed, named by its key.
public struct TLSFileError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var message: String

    public var description: String { "\(key): \(message)" }
}

/// Certificates and key read from PEM files.
struct TLSMaterial {
    var chain: [NIOSSLCertificate] = []
    var key: NIOSSLPrivateKey?
    var authorities: [NIOSSLCertificate] = []

    static func load(certificateFile: String?, keyFile: String?, caFile: String?) throws(TLSFileError) -> TLSMaterial {
        var material = TLSMaterial()
        if let certificateFile {
            material.chain = try certificates(certificateFile, key: "crt_file")
        }
        if let keyFile {
            do {
                material.key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
            } catch {
                throw TLSFileError(key: "key_file", message: "cannot read a PEM private key from \(keyFile): \(error)")
            }
        }
        if let caFile {
            material.authorities = try certificates(caFile, key: "ca_file")
        }
        return material
    }

    /// The context; BoringSSL refuses a key that does not belong to the certificate here.
    static func context(_ configuration: TLSConfiguration) throws(TLSFileError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSFileError(key: "key_file", message: "the key and certificate cannot be used together: \(error)")
        }
    }

    private static func certificates(_ path: String, key: String) throws(TLSFileError) -> [NIOSSLCertificate] {
        let loaded: [NIOSSLCertificate]
        do {
            loaded = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw TLSFileError(key: key, message: "cannot read PEM certificates from \(path): \(error)")
        }
        guard !loaded.isEmpty else {
            throw TLSFileError(key: key, message: "\(path) holds no PEM certificate")
        }
        return loaded
    }
}
