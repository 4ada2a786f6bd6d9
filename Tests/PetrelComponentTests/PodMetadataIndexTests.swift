import Foundation
import NIOCore
import PetrelTestSupport
import Testing

@testable import PetrelSources

/// Pod objects to metadata, the workload behind a pod, and the index the tailer looks pods up in.
@Suite struct PodMetadataIndexTests {
    private func metadata(_ json: String) throws -> PodMetadata {
        let event = try KubernetesWatchEvent.decode(Array(KubernetesFixtures.event("ADDED", json).utf8))
        guard case .added(let pod) = event else { throw KubernetesAPIError.malformed("not ADDED") }
        return try #require(PodMetadata(pod))
    }

    @Test func aFullPodObjectGivesItsMetadata() throws {
        let pod = try metadata(
            KubernetesFixtures.pod(
                name: "web-7d9f8b6c5d-x2k4q", uid: "0b6c7a5e-1f2d-4e3c-9b8a-7d6e5f4c3b2a", resourceVersion: "1042",
                labels: ["app": "web"], annotations: ["prometheus.io/scrape": "true"],
                owner: ("ReplicaSet", "web-7d9f8b6c5d"), templateHash: "7d9f8b6c5d", containers: ["app", "sidecar"]))
        #expect(pod.namespace == "shop")
        #expect(pod.name == "web-7d9f8b6c5d-x2k4q")
        #expect(pod.uid == "0b6c7a5e-1f2d-4e3c-9b8a-7d6e5f4c3b2a")
        #expect(pod.labels == ["app": "web", "pod-template-hash": "7d9f8b6c5d"])
        #expect(pod.annotations == ["prometheus.io/scrape": "true"])
        #expect(pod.owner == WorkloadOwner(kind: "Deployment", name: "web"))
        #expect(pod.nodeName == "node-a")
        #expect(pod.containerNames == ["app", "sidecar"])
        #expect(!pod.isTerminating)
        #expect(!pod.isDeleted)
    }

