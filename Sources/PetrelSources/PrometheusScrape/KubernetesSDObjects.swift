/// An object `kubernetes_sd_configs` keeps from a LIST and its WATCH: what it needs of a pod, node, service or
/// endpoints, every field optional because a BOOKMARK carries little more than a resourceVersion.
protocol KubernetesSDObject: Decodable, Sendable {
    var metadata: SDObjectMeta { get }
}

extension KubernetesSDObject {
    /// `namespace/name`, or the name alone for a node.
    var key: String { "\(metadata.namespace ?? "")/\(metadata.name ?? "")" }
}

/// The `metadata` of every object.
struct SDObjectMeta: Decodable, Sendable {
    var name: String?
    var namespace: String?
    var uid: String?
    var resourceVersion: String?
    var labels: [String: String]?
    var annotations: [String: String]?
    var ownerReferences: [KubernetesOwnerReference]?
}

/// The parts of a `v1.Pod` the pod and endpoints roles label targets with.
struct SDPod: KubernetesSDObject {
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

    var metadata: SDObjectMeta
    var spec: Spec?
    var status: Status?

    var isReady: Bool { status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false }
}

/// The parts of a `v1.Node` the node role labels its kubelet target with.
struct SDNode: KubernetesSDObject {
    struct Status: Decodable, Sendable {
        var addresses: [Address]?
        var daemonEndpoints: DaemonEndpoints?
    }

    struct Address: Decodable, Sendable {
        var type: String
        var address: String
    }

    struct DaemonEndpoints: Decodable, Sendable {
        var kubeletEndpoint: KubeletEndpoint?
    }

    struct KubeletEndpoint: Decodable, Sendable {
        var port: Int?

        // The API spells this one field with a capital: `DaemonEndpoint.Port`.
        private enum CodingKeys: String, CodingKey {
            case port = "Port"
        }
    }

    var metadata: SDObjectMeta
    var status: Status?
}

/// The parts of a `v1.Service` the service and endpoints roles label targets with.
struct SDService: KubernetesSDObject {
    struct Spec: Decodable, Sendable {
        var type: String?
        var clusterIP: String?
        var externalName: String?
        var ports: [Port]?
    }

    struct Port: Decodable, Sendable {
        var name: String?
        var port: Int
        var `protocol`: String?
    }

    var metadata: SDObjectMeta
    var spec: Spec?
}

/// A `v1.Endpoints`: the addresses behind a service, by subset.
struct SDEndpoints: KubernetesSDObject {
    struct Subset: Decodable, Sendable {
        var addresses: [Address]?
        var notReadyAddresses: [Address]?
        var ports: [Port]?
    }

    struct Address: Decodable, Sendable {
        var ip: String
        var hostname: String?
        var nodeName: String?
        var targetRef: Reference?
    }

    struct Reference: Decodable, Sendable {
        var kind: String?
        var name: String?
        var namespace: String?
    }

    struct Port: Decodable, Sendable {
        var name: String?
        var port: Int
        var `protocol`: String?
    }

    var metadata: SDObjectMeta
    var subsets: [Subset]?
}

/// A LIST answer: its resourceVersion and items.
struct SDList<Object: KubernetesSDObject>: Decodable, Sendable {
    struct ListMeta: Decodable, Sendable {
        var resourceVersion: String?
    }

    var metadata: ListMeta
    var items: [Object]
}

/// A watch line: its type and, but for ERROR, an object.
struct SDWatchEvent<Object: KubernetesSDObject>: Decodable, Sendable {
    var type: String
    var object: Object?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        object = type == "ERROR" ? nil : try container.decodeIfPresent(Object.self, forKey: .object)
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
