import PetrelCore

/// Settings of the `kubernetes_logs` source.
public struct KubernetesLogsSourceConfig: Sendable {
    /// The label selector that excludes Petrel's own pods unless `exclude.pod_labels` says otherwise.
    public static let ownPodsSelector = "app.kubernetes.io/name=petrel"

    /// Where the kubelet keeps container logs: `<pods_root>/<namespace>_<pod>_<uid>/<container>/<n>.log`.
    public var podsRoot = "/var/log/pods"
    /// The tailer's keys, as the `file` source has them.
    public var tailing = FileTailingConfig()
    /// The longest message once the pieces of a split line are joined.
    public var maxMergedLineBytes = 1024 * 1024
    /// This node's name, for `k8s.node.name`.
    public var nodeName: String
    /// Where pod metadata comes from; nil when disabled.
    public var kubernetesAPI: KubernetesAPIConfig?
    /// A pod's container is tailed when it passes every rule given here.
    public var include = PodLogRules()
    /// A pod's container is not tailed when any rule given here matches it.
    public var exclude = PodLogRules(podLabels: try? LabelSelector(parsing: ownPodsSelector))

    public init(nodeName: String = "") {
        self.nodeName = nodeName
    }

    /// Reads the settings, reporting problems to `reader`; `environment` supplies `NODE_NAME` and the in-cluster
    /// API server.
    public init(from reader: ConfigReader, environment: [String: String]) {
        podsRoot = reader.string("pods_root", default: podsRoot)
        if !podsRoot.hasPrefix("/") { reader.error("pods_root", "\"\(podsRoot)\" is not an absolute path") }
        tailing = FileTailingConfig(from: reader)
        maxMergedLineBytes = reader.byteSize("max_merged_line_bytes", default: maxMergedLineBytes)
        if maxMergedLineBytes < tailing.maxLineBytes {
            reader.error("max_merged_line_bytes", "must be at least max_line_bytes (\(tailing.maxLineBytes) bytes)")
        }
        nodeName = reader.string("node_name") ?? environment["NODE_NAME"] ?? ""
        var apiEnvironment = environment
        apiEnvironment["NODE_NAME"] = nodeName
        let errorsBefore = reader.diagnostics.errors.count
        kubernetesAPI = KubernetesAPIConfig.read(from: reader, environment: apiEnvironment)
        // nil with errors is a broken section, already reported; nil without is a disabled one.
        let apiDisabled = kubernetesAPI == nil && reader.diagnostics.errors.count == errorsBefore
        for key in ["include", "exclude"] {
            guard let section = reader.section(key) else { continue }
            let given = section.contains("pod_labels")
            let rules = PodLogRules(from: section, defaultSelector: key == "include" ? nil : exclude.podLabels)
            if given && rules.podLabels != nil && apiDisabled {
                section.error("pod_labels", "needs pod labels from the API: enable kubernetes_api")
            }
            if key == "include" { include = rules } else { exclude = rules }
            section.finish()
        }
    }
}

/// Which containers' logs a rule picks: by namespace and container name (known from the path) and by pod labels
/// (known once the pod's metadata is).
public struct PodLogRules: Sendable {
    /// Namespaces; empty says nothing.
    public var namespaces: [String] = []
    /// A label selector on the pod's labels; nil says nothing.
    public var podLabels: LabelSelector?
    /// Container names; empty says nothing.
    public var containers: [String] = []

    public init(namespaces: [String] = [], podLabels: LabelSelector? = nil, containers: [String] = []) {
        self.namespaces = namespaces
        self.podLabels = podLabels
        self.containers = containers
    }

    init(from reader: ConfigReader, defaultSelector: LabelSelector?) {
        namespaces = reader.stringList("namespaces") ?? []
        containers = reader.stringList("containers") ?? []
        podLabels = defaultSelector
        guard let text = reader.string("pod_labels") else { return }
        // The empty selector matches every pod; written here it means "no label rule" (it turns the default off).
        guard !text.allSatisfy({ $0 == " " }) else {
            podLabels = nil
            return
        }
        do {
            podLabels = try LabelSelector(parsing: text)
        } catch {
            reader.error("pod_labels", "invalid label selector: \(error)")
        }
    }
}