    @Test func ownersAreTheWorkloadsUsersName() {
        let hash = ["pod-template-hash": "5f7c9d8b4"]
        #expect(
            WorkloadOwner.derive(kind: "ReplicaSet", name: "web-5f7c9d8b4", podLabels: hash).description
                == "Deployment/web")
        #expect(
            WorkloadOwner.derive(kind: "ReplicaSet", name: "my-web-app-5f7c9d8b4", podLabels: hash).description
                == "Deployment/my-web-app")
        // Without the label, a suffix in the alphabet of generated names is taken as the hash…
        #expect(
            WorkloadOwner.derive(kind: "ReplicaSet", name: "api-6b4d8fc7d9", podLabels: [:]).description
                == "Deployment/api")
        // …but not a word a user chose.
        #expect(
            WorkloadOwner.derive(kind: "ReplicaSet", name: "api-frontend", podLabels: [:]).description
                == "ReplicaSet/api-frontend")
        // A ReplicaSet whose name does not end in the pod's hash was not made by a Deployment.
        #expect(
            WorkloadOwner.derive(kind: "ReplicaSet", name: "legacy", podLabels: hash).description == "ReplicaSet/legacy"
        )
        #expect(WorkloadOwner.derive(kind: "StatefulSet", name: "db", podLabels: [:]).description == "StatefulSet/db")
        #expect(
            WorkloadOwner.derive(kind: "DaemonSet", name: "petrel", podLabels: [:]).description == "DaemonSet/petrel")
        #expect(
            WorkloadOwner.derive(kind: "Job", name: "backup-29412360", podLabels: [:]).description == "CronJob/backup")
        #expect(WorkloadOwner.derive(kind: "Job", name: "migrate-v2", podLabels: [:]).description == "Job/migrate-v2")
        #expect(WorkloadOwner.derive(kind: "Job", name: "migrate-42", podLabels: [:]).description == "Job/migrate-42")
    }

    @Test func theControllerIsTheOwnerAndTerminatingIsSeen() throws {
        let pod = try metadata(
            KubernetesFixtures.pod(
                name: "db-0", uid: "u-db-0", resourceVersion: "7", owner: ("StatefulSet", "db"), deleting: true))
        #expect(pod.owner == WorkloadOwner(kind: "StatefulSet", name: "db"))
        #expect(pod.isTerminating)
        let bare = try metadata(KubernetesFixtures.pod(name: "debug-shell", uid: "u-debug", resourceVersion: "8"))
        #expect(bare.owner == nil)
    }

    @Test func aDeletedPodStaysWhileRetainedAndGoesAtTheLastRelease() {
        let index = PodMetadataIndex()
        let pod = PodMetadata(namespace: "shop", name: "job-x", uid: "u1", labels: ["app": "job"])
        index.retain(uid: "u1")  // the tailer found the pod's directory before the API told of the pod
        index.retain(uid: "u1")  // and a second container's file
        index.update(pod)
        index.delete(pod)
        #expect(index.pod(uid: "u1")?.labels == ["app": "job"])
        #expect(index.pod(uid: "u1")?.isDeleted == true)
        index.release(uid: "u1")
        #expect(index.pod(uid: "u1") != nil)
        index.release(uid: "u1")
        #expect(index.pod(uid: "u1") == nil)
        #expect(index.pod(namespace: "shop", name: "job-x") == nil)
        #expect(index.count == 0)
    }

    @Test func aDeletedPodNobodyHoldsGoesAtOnceAndReleaseOfALivePodKeepsIt() {
        let index = PodMetadataIndex()
        let pod = PodMetadata(namespace: "shop", name: "web-1", uid: "u1")
        index.update(pod)
        index.retain(uid: "u1")
        index.release(uid: "u1")
        #expect(index.pod(uid: "u1") == pod)
        index.delete(pod)
        #expect(index.pod(uid: "u1") == nil)
        // A release without a retain changes nothing.
        index.release(uid: "u1")
        #expect(index.count == 0)
    }

    @Test func aRecreatedPodOfTheSameNameIsFoundByNameWhileTheOldOneIsHeld() {
        let index = PodMetadataIndex()
        let old = PodMetadata(namespace: "shop", name: "db-0", uid: "old")
        let new = PodMetadata(namespace: "shop", name: "db-0", uid: "new")
        index.update(old)
        index.retain(uid: "old")
        index.delete(old)
        index.update(new)
        #expect(index.pod(namespace: "shop", name: "db-0")?.uid == "new")
        #expect(index.pod(uid: "old")?.isDeleted == true)
        index.release(uid: "old")
        #expect(index.pod(namespace: "shop", name: "db-0")?.uid == "new")
        #expect(index.pod(uid: "old") == nil)
    }

    @Test func aListDropsPodsItNoLongerHasUnlessHeld() {
        let index = PodMetadataIndex()
        index.replaceAll([
            PodMetadata(namespace: "a", name: "p1", uid: "u1"), PodMetadata(namespace: "a", name: "p2", uid: "u2"),
        ])
        index.retain(uid: "u2")
        index.replaceAll([PodMetadata(namespace: "a", name: "p3", uid: "u3")])
        #expect(index.pod(uid: "u1") == nil)
        #expect(index.pod(uid: "u2")?.isDeleted == true)
        #expect(index.pod(uid: "u3") != nil)
        #expect(index.hasSynced)
    }

    @Test func watchEventsDecodeInTheirRealShapes() throws {
        #expect(
            try KubernetesWatchEvent.decode(Array(KubernetesFixtures.bookmark(resourceVersion: "4711").utf8))
                .bookmarkVersion == "4711")
        guard
            case .error(let status) = try KubernetesWatchEvent.decode(
                Array(KubernetesFixtures.goneEvent(requested: "10", current: "900").utf8))
        else {
            Issue.record("not an ERROR event")
            return
        }
        #expect(status.code == 410)
        #expect(status.message == "too old resource version: 10 (900)")
        let list = try KubernetesPodList.decode(
            Array(
                KubernetesFixtures.podList(
                    resourceVersion: "55",
                    pods: [KubernetesFixtures.pod(name: "web-1", uid: "u1", resourceVersion: "50")]
                ).utf8))
        #expect(list.metadata.resourceVersion == "55")
        #expect(list.items.count == 1)
        let node = try KubernetesNode.decode(Array(KubernetesFixtures.node().utf8))
        #expect(node.metadata.labels?["topology.kubernetes.io/zone"] == "eu-west-1b")
    }

    @Test func malformedEventsAreErrorsThatSayWhat() {
        func message(_ line: String) -> String {
            do {
                _ = try KubernetesWatchEvent.decode(Array(line.utf8))
                return "decoded"
            } catch {
                return error.description
            }
        }
        #expect(message(#"{"type":"ADDED","object":{"metadata":"#).hasPrefix("cannot decode a watch event"))
        #expect(message(#"{"object":{}}"#).hasPrefix("cannot decode a watch event"))
        #expect(message(#"{"type":"RESYNC","object":{}}"#) == "unknown watch event type \"RESYNC\"")
        #expect(message(#"{"type":"ADDED","object":[]}"#).hasPrefix("cannot decode a ADDED event"))
        #expect(message(#"{"type":"BOOKMARK","object":{"metadata":{}}}"#).contains("no metadata.resourceVersion"))
        #expect(message("not json").hasPrefix("cannot decode a watch event of 8 bytes"))
    }

    @Test func linesSplitTheSameFedAByteAtATime() throws {
        let events = [
            KubernetesFixtures.event("ADDED", KubernetesFixtures.pod(name: "web-1", uid: "u1", resourceVersion: "5")),
            KubernetesFixtures.bookmark(resourceVersion: "6"),
        ]
        let body = Array((events[0] + "\r\n\n" + events[1] + "\n").utf8)
        var whole = WatchLineSplitter(maxLineBytes: 1 << 20)
        whole.append(ByteBuffer(bytes: body))
        var wholeLines: [String] = []
        while let line = try whole.nextLine() { wholeLines.append(String(decoding: line, as: UTF8.self)) }
        var bytewise = WatchLineSplitter(maxLineBytes: 1 << 20)
        var bytewiseLines: [String] = []
        for byte in body {
            bytewise.append(ByteBuffer(bytes: [byte]))
            while let line = try bytewise.nextLine() { bytewiseLines.append(String(decoding: line, as: UTF8.self)) }
        }
        #expect(wholeLines == events)
        #expect(bytewiseLines == events)
        #expect(bytewise.unfinishedBytes == 0)
    }

    @Test func aLineLongerThanTheLimitIsAnErrorNotABuffer() {
        var lines = WatchLineSplitter(maxLineBytes: 16)
        lines.append(ByteBuffer(string: String(repeating: "x", count: 17)))
        #expect(throws: KubernetesAPIError.self) { try lines.nextLine() }
    }
}

extension KubernetesWatchEvent {
    fileprivate var bookmarkVersion: String? {
        if case .bookmark(let version) = self { return version }
        return nil
    }
}
