import Foundation
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Testing

@testable import PetrelSources

/// `kubernetes_api:` read through the config reader: in-cluster defaults from the environment, and located errors.
@Suite struct KubernetesAPIConfigTests {
    /// A temp dir with a token and the CA of `certificates`.
    private final class Files {
        let certificates: TestCertificates
        let token: String
        let ca: String

        init() throws {
            certificates = try TestCertificates()
            token = certificates.path("token")
            try "eyJhbGciOiJSUzI1NiJ9.token\n".write(toFile: token, atomically: true, encoding: .utf8)
            ca = certificates.path("ca.crt")
        }
    }

    private func read(
        _ section: ComponentConfigValue?, environment: [String: String]
    ) -> (config: KubernetesAPIConfig?, errors: [String]) {
        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let node = section.map { componentConfig(["kubernetes_api": $0]) } ?? componentConfig([:])
        let reader = ConfigReader(node: node, path: "sources.pods", diagnostics: diagnostics)
        let config = KubernetesAPIConfig.read(from: reader, environment: environment)
        reader.finish()
        return (config, diagnostics.errors.map(\.description))
    }

    @Test func inAClusterTheServiceAddressAndNodeComeFromTheEnvironment() throws {
        let files = try Files()
        let (config, errors) = read(
            ["token_file": .scalar(files.token), "ca_file": .scalar(files.ca)],
            environment: [
                "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "NODE_NAME": "node-a",
            ])
        #expect(errors == [])
        let parsed = try #require(config)
        #expect(parsed.endpoint == HTTPEndpoint(host: "10.96.0.1", port: 443, target: "/", usesTLS: true))
        #expect(parsed.nodeName == "node-a")
        #expect(parsed.tokenFile == files.token)
        #expect(parsed.caFile == files.ca)
        #expect(parsed.watchTimeout == .seconds(300))
        #expect(parsed.nodeLabelsRefresh == .seconds(600))
    }

    @Test func everyKeyCanBeSet() throws {
        let files = try Files()
        let (config, errors) = read(
            [
                "enabled": true, "endpoint": "https://127.0.0.1:6443", "token_file": .scalar(files.token),
                "ca_file": .scalar(files.ca), "node_name": "worker-7", "watch_timeout": "2m",
                "node_labels_refresh": "1h", "request_timeout": "10s",
            ], environment: [:])
        #expect(errors == [])
        let parsed = try #require(config)
        #expect(parsed.endpoint.description == "https://127.0.0.1:6443/")
        #expect(parsed.nodeName == "worker-7")
        #expect(parsed.watchTimeout == .seconds(120))
        #expect(parsed.nodeLabelsRefresh == .seconds(3600))
        #expect(parsed.requestTimeout == .seconds(10))
    }

    @Test func outsideAClusterItIsOffUnlessEnabled() {
        let (config, errors) = read(nil, environment: [:])
        #expect(config == nil)
        #expect(errors == [])
        // Switched off, its other keys are still known keys.
        let off = read(
            ["enabled": false, "endpoint": "https://k8s:6443"], environment: ["KUBERNETES_SERVICE_HOST": "x"])
        #expect(off.config == nil)
        #expect(off.errors == [])
    }

    @Test func errorsNameTheKey() throws {
        let files = try Files()
        let missing = read(["enabled": true, "token_file": "/nonexistent/token"], environment: [:])
        #expect(missing.config == nil)
        #expect(
            missing.errors == [
                "petrel.yaml: sources.pods.kubernetes_api.endpoint: is required outside a cluster (KUBERNETES_SERVICE_HOST is not set)",
                "petrel.yaml: sources.pods.kubernetes_api.node_name: is required: set it, or NODE_NAME from the downward API (fieldRef spec.nodeName)",
                "petrel.yaml: sources.pods.kubernetes_api.token_file: cannot read /nonexistent/token",
            ])
        let bad = read(
            [
                "endpoint": "https://k8s:6443/api", "token_file": .scalar(files.token),
                "ca_file": "/nonexistent/ca.crt",
                "node_name": "n", "watch_timeout": "500ms", "tokn_file": "x",
            ], environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1"])
        #expect(bad.config == nil)
        #expect(
            bad.errors.contains(
                "petrel.yaml: sources.pods.kubernetes_api.endpoint: give the API server's base URL, without a path"))
        #expect(bad.errors.contains("petrel.yaml: sources.pods.kubernetes_api.watch_timeout: must be at least 1s"))
        #expect(bad.errors.contains { $0.hasPrefix("petrel.yaml: sources.pods.kubernetes_api.tokn_file: unknown key") })
        // The in-cluster defaults that cannot be used are reported on the section's key.
        let defaults = read(nil, environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "NODE_NAME": "n"])
        #expect(defaults.config == nil)
        #expect(
            defaults.errors.first
                == "petrel.yaml: sources.pods.kubernetes_api: token_file cannot read /var/run/secrets/kubernetes.io/serviceaccount/token"
        )
    }

    @Test func theCAFileMustHoldACertificate() throws {
        let files = try Files()
        let (config, errors) = read(
            [
                "enabled": true, "endpoint": "https://127.0.0.1:6443", "token_file": .scalar(files.token),
                "ca_file": .scalar(files.token), "node_name": "n",
            ],
            environment: [:])
        #expect(config == nil)
        #expect(errors.count == 1)
        #expect(
            errors.first?.hasPrefix(
                "petrel.yaml: sources.pods.kubernetes_api.ca_file: cannot read PEM certificates from") == true)
    }
}
