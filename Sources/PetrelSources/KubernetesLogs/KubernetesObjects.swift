#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The parts of the Kubernetes API objects that log records need, decoded with Foundation's JSONDecoder: LISTs and
// watch events are read once per pod change, far off the per-line path. Every field is optional, as a BOOKMARK's
// object carries only its resourceVersion.

/// `metadata` of any object.
struct KubernetesObjectMeta: Decodable, Sendable {
    var name: String?
    var namespace: String?
    var uid: String?
    var resourceVersion: String?
    var deletionTimestamp: String?
    var labels: [String: String]?
    var annotations: [String: String]?
    var ownerReferences: [KubernetesOwnerReference]?
}

/// One entry of `metadata.ownerReferences`.
struct KubernetesOwnerReference: Decodable, Sendable {
    var kind: String
    var name: String
    var controller: Bool?
}

/// A `v1.Pod`, reduced to its metadata, node and container names.
struct KubernetesPod: Decodable, Sendable {
    struct Spec: Decodable, Sendable {
        var nodeName: String?
        var containers: [Container]?
        var initContainers: [Container]?
    }

    struct Container: Decodable, Sendable {
        var name: String
    }

    var metadata: KubernetesObjectMeta
    var spec: Spec?
}

/// A `v1.PodList`: the pods and the resourceVersion a watch resumes from.
struct KubernetesPodList: Decodable, Sendable {
    struct ListMeta: Decodable, Sendable {
        var resourceVersion: String?
    }

    var metadata: ListMeta
    var items: [KubernetesPod]
}

/// A `v1.Node`, for its labels.
struct KubernetesNode: Decodable, Sendable {
    var metadata: KubernetesObjectMeta
}

/// A `meta.v1.Status`: what an apiserver sends instead of an object when something failed (`410 Gone` after a
/// compaction, `401`, `403`).
struct KubernetesStatus: Decodable, Sendable {
    var code: Int?
    var reason: String?
    var message: String?
}

/// One line of a watch: `{"type":"ADDED","object":{…}}`.
enum KubernetesWatchEvent: Sendable {
    case added(KubernetesPod)
    case modified(KubernetesPod)
    case deleted(KubernetesPod)
    /// Only the resourceVersion is meaningful: the server has sent every change up to it.
    case bookmark(resourceVersion: String)
    case error(KubernetesStatus)

    /// Decodes one watch line; throws `KubernetesAPIError` on anything that is not a watch event of pods.
    static func decode(_ line: some Collection<UInt8>) throws(KubernetesAPIError) -> KubernetesWatchEvent {
        let data = Data(line)
        let type: String
        do {
            type = try JSONDecoder().decode(EventType.self, from: data).type
        } catch {
            throw .undecodable("watch event", error, sample: data)
        }
        do {
            switch type {
            case "ADDED": return .added(try JSONDecoder().decode(Envelope<KubernetesPod>.self, from: data).object)
            case "MODIFIED": return .modified(try JSONDecoder().decode(Envelope<KubernetesPod>.self, from: data).object)
            case "DELETED": return .deleted(try JSONDecoder().decode(Envelope<KubernetesPod>.self, from: data).object)
            case "BOOKMARK":
                let object = try JSONDecoder().decode(Envelope<KubernetesPod>.self, from: data).object
                guard let version = object.metadata.resourceVersion else {
                    throw KubernetesAPIError.malformed("a BOOKMARK event has no metadata.resourceVersion")
                }
                return .bookmark(resourceVersion: version)
            case "ERROR": return .error(try JSONDecoder().decode(Envelope<KubernetesStatus>.self, from: data).object)
            default: throw KubernetesAPIError.malformed("unknown watch event type \"\(type)\"")
            }
        } catch let error as KubernetesAPIError {
            throw error
        } catch {
            throw .undecodable("\(type) event", error, sample: data)
        }
    }

    private struct EventType: Decodable {
        var type: String
    }

    private struct Envelope<Object: Decodable>: Decodable {
        var object: Object
    }
}

extension KubernetesPodList {
    /// Decodes a LIST response body.
    static func decode(_ body: some Collection<UInt8>) throws(KubernetesAPIError) -> KubernetesPodList {
        let data = Data(body)
        do {
            return try JSONDecoder().decode(KubernetesPodList.self, from: data)
        } catch {
            throw .undecodable("pod list", error, sample: data)
        }
    }
}

extension KubernetesNode {
    /// Decodes a node GET response body.
    static func decode(_ body: some Collection<UInt8>) throws(KubernetesAPIError) -> KubernetesNode {
        let data = Data(body)
        do {
            return try JSONDecoder().decode(KubernetesNode.self, from: data)
        } catch {
            throw .undecodable("node", error, sample: data)
        }
    }
}

extension KubernetesStatus {
    /// The Status in an error response's body, if it holds one.
    static func decode(_ body: some Collection<UInt8>) -> KubernetesStatus? {
        try? JSONDecoder().decode(KubernetesStatus.self, from: Data(body))
    }
}
