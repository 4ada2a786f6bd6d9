/// What a log record carries about its pod, from the Kubernetes API.
public struct PodMetadata: Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var uid: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// The workload that runs the pod, when it has a controller.
    public var owner: WorkloadOwner?
    public var nodeName: String?
    /// Init containers first, then the containers, as the spec lists them.
    public var containerNames: [String]
    /// The pod has a deletion timestamp: its containers are being stopped.
    public var isTerminating: Bool
    /// The API deleted the pod; its metadata stays while its files are still read (`PodMetadataIndex.retain`).
    public var isDeleted: Bool

    public init(
        namespace: String, name: String, uid: String, labels: [String: String] = [:],
        annotations: [String: String] = [:], owner: WorkloadOwner? = nil, nodeName: String? = nil,
        containerNames: [String] = [], isTerminating: Bool = false, isDeleted: Bool = false
    ) {
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.labels = labels
        self.annotations = annotations
        self.owner = owner
        self.nodeName = nodeName
        self.containerNames = containerNames
        self.isTerminating = isTerminating
        self.isDeleted = isDeleted
    }

    /// The metadata of a pod object; nil when it lacks a namespace, name or uid.
    init?(_ pod: KubernetesPod) {
        let meta = pod.metadata
        guard let namespace = meta.namespace, let name = meta.name, let uid = meta.uid else { return nil }
        let labels = meta.labels ?? [:]
        let references = meta.ownerReferences ?? []
        let controller = references.first { $0.controller == true } ?? references.first
        self.init(
            namespace: namespace, name: name, uid: uid, labels: labels, annotations: meta.annotations ?? [:],
            owner: controller.map { WorkloadOwner.derive(kind: $0.kind, name: $0.name, podLabels: labels) },
            nodeName: pod.spec?.nodeName,
            containerNames: ((pod.spec?.initContainers ?? []) + (pod.spec?.containers ?? [])).map(\.name),
            isTerminating: meta.deletionTimestamp != nil)
    }
}

/// The workload a pod belongs to, as users name it (`Deployment/web`, not `ReplicaSet/web-5d4f8b7c9`).
public struct WorkloadOwner: Sendable, Equatable, CustomStringConvertible {
    public var kind: String
    public var name: String

    public init(kind: String, name: String) {
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind)/\(name)" }

    /// The workload behind the pod's controller, without watching ReplicaSets or Jobs.
    ///
    /// A Deployment names its ReplicaSets `<deployment>-<pod-template-hash>` and puts the hash in the pod's
    /// `pod-template-hash` label; when the label is missing, a last segment in the alphabet of that hash
    /// (`bcdfghjklmnpqrstvwxz2456789`, as `rand.SafeEncodeString`) is taken as the hash. A CronJob names its Jobs
    /// `<cronjob>-<scheduled time in minutes>`. Any other owner (StatefulSet, DaemonSet, a bare ReplicaSet or Job,
    /// a custom controller) is the workload itself.
    public static func derive(kind: String, name: String, podLabels: [String: String]) -> WorkloadOwner {
        switch kind {
        case "ReplicaSet":
            if let hash = podLabels["pod-template-hash"], !hash.isEmpty, name.hasSuffix("-" + hash),
                name.count > hash.count + 1
            {
                return WorkloadOwner(kind: "Deployment", name: String(name.dropLast(hash.count + 1)))
            }
            if podLabels["pod-template-hash"] == nil, let (base, suffix) = splitLastSegment(name),
                (6...10).contains(suffix.count), suffix.allSatisfy(safeEncodingAlphabet.contains)
            {
                return WorkloadOwner(kind: "Deployment", name: String(base))
            }
        case "Job":
            if let (base, suffix) = splitLastSegment(name), suffix.count >= 8, suffix.allSatisfy(\.isASCIIDigit) {
                return WorkloadOwner(kind: "CronJob", name: String(base))
            }
        default:
            break
        }
        return WorkloadOwner(kind: kind, name: name)
    }

    /// The characters Kubernetes uses for generated name suffixes: no vowels, no look-alikes.
    private static let safeEncodingAlphabet = Set("bcdfghjklmnpqrstvwxz2456789")

    private static func splitLastSegment(_ name: String) -> (Substring, Substring)? {
        guard let dash = name.lastIndex(of: "-"), dash != name.startIndex else { return nil }
        return (name[..<dash], name[name.index(after: dash)...])
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
