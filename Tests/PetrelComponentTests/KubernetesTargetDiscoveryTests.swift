import Foundation
import Logging
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Testing

@testable import PetrelSources

/// `kubernetes_sd_configs` with the pod role against a scripted API server replaying real LIST and WATCH payloads:
/// pods coming and going, only this node's asked for, and Prometheus' `__meta_kubernetes_pod_*` labels.
@Suite struct KubernetesTargetDiscoveryTests {
    @Test func podsOfThisNodeBecomeTargetGroupsAsTheyComeAndGo() async throws {
        let certificates = try await TestCertificates.make()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-k8s-sd-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("token").path
        try "token-1\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let server = try await ScriptedKubernetesAPI(
            certificates: certificates, token: "token-1", nodeReply: .json(status: 200, body: KubernetesFixtures.node())
        )

        let web = KubernetesFixtures.pod(
            name: "web-5f7c9d8b4-abcde", uid: "uid-web", resourceVersion: "90",
            labels: ["app.kubernetes.io/name": "web"],
            annotations: ["prometheus.io/scrape": "true"], owner: ("ReplicaSet", "web-5f7c9d8b4"))
        let db = KubernetesFixtures.pod(
            name: "db-0", uid: "uid-db", resourceVersion: "95", owner: ("StatefulSet", "db"),
            containers: ["db", "exporter"])
        let job = KubernetesFixtures.pod(name: "backup-29412360-x7p2k", uid: "uid-job", resourceVersion: "101")
        server.enqueue(
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "100", pods: [web, db])),
            .stream([
                .event(KubernetesFixtures.event("ADDED", job)),
                .event(KubernetesFixtures.event("DELETED", db.replacingOccurrences(of: #""95""#, with: #""103""#))),
                .pause,
            ]))

        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let node: ConfigNode = ComponentConfigValue.map([
            (key: "role", value: "pod"),
            (key: "api_server", value: .scalar(server.url)),
            (key: "bearer_token_file", value: .scalar(tokenFile)),
            (key: "tls_config", value: .map([(key: "ca_file", value: .scalar(server.caFile))])),
            (key: "selectors", value: [["role": "pod", "field": "spec.nodeName=node-a"]]),
        ]).configNode()
        let reader = ConfigReader(node: node, path: "kubernetes_sd_configs[0]", diagnostics: diagnostics)
        let config = try #require(KubernetesDiscoveryConfig.parse(reader, environment: [:]))
        #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
        let discovery = try KubernetesTargetDiscovery(config, logger: Logger(label: "k8s-sd-test"))
        let task = Task { await discovery.run() }

        let settled = await componentEventually(timeout: .seconds(120)) {
            discovery.current.groups.map { $0.labels["__meta_kubernetes_pod_name"] ?? "" }
                == ["backup-29412360-x7p2k", "web-5f7c9d8b4-abcde"]
        }
        #expect(settled, "db-0 went, the job came: \(discovery.current.groups.map(\.labels))")
        let requests = server.podRequests
        task.cancel()
        await task.value
        await server.stop()

        // Only this node's pods are asked for, in the LIST and the watch resumed from its resourceVersion.
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.query["fieldSelector"] == "spec.nodeName=node-a" })
        #expect(requests.last?.query["resourceVersion"] == "100" && requests.last?.isWatch == true)
        #expect(requests.allSatisfy { $0.authorization == "Bearer token-1" })

        let group = try #require(discovery.current.groups.last)
        #expect(
            group.targets == [
                [
                    "__address__": "10.244.3.17:8080",
                    "__meta_kubernetes_pod_container_name": "app",
                    "__meta_kubernetes_pod_container_image": "registry.example.com/app:1.4.2",
                    "__meta_kubernetes_pod_container_init": "false",
                    "__meta_kubernetes_pod_container_id":
                        "containerd://9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
                    "__meta_kubernetes_pod_container_port_name": "http",
                    "__meta_kubernetes_pod_container_port_number": "8080",
                    "__meta_kubernetes_pod_container_port_protocol": "TCP",
                ]
            ])
        #expect(
            group.labels == [
                "__meta_kubernetes_namespace": "shop",
                "__meta_kubernetes_pod_name": "web-5f7c9d8b4-abcde",
                "__meta_kubernetes_pod_ip": "10.244.3.17",
                "__meta_kubernetes_pod_node_name": "node-a",
                "__meta_kubernetes_pod_host_ip": "10.0.12.7",
                "__meta_kubernetes_pod_uid": "uid-web",
                "__meta_kubernetes_pod_phase": "Running",
                "__meta_kubernetes_pod_ready": "true",
                "__meta_kubernetes_pod_label_app_kubernetes_io_name": "web",
                "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape": "true",
                "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
                "__meta_kubernetes_pod_controller_name": "web-5f7c9d8b4",
            ])
        // The usual annotation-driven relabeling turns it into a target.
        var scrapeJob = ScrapeJobConfig(jobName: "pods")
        scrapeJob.relabelConfigs = [
            RelabelRuleConfig(
                sourceLabels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: .keep),
            RelabelRuleConfig(sourceLabels: ["__meta_kubernetes_pod_name"], targetLabel: "pod"),
        ]
        var rules = try RelabelRules(scrapeJob.relabelConfigs)
        let targets = ScrapeTarget.make(groups: discovery.current.groups, job: scrapeJob, rules: &rules)
        #expect(targets.map(\.endpoint.description) == ["http://10.244.3.17:8080/metrics"])
        #expect(targets.first?.labels.map(\.name) == ["instance", "job", "pod"])
    }

    @Test func otherRolesAreReportedAsNotYetSupported() {
        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let reader = ConfigReader(
            node: ComponentConfigValue.map([
                (key: "role", value: "endpoints"), (key: "api_server", value: "https://k:443"),
            ])
            .configNode(),
            path: "kubernetes_sd_configs[0]", diagnostics: diagnostics)
        #expect(KubernetesDiscoveryConfig.parse(reader, environment: [:]) == nil)
        #expect(diagnostics.errors.first?.message.hasPrefix("role \"endpoints\" is not supported yet") == true)
    }
}
