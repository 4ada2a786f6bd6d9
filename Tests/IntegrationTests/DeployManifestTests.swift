import Foundation
import PetrelTestSupport
import Testing

/// The manifests in `deploy/kubernetes`, checked as a platform team checks them before applying: every overlay
/// renders with `kubectl kustomize`, every object validates against the Kubernetes 1.30 schemas
/// (`kubernetes-validate`), `checkov` finds nothing but the checks the manifests skip with a reason, and the real
/// `petrel validate` accepts every configuration the ConfigMaps hold, with the environment the pods get.
/// `make test-deps` puts kubernetes-validate and checkov in `.venv-deploy`; kubectl is on these machines.
@Suite struct DeployManifestTests {
    static let packageRoot = PetrelProcess.packageRoot
    static let overlays = ["eks", "aks", "gke"]
    static let kubectl = try? findExecutable("kubectl")
    static let kubernetesValidate = venvTool("kubernetes-validate")
    static let checkov = venvTool("checkov")
    static let python = venvTool("python")

    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-deploy-\(UUID().uuidString)")

    private static func venvTool(_ name: String) -> URL? {
        let tool = packageRoot.appendingPathComponent(".venv-deploy/bin/\(name)")
        return FileManager.default.isExecutableFile(atPath: tool.path) ? tool : nil
    }

    /// Runs a command off the cooperative pool (these take seconds on a loaded machine).
    private static func run(
        _ executable: URL, _ arguments: [String], input: String = "", environment: [String: String]? = nil
    ) async throws -> CommandResult {
        try await offload {
            Result {
                try runCommand(executable, arguments, input: input, environment: environment, timeout: .seconds(120))
            }
        }.get()
    }

    /// The overlay rendered by `kubectl kustomize`, as `kubectl apply -k` would send it.
    private static func render(_ overlay: String) async throws -> String {
        let kubectl = try #require(kubectl)
        let path = packageRoot.appendingPathComponent("deploy/kubernetes/overlays/\(overlay)").path
        let result = try await run(kubectl, ["kustomize", path])
        guard result.status == 0 else { throw TestSupportError("kubectl kustomize \(overlay): \(result.errors)") }
        return result.output
    }

    /// The value of every top-level `field:` line of the rendered objects (kustomize writes keys unindented).
    private static func topLevel(_ field: String, in rendered: String) -> [String] {
        rendered.split(separator: "\n").compactMap { line in
            line.hasPrefix("\(field): ") ? String(line.dropFirst(field.count + 2)) : nil
        }
    }

    /// The overlays rendered into files of `directory`, one per overlay.
    private func renderAll() async throws -> [URL] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var files: [URL] = []
        for overlay in Self.overlays {
            let file = directory.appendingPathComponent("\(overlay).yaml")
            try await Self.render(overlay).write(to: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        return files
    }

    @Test(
        .enabled(if: kubectl != nil, "kubectl is not installed: it renders the overlays (`kubectl kustomize`)"),
        arguments: zip(overlays, ["aws", "azure", "gcp"]))
    func theOverlayRendersEveryObjectTheIssueLists(overlay: String, cloud: String) async throws {
        let rendered = try await Self.render(overlay)
        var kinds: [String: Int] = [:]
        for kind in Self.topLevel("kind", in: rendered) { kinds[kind, default: 0] += 1 }
        #expect(
            kinds == [
                "Namespace": 1, "ServiceAccount": 2, "ClusterRole": 1, "ClusterRoleBinding": 1, "PriorityClass": 2,
                "Issuer": 2, "Certificate": 3, "DaemonSet": 1, "StatefulSet": 1, "Service": 3,
                "PodDisruptionBudget": 1, "NetworkPolicy": 4, "ConfigMap": 3,
            ])
        #expect(rendered.contains("PETREL_CLOUD: \(cloud)\n"))
        // The overlay's API server range replaced the base's documentation address.
        #expect(!rendered.contains("cidr: 192.0.2.1/32"))
    }

    @Test(
        .enabled(if: kubectl != nil, "kubectl is not installed: it renders the overlays (`kubectl kustomize`)"),
        .enabled(
            if: kubernetesValidate != nil, "no kubernetes-validate in .venv-deploy: `make test-deps` installs it"))
    func everyObjectValidatesAgainstTheKubernetes130Schemas() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = try await renderAll()
        let result = try await Self.run(
            try #require(Self.kubernetesValidate), ["-k", "1.30", "--strict"] + files.map(\.path))
        #expect(result.status == 0, "\(result.output)\(result.errors)")
        let lines = (result.output + result.errors).split(separator: "\n").map(String.init)
        // cert-manager's kinds are not Kubernetes' own: there is no schema for them, and a warning says so.
        var expectedPasses = 0
        for file in files {
            let apiVersions = Self.topLevel("apiVersion", in: try String(contentsOf: file, encoding: .utf8))
            expectedPasses += apiVersions.filter { !$0.hasPrefix("cert-manager.io/") }.count
        }
        #expect(lines.filter { $0.contains(" passed for resource ") }.count == expectedPasses)
        let others = lines.filter {
            !$0.contains(" passed for resource ")
                && !$0.contains("Couldn't find schema for kind Certificate with api version cert-manager.io/v1")
                && !$0.contains("Couldn't find schema for kind Issuer with api version cert-manager.io/v1")
        }
        #expect(others.isEmpty, "\(others.joined(separator: "\n"))")
    }

