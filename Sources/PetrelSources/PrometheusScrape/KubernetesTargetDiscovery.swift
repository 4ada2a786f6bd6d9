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
    /// What is discovered, as Prometheus' roles.
    public enum Role: String, Sendable, CaseIterable {
        case pod
        case node
        case service
        case endpoints

        /// The API's plural name of the role's objects.
        var resource: String { self == .endpoints ? "endpoints" : rawValue + "s" }

        /// The kinds of object the role keeps: the endpoints role labels its targets from services and pods too.
        var watched: [Role] { self == .endpoints ? [.endpoints, .service, .pod] : [self] }
    }

    /// A `selectors` entry: `label` and `field`, as the API takes them.
    public struct Selector: Sendable, Equatable {
        public var label: String?
        public var field: String?
    }

    public var role: Role
    public var api: KubernetesAPIConfig
    /// `namespaces.names`; empty for every namespace.
    public var namespaces: [String]
    /// The `selectors` by the role of the objects they narrow. A DaemonSet scrapes only its own node's pods with
    /// `{role: pod, field: spec.nodeName=${NODE_NAME}}`.
    public var selectors: [Role: Selector]

    /// Reads one entry; `nil` when it has errors (reported to `reader`).
    static func parse(_ reader: ConfigReader, environment: [String: String]) -> KubernetesDiscoveryConfig? {
        defer { reader.finish() }
        let errors = reader.diagnostics.errors.count
        let roleText = reader.requiredString("role") ?? ""
        let role = Role(rawValue: roleText)
        if !roleText.isEmpty && role == nil {
            reader.error(
                "role",
                "role \"\(roleText)\" is not supported; Petrel discovers pod, node, service and endpoints "
                    + "(not endpointslice or ingress)")
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
        var selectors: [Role: Selector] = [:]
        for section in reader.sectionList("selectors") ?? [] {
            let selectorRole = section.requiredString("role").flatMap(Role.init(rawValue:))
            let selector = Selector(label: section.string("label"), field: section.string("field"))
            if let role, let selectorRole, role.watched.contains(selectorRole) {
                selectors[selectorRole] = selector
            } else if role != nil {
                section.error(
                    "role",
                    "the \(roleText) role takes selectors of role "
                        + (role?.watched.map(\.rawValue).joined(separator: ", ") ?? roleText))
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
        let nodeName = selectors[.pod]?.field.flatMap(Self.nodeName) ?? environment["NODE_NAME"] ?? "-"
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
            role: role, api: apiConfig, namespaces: namespaces, selectors: selectors)
    }

    /// The node of a `spec.nodeName=<node>` field selector.
    private static func nodeName(_ selector: String) -> String? {
        for term in selector.split(separator: ",") where term.hasPrefix("spec.nodeName=") {
            return String(term.dropFirst("spec.nodeName=".count))
        }
        return nil
    }
}

/// Keeps the objects a `kubernetes_sd_configs` role needs, each kind by LIST then WATCH (resumed from the last
/// resourceVersion, relisting after `410 Gone`), and turns them into target groups with Prometheus'
/// `__meta_kubernetes_*` labels. The endpoints role watches endpoints, services and pods, to label each address
/// with its service and pod as Prometheus does.
final class KubernetesTargetDiscovery: Sendable {
    let config: KubernetesDiscoveryConfig
    private let logger: Logger
    private let client: KubernetesAPIClient
    private let state = Mutex(KubernetesSDState())

    init(_ config: KubernetesDiscoveryConfig, logger: Logger) throws(TLSFileError) {
        self.config = config
        self.logger = logger
        let tls = config.api.endpoint.usesTLS ? try ReloadingClientTLS(config.api.tlsSettings, logger: logger) : nil
        client = KubernetesAPIClient(
            config: config.api, tls: tls, watchIdleTimeout: config.api.watchTimeout * 2 + .seconds(30),
            watchConnections: config.role.watched.count)
    }

    /// Changes so far, and the groups of every object of the role now, by namespace and name.
    var current: (version: Int, groups: [TargetGroup]) {
        let state = state.withLock { $0 }
        let groups: [TargetGroup]
        switch config.role {
        case .pod: groups = state.pods.keys.sorted().map { KubernetesTargetGroups.pod(state.pods[$0]!) }
        case .node: groups = state.nodes.keys.sorted().map { KubernetesTargetGroups.node(state.nodes[$0]!) }
        case .service:
            groups = state.services.keys.sorted().map { KubernetesTargetGroups.service(state.services[$0]!) }
        case .endpoints:
            groups = state.endpoints.keys.sorted().map {
                KubernetesTargetGroups.endpoints(state.endpoints[$0]!, services: state.services, pods: state.pods)
            }
        }
        return (state.version, groups)
    }

    /// Watches until the task is cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            for role in config.role.watched {
                group.addTask {
                    switch role {
                    case .pod: await self.keep(role, \.pods)
                    case .node: await self.keep(role, \.nodes)
                    case .service: await self.keep(role, \.services)
                    case .endpoints: await self.keep(role, \.endpoints)
                    }
                }
            }
        }
        await client.shutdown()
    }

    /// Keeps one kind of object in `state[keyPath: objects]` until cancelled.
    private func keep<Object: KubernetesSDObject>(
        _ role: KubernetesDiscoveryConfig.Role,
        _ objects: WritableKeyPath<KubernetesSDState, [String: Object]> & Sendable
    ) async {
        var resourceVersion: String?
        var backoff = RetryBackoff(initial: config.api.retryInitialDelay, maximum: config.api.retryMaxDelay)
        while !Task.isCancelled {
            do {
                if resourceVersion == nil { resourceVersion = try await list(role, objects) }
                try await watch(role, objects, from: &resourceVersion)
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
                    "kubernetes_sd_configs: \(role.resource) watch failed; retrying",
                    metadata: ["reason": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// The path of a kind of object and the start of its query, with the selectors given for its role; nodes are
    /// not namespaced, and one namespace at most is given (checked when read).
    private func path(_ role: KubernetesDiscoveryConfig.Role) -> String {
        var query: [String] = []
        let selector = config.selectors[role]
        if let field = selector?.field { query.append("fieldSelector=\(PodWatcher.percentEncoded(field))") }
        if let label = selector?.label { query.append("labelSelector=\(PodWatcher.percentEncoded(label))") }
        let suffix = "?" + query.joined(separator: "&") + (query.isEmpty ? "" : "&")
        guard role != .node, let namespace = config.namespaces.first else { return "/api/v1/\(role.resource)" + suffix }
        return "/api/v1/namespaces/\(PodWatcher.percentEncoded(namespace))/\(role.resource)" + suffix
    }

    private func list<Object: KubernetesSDObject>(
        _ role: KubernetesDiscoveryConfig.Role,
        _ objects: WritableKeyPath<KubernetesSDState, [String: Object]> & Sendable
    ) async throws -> String {
        let what = "\(role.resource) LIST"
        let body = try await client.get(path(role) + "resourceVersion=0", what: what, maxBytes: PodWatcher.maxListBytes)
        let list: SDList<Object>
        do {
            list = try JSONDecoder().decode(SDList<Object>.self, from: Data(body))
        } catch {
            throw KubernetesAPIError.undecodable("\(role.resource) list", error, sample: Data(body))
        }
        state.withLock { state in
            state[keyPath: objects] = Dictionary(list.items.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
            state.version += 1
        }
        return list.metadata.resourceVersion ?? "0"
    }

    private func watch<Object: KubernetesSDObject>(
        _ role: KubernetesDiscoveryConfig.Role,
        _ objects: WritableKeyPath<KubernetesSDState, [String: Object]> & Sendable,
        from resourceVersion: inout String?
    ) async throws {
        let seconds = Int(config.api.watchTimeout.components.seconds)
        let target =
            path(role) + "watch=1&allowWatchBookmarks=true&resourceVersion=\(resourceVersion ?? "0")"
            + "&timeoutSeconds=\(Int.random(in: seconds...(2 * seconds)))"
        var version = resourceVersion
        defer { resourceVersion = version }
        try await client.watch(target, what: "\(role.resource) watch", maxLineBytes: PodWatcher.maxEventBytes) {
            line in
            let data = Data(line)
            let event: SDWatchEvent<Object>
            do {
                event = try JSONDecoder().decode(SDWatchEvent<Object>.self, from: data)
            } catch {
                throw KubernetesAPIError.undecodable("watch event", error, sample: data)
            }
            switch event.type {
            case "ADDED", "MODIFIED", "DELETED":
                guard let object = event.object else { break }
                let deleted = event.type == "DELETED"
                state.withLock { state in
                    state[keyPath: objects][object.key] = deleted ? nil : object
                    state.version += 1
                }
                version = object.metadata.resourceVersion ?? version
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
}

/// What a discovery keeps, by namespace/name, and a count of changes the job runner compares.
struct KubernetesSDState: Sendable {
    var pods: [String: SDPod] = [:]
    var nodes: [String: SDNode] = [:]
    var services: [String: SDService] = [:]
    var endpoints: [String: SDEndpoints] = [:]
    var version = 0
}
