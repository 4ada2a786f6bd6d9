import Logging
import PetrelCore
import PetrelNet
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One `kubernetes_sd_configs` entry: the API server, the role, and the selectors that narrow what is watched.
public struct KubernetesDiscoveryConfig: Sendable {
    /// What is discovered; only `pod` so far.
    public enum Role: String, Sendable, CaseIterable {
        case pod
    }

    public var role: Role
    public var api: KubernetesAPIConfig
    /// `namespaces.names`; empty for every namespace.
    public var namespaces: [String]
    /// The selectors of the role's `selectors` entry: `label` and `field`, as the API takes them. A DaemonSet
    /// scrapes only its own node's pods with `field: spec.nodeName=${NODE_NAME}`.
    public var labelSelector: String?
    public var fieldSelector: String?

    /// Reads one entry; `nil` when it has errors (reported to `reader`).
    static func parse(_ reader: ConfigReader, environment: [String: String]) -> KubernetesDiscoveryConfig? {
        defer { reader.finish() }
        let errors = reader.diagnostics.errors.count
        let roleText = reader.requiredString("role") ?? ""
        let role = Role(rawValue: roleText)
        if !roleText.isEmpty && role == nil {
            reader.error(
                "role",
                "role \"\(roleText)\" is not supported yet; Petrel discovers pods (node, endpoints and "
                    + "service roles are still to come)")
        }
        var namespaces: [String] = []
        if let section = reader.section("namespaces") {
            namespaces = section.stringList("names") ?? []
            if namespaces.count > 1 {
                section.error("names", "more than one namespace is not supported yet; give one, or none for all")
            }
            _ = section.bool("own_namespace", default: false)
            section.finish()
        }
        var labelSelector: String?
        var fieldSelector: String?
        for section in reader.sectionList("selectors") ?? [] {
            let selectorRole = section.requiredString("role")
            if selectorRole == roleText {
                labelSelector = section.string("label")
                fieldSelector = section.string("field")
            } else {
                _ = section.string("label")
                _ = section.string("field")
            }
            section.finish()
        }
        // Prometheus' keys for reaching the API; in a pod they all default to the service account.
        let server = reader.string("api_server")
        var tokenFile = reader.string("bearer_token_file")
        if let authorization = reader.section("authorization") {
            tokenFile = authorization.string("credentials_file") ?? tokenFile
            _ = authorization.string("type", default: "Bearer")
            authorization.finish()
        }
        var caFile: String?
        if let tls = reader.section("tls_config") {
            caFile = tls.string("ca_file")
            tls.finish()
        }
        let nodeName = fieldSelector.flatMap(Self.nodeName) ?? environment["NODE_NAME"] ?? "-"
        let diagnostics = ConfigDiagnostics(file: reader.diagnostics.file)
        var api: [(String, ConfigNode)] = [
            ("enabled", ConfigNode(.scalar("true"))), ("node_name", ConfigNode(.scalar(nodeName))),
        ]
        if let server { api.append(("endpoint", ConfigNode(.scalar(server.hasSuffix("/") ? server : server + "/")))) }
        if let tokenFile { api.append(("token_file", ConfigNode(.scalar(tokenFile)))) }
        if let caFile { api.append(("ca_file", ConfigNode(.scalar(caFile)))) }
        let apiReader = ConfigReader(
            node: ConfigNode(
                .mapping([(key: "kubernetes_api", node: ConfigNode(.mapping(api.map { (key: $0.0, node: $0.1) })))])),
            path: reader.path, diagnostics: diagnostics)
        let apiConfig = KubernetesAPIConfig.read(from: apiReader, environment: environment)
        for error in diagnostics.errors {
            reader.error("api_server", error.message)
        }
        guard let role, let apiConfig, reader.diagnostics.errors.count == errors else { return nil }
        return KubernetesDiscoveryConfig(
            role: role, api: apiConfig, namespaces: namespaces, labelSelector: labelSelector,
            fieldSelector: fieldSelector)
    }

    /// The node of a `spec.nodeName=<node>` field selector.
    private static func nodeName(_ selector: String) -> String? {
        for term in selector.split(separator: ",") where term.hasPrefix("spec.nodeName=") {
            return String(term.dropFirst("spec.nodeName=".count))
        }
        return nil
    }
}

/// Keeps the pods of a `kubernetes_sd_configs` entry by LIST then WATCH (resumed from the last resourceVersion,
/// relisting after `410 Gone`), and turns them into target groups with Prometheus' `__meta_kubernetes_pod_*`
/// labels.
final class KubernetesTargetDiscovery: Sendable {
    let config: KubernetesDiscoveryConfig
    private let logger: Logger
    private let client: KubernetesAPIClient
    /// The pods by namespace/name, and a count of changes the job runner compares.
    private let state = Mutex<(pods: [String: SDPod], version: Int)>(([:], 0))

