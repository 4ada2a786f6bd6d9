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

    @Test func nodesBecomeKubeletTargetsAndSurviveADroppedWatchAndGone() async throws {
        let api = try await TestAPI.start()
        defer { api.cleanUp() }
        let nodeA = KubernetesFixtures.node(
            name: "node-a", resourceVersion: "90",
            addresses: [("Hostname", "node-a"), ("ExternalIP", "203.0.113.7"), ("InternalIP", "10.0.12.7")],
            labels: ["topology.kubernetes.io/zone": "eu-west-1b"])
        let nodeB = KubernetesFixtures.node(
            name: "node-b", resourceVersion: "95", addresses: [("Hostname", "node-b"), ("ExternalIP", "203.0.113.8")])
        let nodeC = KubernetesFixtures.node(name: "node-c", resourceVersion: "101", addresses: [("Hostname", "node-c")])
        let nodeAMoved = KubernetesFixtures.node(
            name: "node-a", resourceVersion: "102",
            addresses: [("Hostname", "node-a"), ("ExternalIP", "203.0.113.7"), ("InternalIP", "10.0.12.7")],
            labels: ["topology.kubernetes.io/zone": "eu-west-1c"], annotations: ["team": "platform"])
        let nodeD = KubernetesFixtures.node(
            name: "node-d", resourceVersion: "150", addresses: [("InternalIP", "10.0.12.9")])
        api.server.enqueue(
            path: "/api/v1/nodes",
            .json(
                status: 200, body: KubernetesFixtures.list(kind: "Node", resourceVersion: "100", items: [nodeA, nodeB])),
            .stream([
                .event(KubernetesFixtures.event("ADDED", nodeC)), .pause,
                .event(KubernetesFixtures.event("MODIFIED", nodeAMoved)),
                .event(KubernetesFixtures.event("DELETED", nodeB.replacingOccurrences(of: #""95""#, with: #""103""#))),
                .event(KubernetesFixtures.bookmark(kind: "Node", resourceVersion: "110")), .drop,
            ]),
            .stream([.event(KubernetesFixtures.goneEvent(requested: "110", current: "140"))]),
            .json(
                status: 200,
                body: KubernetesFixtures.list(kind: "Node", resourceVersion: "200", items: [nodeAMoved, nodeC, nodeD])))
        let discovery = try api.discovery(role: "node")
        let task = Task { await discovery.run() }

        let listed = await componentEventually(timeout: .seconds(120)) { names(discovery, "node") == ["a", "b", "c"] }
        #expect(listed, "\(discovery.current.groups.map(\.labels))")
        let first = discovery.current.groups
        // InternalIP wins over the addresses listed before it; the kubelet's port from daemonEndpoints.
        #expect(
            first[0].targets == [
                [
                    "__address__": "10.0.12.7:10250", "instance": "node-a",
                    "__meta_kubernetes_node_address_Hostname": "node-a",
                    "__meta_kubernetes_node_address_ExternalIP": "203.0.113.7",
                    "__meta_kubernetes_node_address_InternalIP": "10.0.12.7",
                ]
            ])
        #expect(
            first[0].labels == [
                "__meta_kubernetes_node_name": "node-a",
                "__meta_kubernetes_node_label_topology_kubernetes_io_zone": "eu-west-1b",
                "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone": "true",
            ])
        #expect(first[1].targets.map { $0["__address__"] } == ["203.0.113.8:10250"])
        #expect(first[2].targets.map { $0["__address__"] } == ["node-c:10250"])

        api.server.resume()
        let relisted = await componentEventually(timeout: .seconds(120)) {
            names(discovery, "node") == ["a", "c", "d"]
                && api.server.requests(to: "/api/v1/nodes").count >= 5
        }
        #expect(relisted, "\(discovery.current.groups.map(\.labels))")
        let requests = api.server.requests(to: "/api/v1/nodes")
        task.cancel()
        await task.value
        await api.server.stop()

        // LIST, the watch from its version, after the drop the watch from the bookmark's version, 410 Gone as an
        // event, a new LIST and the watch from its version.
        #expect(
            requests.map { "\($0.isWatch ? "watch" : "list") \($0.query["resourceVersion"] ?? "-")" } == [
                "list 0", "watch 100", "watch 110", "list 0", "watch 200",
            ])
        let groups = discovery.current.groups
        #expect(
            groups[0].labels == [
                "__meta_kubernetes_node_name": "node-a",
                "__meta_kubernetes_node_label_topology_kubernetes_io_zone": "eu-west-1c",
                "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone": "true",
                "__meta_kubernetes_node_annotation_team": "platform",
                "__meta_kubernetes_node_annotationpresent_team": "true",
            ])
        #expect(
            groups[2].targets == [
                [
                    "__address__": "10.0.12.9:10250", "instance": "node-d",
                    "__meta_kubernetes_node_address_InternalIP": "10.0.12.9",
                ]
            ])
    }

    @Test func servicesBecomeATargetPerPort() async throws {
        let api = try await TestAPI.start()
        defer { api.cleanUp() }
        let web = KubernetesFixtures.service(
            name: "web", resourceVersion: "90", ports: [("http", 80, 8080), ("metrics", 9090, 9090)],
            labels: ["app.kubernetes.io/name": "web"], annotations: ["prometheus.io/probe": "true"])
        let payments = KubernetesFixtures.service(
            name: "payments", resourceVersion: "101", type: "ExternalName", externalName: "payments.example.com",
            ports: [("https", 443, 443)])
        let webOnePort = KubernetesFixtures.service(
            name: "web", resourceVersion: "102", ports: [("http", 80, 8080)],
            labels: ["app.kubernetes.io/name": "web"], annotations: ["prometheus.io/probe": "true"])
        let path = "/api/v1/namespaces/shop/services"
        api.server.enqueue(
            path: path,
            .json(status: 200, body: KubernetesFixtures.list(kind: "Service", resourceVersion: "100", items: [web])),
            .stream([.event(KubernetesFixtures.event("ADDED", payments)), .pause, .drop]),
            .stream([
                .event(KubernetesFixtures.event("MODIFIED", webOnePort)), .pause,
                .event(
                    KubernetesFixtures.event("DELETED", payments.replacingOccurrences(of: #""101""#, with: #""103""#))),
                .end,
            ]),
            .json(status: 410, body: KubernetesFixtures.goneStatus(requested: "103", current: "180")),
            .json(
                status: 200, body: KubernetesFixtures.list(kind: "Service", resourceVersion: "200", items: [webOnePort])
            ))
        let discovery = try api.discovery(
            role: "service", namespace: "shop", selectors: [["role": "service", "label": "app.kubernetes.io/name=web"]])
        let task = Task { await discovery.run() }

        let added = await componentEventually(timeout: .seconds(120)) {
            names(discovery, "service") == ["payments", "web"]
        }
        #expect(added, "\(discovery.current.groups.map(\.labels))")
        let first = discovery.current.groups
        #expect(
            first[0].targets == [
                [
                    "__address__": "payments.shop.svc:443",
                    "__meta_kubernetes_service_port_name": "https",
                    "__meta_kubernetes_service_port_number": "443",
                    "__meta_kubernetes_service_port_protocol": "TCP",
                    "__meta_kubernetes_service_type": "ExternalName",
                    "__meta_kubernetes_service_external_name": "payments.example.com",
                ]
            ])
        #expect(
            first[1].labels == [
                "__meta_kubernetes_namespace": "shop",
                "__meta_kubernetes_service_name": "web",
                "__meta_kubernetes_service_label_app_kubernetes_io_name": "web",
                "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name": "true",
                "__meta_kubernetes_service_annotation_prometheus_io_probe": "true",
                "__meta_kubernetes_service_annotationpresent_prometheus_io_probe": "true",
            ])
        #expect(
            first[1].targets == [
                [
                    "__address__": "web.shop.svc:80",
                    "__meta_kubernetes_service_port_name": "http",
                    "__meta_kubernetes_service_port_number": "80",
                    "__meta_kubernetes_service_port_protocol": "TCP",
                    "__meta_kubernetes_service_type": "ClusterIP",
                    "__meta_kubernetes_service_cluster_ip": "10.96.41.7",
                ],
                [
                    "__address__": "web.shop.svc:9090",
                    "__meta_kubernetes_service_port_name": "metrics",
                    "__meta_kubernetes_service_port_number": "9090",
                    "__meta_kubernetes_service_port_protocol": "TCP",
                    "__meta_kubernetes_service_type": "ClusterIP",
                    "__meta_kubernetes_service_cluster_ip": "10.96.41.7",
                ],
            ])

        // The connection drops; the watch resumes from the ADDED's version and a port goes.
        api.server.resume()
        let modified = await componentEventually(timeout: .seconds(120)) {
            discovery.current.groups.last?.targets.map { $0["__address__"] ?? "" } == ["web.shop.svc:80"]
        }
        #expect(modified, "\(discovery.current.groups.map(\.targets))")
        api.server.resume()
        let relisted = await componentEventually(timeout: .seconds(120)) {
            names(discovery, "service") == ["web"] && api.server.requests(to: path).count >= 6
        }
        #expect(relisted)
        let requests = api.server.requests(to: path)
        task.cancel()
        await task.value
        await api.server.stop()

        // The watch ends properly and resumes from the DELETED's version, which is gone (410 as a status this time).
        #expect(
            requests.map { "\($0.isWatch ? "watch" : "list") \($0.query["resourceVersion"] ?? "-")" } == [
                "list 0", "watch 100", "watch 101", "watch 103", "list 0", "watch 200",
            ])
        #expect(requests.allSatisfy { $0.query["labelSelector"] == "app.kubernetes.io/name=web" })
    }

    @Test func endpointsAreLabelledWithTheirServiceAndPods() async throws {
        let api = try await TestAPI.start()
        defer { api.cleanUp() }
        // `exporter` listens on 9100, which no endpoint port names: Prometheus adds a target for it.
        let pod = KubernetesFixtures.pod(
            name: "web-5f7c9d8b4-abcde", uid: "uid-web", resourceVersion: "90", labels: ["app": "web"],
            owner: ("ReplicaSet", "web-5f7c9d8b4"), containers: ["app", "exporter"]
        ).replacingOccurrences(
            of:
                #""name":"exporter","image":"registry.example.com/exporter:1.4.2","ports":[{"name":"http","containerPort":8080"#,
            with:
                #""name":"exporter","image":"registry.example.com/exporter:1.4.2","ports":[{"name":"metrics","containerPort":9100"#
        )
        let relabelledPod = pod.replacingOccurrences(of: #""app":"web""#, with: #""app":"web","track":"canary""#)
            .replacingOccurrences(of: #""resourceVersion":"90""#, with: #""resourceVersion":"105""#)
        let service = KubernetesFixtures.service(
            name: "web", resourceVersion: "80", ports: [("http", 80, 8080)], labels: ["app.kubernetes.io/name": "web"])
        let endpoints = KubernetesFixtures.endpoints(
            name: "web", resourceVersion: "91", ready: [("10.244.3.17", "web-5f7c9d8b4-abcde", "node-a")],
            notReady: [("10.244.1.9", "web-5f7c9d8b4-fghij", "node-b")], ports: [("http", 8080)])
        api.server.enqueue(
            path: "/api/v1/endpoints",
            .json(
                status: 200,
                body: KubernetesFixtures.list(kind: "Endpoints", resourceVersion: "100", items: [endpoints])),
            .stream([.pause, .pause, .event(KubernetesFixtures.event("DELETED", endpoints))]))
        api.server.enqueue(
            path: "/api/v1/services",
            .json(status: 200, body: KubernetesFixtures.list(kind: "Service", resourceVersion: "100", items: [service]))
        )
        api.server.enqueue(
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "100", pods: [pod])),
            .stream([.pause, .event(KubernetesFixtures.event("MODIFIED", relabelledPod))]))
        let discovery = try api.discovery(role: "endpoints")
        let task = Task { await discovery.run() }

        let listed = await componentEventually(timeout: .seconds(120)) {
            discovery.current.groups.first?.targets.count == 3
                && discovery.current.groups.first?.labels["__meta_kubernetes_service_name"] != nil
        }
        #expect(listed, "\(discovery.current.groups)")
        let group = try #require(discovery.current.groups.first)
        #expect(
            group.labels == [
                "__meta_kubernetes_namespace": "shop",
                "__meta_kubernetes_endpoints_name": "web",
                "__meta_kubernetes_endpoints_annotation_endpoints_kubernetes_io_last_change_trigger_time":
                    "2026-12-06T09:58:04Z",
                "__meta_kubernetes_endpoints_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time":
                    "true",
                "__meta_kubernetes_service_name": "web",
                "__meta_kubernetes_service_label_app_kubernetes_io_name": "web",
                "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name": "true",
            ])
        let podLabels = [
            "__meta_kubernetes_pod_name": "web-5f7c9d8b4-abcde",
            "__meta_kubernetes_pod_ip": "10.244.3.17",
            "__meta_kubernetes_pod_node_name": "node-a",
            "__meta_kubernetes_pod_host_ip": "10.0.12.7",
            "__meta_kubernetes_pod_uid": "uid-web",
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_ready": "true",
            "__meta_kubernetes_pod_label_app": "web",
            "__meta_kubernetes_pod_labelpresent_app": "true",
            "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
            "__meta_kubernetes_pod_controller_name": "web-5f7c9d8b4",
        ]
        #expect(
            group.targets[0]
                == podLabels.merging([
                    "__address__": "10.244.3.17:8080",
                    "__meta_kubernetes_endpoint_port_name": "http",
                    "__meta_kubernetes_endpoint_port_protocol": "TCP",
                    "__meta_kubernetes_endpoint_ready": "true",
                    "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                    "__meta_kubernetes_endpoint_address_target_name": "web-5f7c9d8b4-abcde",
                    "__meta_kubernetes_endpoint_node_name": "node-a",
                    "__meta_kubernetes_pod_container_name": "app",
                    "__meta_kubernetes_pod_container_image": "registry.example.com/app:1.4.2",
                    "__meta_kubernetes_pod_container_port_name": "http",
                    "__meta_kubernetes_pod_container_port_number": "8080",
                    "__meta_kubernetes_pod_container_port_protocol": "TCP",
                ]) { $1 })
        // The not-ready address points to a pod the watch does not hold: endpoint labels only.
        #expect(
            group.targets[1] == [
                "__address__": "10.244.1.9:8080",
                "__meta_kubernetes_endpoint_port_name": "http",
                "__meta_kubernetes_endpoint_port_protocol": "TCP",
                "__meta_kubernetes_endpoint_ready": "false",
                "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                "__meta_kubernetes_endpoint_address_target_name": "web-5f7c9d8b4-fghij",
                "__meta_kubernetes_endpoint_node_name": "node-b",
            ])
        #expect(
            group.targets[2]
                == podLabels.merging([
                    "__address__": "10.244.3.17:9100",
                    "__meta_kubernetes_pod_container_name": "exporter",
                    "__meta_kubernetes_pod_container_image": "registry.example.com/exporter:1.4.2",
                    "__meta_kubernetes_pod_container_port_name": "metrics",
                    "__meta_kubernetes_pod_container_port_number": "9100",
                    "__meta_kubernetes_pod_container_port_protocol": "TCP",
                ]) { $1 })

        // A pod's label changes: its endpoint's target follows; then the endpoints go and so do the targets.
        let watching = await api.server.wait(for: .seconds(60)) { server in
            server.requests(to: "/api/v1/endpoints").contains(where: \.isWatch)
                && server.requests(to: "/api/v1/pods").contains(where: \.isWatch)
        }
        #expect(watching)
        // Both streams reach their pause as they are answered; a moment lets the second one's handler get there.
        try await Task.sleep(for: .milliseconds(300))
        api.server.resume()
        let followed = await componentEventually(timeout: .seconds(120)) {
            discovery.current.groups.first?.targets.first?["__meta_kubernetes_pod_label_track"] == "canary"
        }
        #expect(followed)
        api.server.resume()
        let gone = await componentEventually(timeout: .seconds(120)) { discovery.current.groups.isEmpty }
        #expect(gone, "\(discovery.current.groups)")
        let requests = api.server.requests
        task.cancel()
        await task.value
        await api.server.stop()
        for path in ["/api/v1/endpoints", "/api/v1/services", "/api/v1/pods"] {
            #expect(
                requests.filter { $0.path == path }.map {
                    "\($0.isWatch ? "watch" : "list") \($0.query["resourceVersion"] ?? "-")"
                }
                    == ["list 0", "watch 100"], "\(path)")
        }
    }

    @Test func unknownRolesAndSelectorsOfOtherRolesAreReported() {
        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let reader = ConfigReader(
            node: ComponentConfigValue.map([
                (key: "role", value: "ingress"), (key: "api_server", value: "https://k:443"),
            ])
            .configNode(),
            path: "kubernetes_sd_configs[0]", diagnostics: diagnostics)
        #expect(KubernetesDiscoveryConfig.parse(reader, environment: [:]) == nil)
        #expect(diagnostics.errors.first?.message.hasPrefix("role \"ingress\" is not supported") == true)

        let selectorDiagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let selectorReader = ConfigReader(
            node: ComponentConfigValue.map([
                (key: "role", value: "service"), (key: "api_server", value: "https://k:443"),
                (key: "selectors", value: [["role": "pod", "field": "spec.nodeName=node-a"]]),
            ])
            .configNode(),
            path: "kubernetes_sd_configs[0]", diagnostics: selectorDiagnostics)
        #expect(KubernetesDiscoveryConfig.parse(selectorReader, environment: [:]) == nil)
        #expect(selectorDiagnostics.errors.first?.message == "the service role takes selectors of role service")
    }
}