    private struct CheckovReport: Decodable {
        struct Summary: Decodable {
            var passed: Int
            var failed: Int
            var skipped: Int
            var parsingErrors: Int
        }

        struct Check: Decodable {
            struct Result: Decodable {
                var suppressComment: String?
            }

            var checkId: String
            var resource: String
            var checkResult: Result
        }

        struct Results: Decodable {
            var failedChecks: [Check]
            var skippedChecks: [Check]
        }

        var summary: Summary
        var results: Results
    }

    @Test(
        .enabled(if: kubectl != nil, "kubectl is not installed: it renders the overlays (`kubectl kustomize`)"),
        .enabled(if: checkov != nil, "no checkov in .venv-deploy: `make test-deps` installs it"))
    func checkovPassesWithEverySkippedCheckNamedAndJustified() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await renderAll()
        // --skip-download: no call to the vendor's platform, only the checks checkov ships.
        let result = try await Self.run(
            try #require(Self.checkov),
            ["-d", directory.path, "--framework", "kubernetes", "--skip-download", "--output", "json"])
        #expect(result.status == 0, "\(result.errors)")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let report = try decoder.decode(CheckovReport.self, from: Data(result.output.utf8))
        #expect(report.summary.failed == 0)
        #expect(report.summary.parsingErrors == 0)
        #expect(report.summary.passed > 500, "checkov ran its Kubernetes checks")
        #expect(report.results.failedChecks.map { "\($0.checkId) \($0.resource)" } == [])
        // Only the exceptions docs/DEPLOY.md states, each with its reason in the manifest, in every overlay.
        var skipped: [String: Set<String>] = [:]
        for check in report.results.skippedChecks {
            skipped[check.resource, default: []].insert(check.checkId)
            #expect((check.checkResult.suppressComment ?? "").count > 20, "\(check.checkId) has no reason")
        }
        #expect(
            skipped == [
                "DaemonSet.petrel.petrel-agent": ["CKV_K8S_23", "CKV_K8S_38", "CKV_K8S_40", "CKV_K8S_43"],
                "StatefulSet.petrel.petrel-aggregator": ["CKV_K8S_43"],
            ])
        #expect(report.summary.skipped == 15, "5 skips in each of the 3 overlays")
    }

    private struct Workload: Decodable {
        struct Mount: Decodable {
            var path: String
            var kind: String
        }

        var workload: String
        var config: String
        var environment: [String: String]
        var mounts: [Mount]
    }

    @Test(
        .enabled(if: kubectl != nil, "kubectl is not installed: it renders the overlays (`kubectl kustomize`)"),
        .enabled(if: python != nil, "no .venv-deploy (its PyYAML reads the manifests): `make test-deps` creates it"),
        arguments: overlays)
    func petrelValidatesEveryConfigurationAsThePodsGetIt(overlay: String) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let rendered = try await Self.render(overlay)
        let extractor = Self.packageRoot.appendingPathComponent("Tests/IntegrationTests/deploy/workload_configs.py")
        let extracted = try await Self.run(try #require(Self.python), [extractor.path], input: rendered)
        try #require(extracted.status == 0, "\(extracted.errors)")
        let workloads = try JSONDecoder().decode([Workload].self, from: Data(extracted.output.utf8))
        #expect(Set(workloads.map(\.workload)) == ["DaemonSet/petrel-agent", "StatefulSet/petrel-aggregator"])
        // The Secrets cert-manager fills: tls.crt, tls.key and ca.crt, made here by openssl.
        let certificates = try await TestCertificates.make()
        let issued = try certificates.issue("petrel", commonName: "petrel-aggregator.petrel.svc")
        for workload in workloads {
            // Each volume the pod mounts is a directory under a root of the test's own; the configuration's paths
            // into them point there.
            let root = directory.appendingPathComponent(workload.workload.replacingOccurrences(of: "/", with: "-"))
            var config = workload.config
            for mount in workload.mounts.sorted(by: { $0.path.count > $1.path.count }) {
                let local = root.appendingPathComponent(mount.path)
                try FileManager.default.createDirectory(at: local, withIntermediateDirectories: true)
                if mount.kind == "secret" {
                    #expect(config.contains(mount.path + "/"), "\(workload.workload) reads its certificates")
                    for (source, name) in [
                        (certificates.path("ca.crt"), "ca.crt"), (issued.crt, "tls.crt"),
                        (issued.key, "tls.key"),
                    ] {
                        try FileManager.default.copyItem(
                            atPath: source, toPath: local.appendingPathComponent(name).path)
                    }
                }
                if mount.kind == "serviceaccount" {
                    try "token-of-the-test".write(
                        to: local.appendingPathComponent("token"), atomically: true, encoding: .utf8)
                    try FileManager.default.copyItem(
                        atPath: certificates.path("ca.crt"), toPath: local.appendingPathComponent("ca.crt").path)
                }
                config = config.replacingOccurrences(of: mount.path, with: local.path)
            }
            let file = root.appendingPathComponent("petrel.yaml")
            try config.write(to: file, atomically: true, encoding: .utf8)
            let result = try await Self.run(
                PetrelProcess.binary, ["validate", "--config", file.path], environment: workload.environment)
            #expect(result.status == 0, "\(overlay) \(workload.workload): \(result.errors)")
            #expect(result.output.contains(": valid ("), "\(result.output)")
        }
    }
}
