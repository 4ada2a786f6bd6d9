import Synchronization

/// This node's pods as the API last described them, for the tailer to look up by the uid in a log file's path.
///
/// A deleted pod stays while someone holds it (`retain`/`release`, counted): the tailer holds a pod from the moment
/// it finds the pod's log directory until it has read its files to the end, so records of a pod that lived 200 ms
/// still get its labels, however long the backlog takes. A deleted pod nobody holds is dropped at once.
public final class PodMetadataIndex: Sendable {
    private struct NamespacedName: Hashable {
        var namespace: String
        var name: String
    }

    private struct State {
        var pods: [String: PodMetadata] = [:]
        var uidsByName: [NamespacedName: String] = [:]
        var holds: [String: Int] = [:]
        var nodeLabels: [String: String] = [:]
        var hasSynced = false

        mutating func store(_ pod: PodMetadata) {
            pods[pod.uid] = pod
            let key = NamespacedName(namespace: pod.namespace, name: pod.name)
            // A StatefulSet's pod comes back under the same name with a new uid; the name finds the live one.
            if !pod.isDeleted || uidsByName[key] == nil { uidsByName[key] = pod.uid }
        }

        mutating func markDeleted(_ uid: String) {
            guard var pod = pods[uid] else { return }
            if holds[uid, default: 0] > 0 {
                pod.isDeleted = true
                pods[uid] = pod
            } else {
                remove(pod)
            }
        }

        mutating func remove(_ pod: PodMetadata) {
            pods[pod.uid] = nil
            let key = NamespacedName(namespace: pod.namespace, name: pod.name)
            if uidsByName[key] == pod.uid { uidsByName[key] = nil }
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// The pod with this uid (the `<uid>` of `/var/log/pods/<namespace>_<pod>_<uid>/`).
    public func pod(uid: String) -> PodMetadata? {
        state.withLock { $0.pods[uid] }
    }

    /// The pod with this name, the live one when a deleted pod of the same name is still held.
    public func pod(namespace: String, name: String) -> PodMetadata? {
        state.withLock { state in
            state.uidsByName[NamespacedName(namespace: namespace, name: name)].flatMap { state.pods[$0] }
        }
    }

    /// The labels of the node the pods run on (zone, region, instance type…); empty until fetched.
    public var nodeLabels: [String: String] {
        state.withLock { $0.nodeLabels }
    }

    /// Whether the first LIST has been applied: before it, a missing pod may simply not be known yet.
    public var hasSynced: Bool {
        state.withLock { $0.hasSynced }
    }

    /// Pods held in the index, deleted ones included.
    public var count: Int {
        state.withLock { $0.pods.count }
    }

    /// Keeps the pod's metadata after its deletion until a matching `release`; may come before the pod is known.
    public func retain(uid: String) {
        state.withLock { $0.holds[uid, default: 0] += 1 }
    }

    /// Lets go of one `retain`; the last one drops a deleted pod.
    public func release(uid: String) {
        state.withLock { state in
            guard let holds = state.holds[uid] else { return }
            if holds > 1 {
                state.holds[uid] = holds - 1
                return
            }
            state.holds[uid] = nil
            if let pod = state.pods[uid], pod.isDeleted { state.remove(pod) }
        }
    }

    /// The pods of a LIST: pods the index knew and the LIST no longer has were deleted meanwhile.
    func replaceAll(_ pods: [PodMetadata]) {
        state.withLock { state in
            let listed = Set(pods.map(\.uid))
            for uid in state.pods.keys where !listed.contains(uid) { state.markDeleted(uid) }
            for pod in pods { state.store(pod) }
            state.hasSynced = true
        }
    }

    /// An ADDED or MODIFIED pod.
    func update(_ pod: PodMetadata) {
        state.withLock { state in
            var pod = pod
            // A pod once marked for deletion stays so, whatever order the events came in.
            if state.pods[pod.uid]?.isDeleted == true { pod.isDeleted = true }
            state.store(pod)
        }
    }

    /// A DELETED pod: the last state the API had of it is kept while it is held.
    func delete(_ pod: PodMetadata) {
        state.withLock { state in
            var pod = pod
            pod.isDeleted = true
            state.store(pod)
            state.markDeleted(pod.uid)
        }
    }

    func setNodeLabels(_ labels: [String: String]) {
        state.withLock { $0.nodeLabels = labels }
    }
}