/// The names of the discovered groups' objects, without the `node-` prefix for nodes.
private func names(_ discovery: KubernetesTargetDiscovery, _ role: String) -> [String] {
    discovery.current.groups.map { group in
        let name = group.labels["__meta_kubernetes_\(role)_name"] ?? ""
        return role == "node" ? String(name.dropFirst("node-".count)) : name
    }
}

/// A scripted API server with a token file and CA, and discoveries configured against it.
private struct TestAPI {
    let server: ScriptedKubernetesAPI
    /// Held for the test's length: the CA file goes with it.
    let certificates: TestCertificates
    let directory: URL
    let tokenFile: String

    static func start() async throws -> TestAPI {
        let certificates = try await TestCertificates.make()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-k8s-sd-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tokenFile = directory.appendingPathComponent("token").path
        try "token-1\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let server = try await ScriptedKubernetesAPI(
            certificates: certificates, token: "token-1", nodeReply: .json(status: 200, body: KubernetesFixtures.node())
        )
        return TestAPI(server: server, certificates: certificates, directory: directory, tokenFile: tokenFile)
    }

    func discovery(
        role: String, namespace: String? = nil, selectors: [ComponentConfigValue] = []
    ) throws -> KubernetesTargetDiscovery {
        var entries: [(key: String, value: ComponentConfigValue)] = [
            (key: "role", value: .scalar(role)),
            (key: "api_server", value: .scalar(server.url)),
            (key: "bearer_token_file", value: .scalar(tokenFile)),
            (key: "tls_config", value: .map([(key: "ca_file", value: .scalar(server.caFile))])),
        ]
        if let namespace {
            entries.append((key: "namespaces", value: .map([(key: "names", value: [.scalar(namespace)])])))
        }
        if !selectors.isEmpty { entries.append((key: "selectors", value: .list(selectors))) }
        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let reader = ConfigReader(
            node: ComponentConfigValue.map(entries).configNode(), path: "kubernetes_sd_configs[0]",
            diagnostics: diagnostics)
        let config = try #require(KubernetesDiscoveryConfig.parse(reader, environment: [:]), "\(diagnostics.errors)")
        return try KubernetesTargetDiscovery(config, logger: Logger(label: "k8s-sd-test"))
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }
}
