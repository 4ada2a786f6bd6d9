import PetrelCore
import Testing

@testable import PetrelSources

/// The `kubernetes_logs` source's settings as a user writes them, and every error named by its key.
@Suite struct KubernetesLogsSourceConfigTests {
    private func read(
        _ node: ConfigNode, environment: [String: String] = [:]
    ) -> (config: KubernetesLogsSourceConfig, errors: [String]) {
        let diagnostics = ConfigDiagnostics(file: componentConfigFile)
        let reader = ConfigReader(node: node, path: "sources.pods", diagnostics: diagnostics)
        let config = KubernetesLogsSourceConfig(from: reader, environment: environment)
        reader.finish()
        return (config, diagnostics.errors.map(\.description))
    }

    @Test func defaults() throws {
        let (config, errors) = read(componentConfig([:]), environment: ["NODE_NAME": "node-a"])
        #expect(errors == [])
        #expect(config.podsRoot == "/var/log/pods")
        #expect(config.tailing.maxLineBytes == 32 * 1024)
        #expect(config.maxMergedLineBytes == 1024 * 1024)
        #expect(config.tailing.readFrom == .beginning)
        #expect(config.tailing.maxUnacknowledgedBytes == 4 * 1024 * 1024)
        #expect(config.tailing.rotateWait == nil)
        #expect(config.tailing.checkpointInterval == .seconds(1))
        #expect(config.nodeName == "node-a")
        #expect(config.kubernetesAPI == nil, "outside a cluster")
        #expect(config.include.namespaces.isEmpty && config.include.containers.isEmpty)
        #expect(config.include.podLabels == nil)
        #expect(config.exclude.podLabels?.description == "app.kubernetes.io/name=petrel", "Petrel's own pods")
        #expect(config.exclude.podLabels?.matches(["app.kubernetes.io/name": "petrel"]) == true)
    }

    @Test func everySetting() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let token = directory + "/token"
        try writeFile(token, "token\n")
        let (config, errors) = read(
            componentConfig([
                "pods_root": "/host/var/log/pods", "max_line_bytes": "16KiB", "max_merged_line_bytes": "2MiB",
                "read_from": "end", "max_read_bytes": "128KiB", "max_unacknowledged_bytes": "16MiB",
                "rotate_wait": "30s", "glob_minimum_cooldown": "2s", "checkpoint_interval": "5s",
                "node_name": "worker-7",
                "kubernetes_api": [
                    "enabled": true, "endpoint": "http://127.0.0.1:8001", "token_file": .scalar(token),
                ],
                "include": ["namespaces": ["shop", "payments"], "pod_labels": "tier in (web,api)"],
                "exclude": ["containers": ["istio-proxy"], "pod_labels": "debug"],
            ]))
        #expect(errors == [])
        #expect(config.podsRoot == "/host/var/log/pods")
        #expect(config.tailing.maxLineBytes == 16 * 1024)
        #expect(config.maxMergedLineBytes == 2 * 1024 * 1024)
        #expect(config.tailing.readFrom == .end)
        #expect(config.tailing.maxReadBytes == 128 * 1024)
        #expect(config.tailing.maxUnacknowledgedBytes == 16 * 1024 * 1024)
        #expect(config.tailing.rotateWait == .seconds(30))
        #expect(config.tailing.globMinimumCooldown == .seconds(2))
        #expect(config.tailing.checkpointInterval == .seconds(5))
        #expect(config.nodeName == "worker-7")
        #expect(config.kubernetesAPI?.nodeName == "worker-7", "the API watches the node's pods")
        #expect(config.include.namespaces == ["shop", "payments"])
        #expect(config.include.podLabels?.matches(["tier": "api"]) == true)
        #expect(config.exclude.containers == ["istio-proxy"])
        #expect(config.exclude.podLabels?.description == "debug", "a selector given replaces the default")
    }

    @Test func podLabelRulesNeedTheAPI() {
        #expect(
            read(componentConfig(["include": ["pod_labels": "app=web"]])).errors == [
                "petrel.yaml: sources.pods.include.pod_labels: needs pod labels from the API: enable kubernetes_api"
            ])
    }

    @Test func anEmptyExcludeSelectorTurnsTheDefaultOff() {
        let (config, errors) = read(componentConfig(["exclude": ["pod_labels": ""]]))
        #expect(errors == [])
        #expect(config.exclude.podLabels == nil)
    }

    @Test func errorsNameTheirKeys() {
        let (_, errors) = read(
            componentConfig([
                "pods_root": "var/log/pods", "read_from": "middle", "max_line_bytes": "64KiB",
                "max_merged_line_bytes": "32KiB", "include": ["namespaces": "shop", "pod_labels": "app in ("],
                "exclude": ["labels": "x"], "podsroot": "/x",
            ]))
        let expected = [
            #"petrel.yaml: sources.pods.pods_root: "var/log/pods" is not an absolute path"#,
            #"petrel.yaml: sources.pods.read_from: expected one of beginning, end, found "middle""#,
            "petrel.yaml: sources.pods.max_merged_line_bytes: must be at least max_line_bytes (65536 bytes)",
            "petrel.yaml: sources.pods.include.namespaces: expected a list",
            "petrel.yaml: sources.pods.include.pod_labels: invalid label selector: ",
            "petrel.yaml: sources.pods.exclude.labels: unknown key",
            "petrel.yaml: sources.pods.podsroot: unknown key",
        ]
        #expect(errors.count == expected.count, "\(errors)")
        for (error, prefix) in zip(errors, expected) {
            #expect(error.hasPrefix(prefix), "\(error)")
        }
    }

    @Test func theDefinitionBuildsASourceOfLogsWithItsCheckpointDirectory() throws {
        let outcome = buildComponent(KubernetesLogsSource.definition, at: "sources.pods", componentConfig([:]))
        #expect(outcome.errors == [])
        guard case .source(let source, let emits)? = outcome.built else {
            Issue.record("not a source")
            return
        }
        #expect(emits == .logs)
        #expect((source as? KubernetesLogsSource)?.checkpointDirectory == "/tmp/petrel-test-data/checkpoints/pods")
    }
}