    init(_ config: KubernetesDiscoveryConfig, logger: Logger) throws(TLSFileError) {
        self.config = config
        self.logger = logger
        let tls = config.api.endpoint.usesTLS ? try ReloadingClientTLS(config.api.tlsSettings, logger: logger) : nil
        client = KubernetesAPIClient(
            config: config.api, tls: tls, watchIdleTimeout: config.api.watchTimeout * 2 + .seconds(30))
    }

    /// Changes so far, and the groups of every pod now.
    var current: (version: Int, groups: [TargetGroup]) {
        let (pods, version) = state.withLock { ($0.pods, $0.version) }
        return (version, pods.keys.sorted().map { Self.group(pods[$0]!) })
    }

    /// Watches until the task is cancelled.
    func run() async {
        var resourceVersion: String?
        var backoff = RetryBackoff(initial: config.api.retryInitialDelay, maximum: config.api.retryMaxDelay)
        while !Task.isCancelled {
            do {
                if resourceVersion == nil { resourceVersion = try await list() }
                try await watch(from: &resourceVersion)
                backoff.reset()
            } catch is CancellationError {
                break
            } catch let error as KubernetesAPIError where error.isGone {
                resourceVersion = nil
            } catch {
                if Task.isCancelled { break }
                if let error = error as? KubernetesAPIError, error.isMalformed { resourceVersion = nil }
                let delay = backoff.next()
                logger.warning(
                    "kubernetes_sd_configs: pod watch failed; retrying",
                    metadata: ["reason": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
        await client.shutdown()
    }

    /// The pods' path and the start of its query; one namespace at most (checked when read).
    private func paths() -> [String] {
        var query: [String] = []
        if let field = config.fieldSelector { query.append("fieldSelector=\(PodWatcher.percentEncoded(field))") }
        if let label = config.labelSelector { query.append("labelSelector=\(PodWatcher.percentEncoded(label))") }
        let suffix = "?" + query.joined(separator: "&") + (query.isEmpty ? "" : "&")
        if config.namespaces.isEmpty { return ["/api/v1/pods" + suffix] }
        return config.namespaces.map { "/api/v1/namespaces/\(PodWatcher.percentEncoded($0))/pods" + suffix }
    }

    private func list() async throws -> String {
        let body = try await client.get(
            paths()[0] + "resourceVersion=0", what: "pod LIST", maxBytes: PodWatcher.maxListBytes)
        let list: SDPodList
        do {
            list = try JSONDecoder().decode(SDPodList.self, from: Data(body))
        } catch {
            throw KubernetesAPIError.undecodable("pod list", error, sample: Data(body))
        }
        state.withLock { state in
            state.pods = Dictionary(list.items.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
            state.version += 1
        }
        return list.metadata.resourceVersion ?? "0"
    }

    private func watch(from resourceVersion: inout String?) async throws {
        let seconds = Int(config.api.watchTimeout.components.seconds)
        let target =
            paths()[0] + "watch=1&allowWatchBookmarks=true&resourceVersion=\(resourceVersion ?? "0")"
            + "&timeoutSeconds=\(Int.random(in: seconds...(2 * seconds)))"
        var version = resourceVersion
        defer { resourceVersion = version }
        try await client.watch(target, maxLineBytes: PodWatcher.maxEventBytes) { line in
            let data = Data(line)
            let event: SDWatchEvent
            do {
                event = try JSONDecoder().decode(SDWatchEvent.self, from: data)
            } catch {
                throw KubernetesAPIError.undecodable("watch event", error, sample: data)
            }
            switch event.type {
            case "ADDED", "MODIFIED":
                guard let pod = event.object else { break }
                state.withLock { state in
                    state.pods[pod.key] = pod
                    state.version += 1
                }
                version = pod.metadata.resourceVersion ?? version
            case "DELETED":
                guard let pod = event.object else { break }
                state.withLock { state in
                    state.pods[pod.key] = nil
                    state.version += 1
                }
                version = pod.metadata.resourceVersion ?? version
            case "BOOKMARK":
                version = event.object?.metadata.resourceVersion ?? version
            case "ERROR":
                let status = try? JSONDecoder().decode(SDStatusEvent.self, from: data).object
                throw KubernetesAPIError.status(status?.code ?? 500, "watch ERROR event", message: status?.message)
            default:
                throw KubernetesAPIError.malformed("unknown watch event type \"\(event.type)\"")
            }
        }
    }

    /// Prometheus' pod role: a target per declared container port (a port-less one per container without ports),
    /// no targets for a pod without an IP.
    static func group(_ pod: SDPod) -> TargetGroup {
        guard let ip = pod.status?.podIP, !ip.isEmpty else { return TargetGroup(targets: [], labels: [:]) }
        var labels: [String: String] = [
            "__meta_kubernetes_namespace": pod.metadata.namespace ?? "",
            "__meta_kubernetes_pod_name": pod.metadata.name ?? "",
            "__meta_kubernetes_pod_ip": ip,
            "__meta_kubernetes_pod_node_name": pod.spec?.nodeName ?? "",
            "__meta_kubernetes_pod_host_ip": pod.status?.hostIP ?? "",
            "__meta_kubernetes_pod_uid": pod.metadata.uid ?? "",
            "__meta_kubernetes_pod_phase": pod.status?.phase ?? "",
            "__meta_kubernetes_pod_ready": pod.isReady ? "true" : "false",
        ]
        for (name, value) in pod.metadata.labels ?? [:] {
            labels["__meta_kubernetes_pod_label_" + sanitize(name)] = value
            labels["__meta_kubernetes_pod_labelpresent_" + sanitize(name)] = "true"
        }
        for (name, value) in pod.metadata.annotations ?? [:] {
            labels["__meta_kubernetes_pod_annotation_" + sanitize(name)] = value
            labels["__meta_kubernetes_pod_annotationpresent_" + sanitize(name)] = "true"
        }
        if let controller = pod.metadata.ownerReferences?.first(where: { $0.controller == true }) {
            labels["__meta_kubernetes_pod_controller_kind"] = controller.kind
            labels["__meta_kubernetes_pod_controller_name"] = controller.name
        }
        var targets: [[String: String]] = []
        let statuses = (pod.status?.containerStatuses ?? []) + (pod.status?.initContainerStatuses ?? [])
        let containers =
            (pod.spec?.containers ?? []).map { ($0, false) } + (pod.spec?.initContainers ?? []).map { ($0, true) }
        for (container, isInit) in containers {
            var own: [String: String] = [
                "__meta_kubernetes_pod_container_name": container.name,
                "__meta_kubernetes_pod_container_image": container.image ?? "",
                "__meta_kubernetes_pod_container_init": isInit ? "true" : "false",
                "__meta_kubernetes_pod_container_id": statuses.first { $0.name == container.name }?.containerID ?? "",
            ]
            guard let ports = container.ports, !ports.isEmpty else {
                own["__address__"] = ip
                targets.append(own)
                continue
            }
            for port in ports {
                var target = own
                target["__address__"] =
                    ip.contains(":") ? "[\(ip)]:\(port.containerPort)" : "\(ip):\(port.containerPort)"
                target["__meta_kubernetes_pod_container_port_name"] = port.name ?? ""
                target["__meta_kubernetes_pod_container_port_number"] = String(port.containerPort)
                target["__meta_kubernetes_pod_container_port_protocol"] = port.protocol ?? "TCP"
                targets.append(target)
            }
        }
        return TargetGroup(targets: targets, labels: labels)
    }

    /// Prometheus' `strutil.SanitizeLabelName`: every byte that cannot be in a label name becomes `_`.
    static func sanitize(_ name: String) -> String {
        String(
            decoding: name.utf8.enumerated().map { index, byte in
                (index == 0 ? PrometheusLabelName.isStart(byte) : PrometheusLabelName.isContinuation(byte))
                    ? byte : UInt8(ascii: "_")
            }, as: UTF8.self)
    }
}

/// The parts of a `v1.Pod` the pod role labels targets with.
struct SDPod: Decodable, Sendable {
    struct Meta: Decodable, Sendable {
        var name: String?
        var namespace: String?
        var uid: String?
        var resourceVersion: String?
        var labels: [String: String]?
        var annotations: [String: String]?
        var ownerReferences: [KubernetesOwnerReference]?
    }

    struct Spec: Decodable, Sendable {
        var nodeName: String?
        var containers: [Container]?
        var initContainers: [Container]?
    }

    struct Container: Decodable, Sendable {
        var name: String
        var image: String?
        var ports: [Port]?
    }

    struct Port: Decodable, Sendable {
        var name: String?
        var containerPort: Int
        var `protocol`: String?
    }

    struct Status: Decodable, Sendable {
        var phase: String?
        var podIP: String?
        var hostIP: String?
        var conditions: [Condition]?
        var containerStatuses: [ContainerStatus]?
        var initContainerStatuses: [ContainerStatus]?
    }

    struct Condition: Decodable, Sendable {
        var type: String
        var status: String
    }

    struct ContainerStatus: Decodable, Sendable {
        var name: String
        var containerID: String?
    }

    var metadata: Meta
    var spec: Spec?
    var status: Status?

    var key: String { "\(metadata.namespace ?? "")/\(metadata.name ?? "")" }

    var isReady: Bool { status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false }
}

/// A `v1.PodList`.
struct SDPodList: Decodable, Sendable {
    struct ListMeta: Decodable, Sendable {
        var resourceVersion: String?
    }

    var metadata: ListMeta
    var items: [SDPod]
}

/// A watch line: its type and, but for ERROR, a pod.
struct SDWatchEvent: Decodable, Sendable {
    var type: String
    var object: SDPod?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        object = type == "ERROR" ? nil : try container.decodeIfPresent(SDPod.self, forKey: .object)
    }

    private enum CodingKeys: String, CodingKey {
        case type
        case object
    }
}

/// An ERROR watch line's status.
struct SDStatusEvent: Decodable, Sendable {
    var object: KubernetesStatus
}
