import Foundation
import Logging
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Testing

@testable import PetrelSources

/// The pod watch against a scripted API server that replays apiserver payloads over TLS: what the index holds, and
/// which requests reach the control plane (resumed watches, one re-LIST per `410 Gone`, the rotated token).
@Suite struct PodWatcherTests {
    static let node = "node-a"
    static let listTarget = "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&resourceVersion=0"

    /// A server, a token file in a temp dir, and a watcher's index and telemetry.
    final class Harness: Sendable {
        let certificates: TestCertificates
        let server: ScriptedKubernetesAPI
        let directory: URL
        let index = PodMetadataIndex()
        let registry = TelemetryRegistry()
        let telemetry: KubernetesAPITelemetry

        init() async throws {
            certificates = try TestCertificates()
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-k8s-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            server = try await ScriptedKubernetesAPI(
                certificates: certificates, token: "token-1",
                nodeReply: .json(status: 200, body: KubernetesFixtures.node()))
            telemetry = KubernetesAPITelemetry(registry: registry, componentID: "pods")
            try writeToken("token-1")
        }

        var tokenFile: String { directory.appendingPathComponent("token").path }

        /// Replaces the token file as the kubelet does: a new file renamed over the old.
        func writeToken(_ token: String) throws {
            let temporary = directory.appendingPathComponent("token.new").path
            try (token + "\n").write(toFile: temporary, atomically: false, encoding: .utf8)
            guard rename(temporary, tokenFile) == 0 else { throw CocoaError(.fileWriteUnknown) }
        }

        func config() throws -> KubernetesAPIConfig {
            let endpoint = try HTTPEndpoint.parse(server.url).get()
            var config = KubernetesAPIConfig(
                endpoint: endpoint, tokenFile: tokenFile, caFile: server.caFile, nodeName: PodWatcherTests.node)
            config.watchTimeout = .seconds(60)
            config.retryInitialDelay = .milliseconds(50)
            config.retryMaxDelay = .milliseconds(200)
            config.tokenCheckInterval = .zero
            return config
        }

        /// Runs a watcher until `body` returns, then cancels it and waits for its end.
        func withWatcher(_ body: () async throws -> Void) async throws {
            let watcher = try PodWatcher(
                config: try config(), index: index, telemetry: telemetry, logger: Logger(label: "pod-watcher-test"))
            let task = Task { await watcher.run() }
            do {
                try await body()
            } catch {
                task.cancel()
                await task.value
                throw error
            }
            task.cancel()
            await task.value
        }

        func stop() async {
            await server.stop()
            try? FileManager.default.removeItem(at: directory)
        }

        /// Waits until `condition` holds, for at most 30 s.
        func wait(until condition: @Sendable () -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if condition() { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return condition()
        }
    }

    static func pod(_ name: String, uid: String, version: String, labels: [String: String] = [:]) -> String {
        KubernetesFixtures.pod(
            name: name, uid: uid, resourceVersion: version, node: node, labels: labels,
            owner: ("ReplicaSet", "web-5f7c9d8b4"), templateHash: "5f7c9d8b4")
    }

    static func watchTarget(from version: String, _ request: ScriptedKubernetesAPI.Request) -> String {
        "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1&allowWatchBookmarks=true&resourceVersion=\(version)"
            + "&timeoutSeconds=\(request.query["timeoutSeconds"] ?? "?")"
    }

    @Test func listThenWatchEventsAndADroppedWatchResumesWithoutAList() async throws {
        let harness = try await Harness()
        let web = Self.pod("web-5f7c9d8b4-abcde", uid: "uid-web", version: "90", labels: ["app": "web"])
        let db = KubernetesFixtures.pod(
            name: "db-0", uid: "uid-db", resourceVersion: "95", node: Self.node, owner: ("StatefulSet", "db"))
        let webChanged = Self.pod(
            "web-5f7c9d8b4-abcde", uid: "uid-web", version: "102", labels: ["app": "web", "v": "2"])
        let modified = KubernetesFixtures.event("MODIFIED", webChanged)
        let cut = modified.index(modified.startIndex, offsetBy: modified.count / 2)
        harness.server.enqueue(
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "100", pods: [web, db])),
            .stream([
                .event(
                    KubernetesFixtures.event(
                        "ADDED",
                        KubernetesFixtures.pod(
                            name: "backup-29412360-x7p2k", uid: "uid-job", resourceVersion: "101", node: Self.node,
                            owner: ("Job", "backup-29412360")))),
                // One event in two chunks, as TCP may deliver it.
                .bytes(String(modified[..<cut])), .bytes(String(modified[cut...]) + "\n"),
                .event(KubernetesFixtures.event("DELETED", db.replacingOccurrences(of: #""95""#, with: #""103""#))),
                .event(KubernetesFixtures.bookmark(resourceVersion: "150")),
                .drop,
            ]))
        try await harness.withWatcher {
            #expect(await harness.server.wait { $0.podRequests.count == 3 })
        }
        let requests = harness.server.podRequests
        await harness.stop()
        try #require(requests.count == 3)
        #expect(requests[0].target == Self.listTarget)
        #expect(requests[1].target == Self.watchTarget(from: "100", requests[1]))
        // Resumed from the bookmark, the last version seen, and no second LIST.
        #expect(requests[2].target == Self.watchTarget(from: "150", requests[2]))
        let timeout = Int(requests[1].query["timeoutSeconds"] ?? "") ?? 0
        #expect((60...120).contains(timeout))
        #expect(requests.allSatisfy { $0.authorization == "Bearer token-1" })

        let index = harness.index
        #expect(index.pod(uid: "uid-web")?.labels == ["app": "web", "v": "2", "pod-template-hash": "5f7c9d8b4"])
        #expect(index.pod(uid: "uid-web")?.owner?.description == "Deployment/web")
        #expect(index.pod(uid: "uid-job")?.owner?.description == "CronJob/backup")
        #expect(index.pod(namespace: "shop", name: "backup-29412360-x7p2k")?.uid == "uid-job")
        #expect(index.pod(uid: "uid-db") == nil)
        #expect(index.count == 2)
        #expect(index.nodeLabels["topology.kubernetes.io/zone"] == "eu-west-1b")
        #expect(index.nodeLabels["node.kubernetes.io/instance-type"] == "m6i.large")
        #expect(harness.registry.value("petrel_kubernetes_relists_total", labels: [("component_id", "pods")]) == 0)
        #expect(
            harness.registry.value("petrel_kubernetes_watch_restarts_total", labels: [("component_id", "pods")]) == 1)
        #expect(harness.registry.value("petrel_kubernetes_api_errors_total", labels: [("component_id", "pods")]) == 1)
    }

    @Test func anErrorEventWithGoneRelistsExactlyOnce() async throws {
        let harness = try await Harness()
        let first = Self.pod("web-5f7c9d8b4-aaaaa", uid: "uid-1", version: "90")
        let second = Self.pod("web-5f7c9d8b4-bbbbb", uid: "uid-2", version: "180")
        harness.server.enqueue(
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "100", pods: [first])),
            .stream([.event(KubernetesFixtures.goneEvent(requested: "100", current: "200")), .end]),
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "200", pods: [second])))
        try await harness.withWatcher {
            #expect(await harness.server.wait { $0.podRequests.count == 4 })
            // The fourth request is a quiet watch: nothing more comes, so nothing more is asked.
            try await Task.sleep(for: .milliseconds(300))
        }
        let requests = harness.server.podRequests
        await harness.stop()
        try #require(requests.count == 4)
        #expect(requests.map(\.isWatch) == [false, true, false, true])
        #expect(requests[2].target == Self.listTarget)
        #expect(requests[3].target == Self.watchTarget(from: "200", requests[3]))
        #expect(harness.index.pod(uid: "uid-1") == nil)
        #expect(harness.index.pod(uid: "uid-2") != nil)
        #expect(harness.registry.value("petrel_kubernetes_relists_total", labels: [("component_id", "pods")]) == 1)
        #expect(harness.registry.value("petrel_kubernetes_api_errors_total", labels: [("component_id", "pods")]) == 0)
    }

    @Test func anHTTPGoneAnswerToAWatchRelistsExactlyOnce() async throws {
        let harness = try await Harness()
        harness.server.enqueue(
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "100", pods: [])),
            .json(status: 410, body: KubernetesFixtures.goneStatus(requested: "100", current: "300")),
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "300", pods: [])))
        try await harness.withWatcher {
            #expect(await harness.server.wait { $0.podRequests.count == 4 })
            try await Task.sleep(for: .milliseconds(300))
        }
        let requests = harness.server.podRequests
        await harness.stop()
        #expect(requests.map(\.isWatch) == [false, true, false, true])
        #expect(requests.map(\.status) == [200, 410, 200, 200])
        #expect(requests.last.map { $0.target == Self.watchTarget(from: "300", $0) } == true)
        #expect(harness.registry.value("petrel_kubernetes_relists_total", labels: [("component_id", "pods")]) == 1)
    }

    @Test func aRotatedTokenIsSentOnTheNextRequest() async throws {
        let harness = try await Harness()
        harness.server.enqueue(
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "100", pods: [])),
            .stream([
                .event(
                    KubernetesFixtures.event("ADDED", Self.pod("web-5f7c9d8b4-ccccc", uid: "uid-3", version: "101"))),
                .pause, .drop,
            ]))
        try await harness.withWatcher {
            #expect(await harness.wait { harness.index.pod(uid: "uid-3") != nil })
            try harness.writeToken("token-2")
            harness.server.token = "token-2"
            harness.server.resume()
            #expect(await harness.server.wait { $0.podRequests.count == 3 })
        }
        let requests = harness.server.podRequests
        await harness.stop()
        try #require(requests.count == 3)
        #expect(requests.map(\.authorization) == ["Bearer token-1", "Bearer token-1", "Bearer token-2"])
        #expect(requests[2].status == 200)
        #expect(requests[2].target == Self.watchTarget(from: "101", requests[2]))
    }

    @Test func aPodDeletedWhileItsFilesAreReadKeepsItsMetadataUntilReleased() async throws {
        let harness = try await Harness()
        let job = KubernetesFixtures.pod(
            name: "smoke-test-9xk2p", uid: "uid-short", resourceVersion: "100", node: Self.node,
            labels: ["app": "smoke"], owner: ("Job", "smoke-test"))
        harness.server.enqueue(
            .json(status: 200, body: KubernetesFixtures.podList(resourceVersion: "100", pods: [job])),
            .stream([
                .pause,
                .event(KubernetesFixtures.event("DELETED", job.replacingOccurrences(of: #""100""#, with: #""104""#))),
            ]))
        try await harness.withWatcher {
            #expect(await harness.wait { harness.index.pod(uid: "uid-short") != nil })
            harness.index.retain(uid: "uid-short")  // the tailer is still reading the pod's files
            harness.server.resume()
            #expect(await harness.wait { harness.index.pod(uid: "uid-short")?.isDeleted == true })
            #expect(harness.index.pod(uid: "uid-short")?.labels == ["app": "smoke"])
            #expect(harness.index.pod(uid: "uid-short")?.owner?.description == "Job/smoke-test")
            harness.index.release(uid: "uid-short")  // read to the end
            #expect(harness.index.pod(uid: "uid-short") == nil)
        }
        await harness.stop()
    }

    @Test func aRefusedTokenIsAnErrorAndTheListIsTriedAgain() async throws {
        let harness = try await Harness()
        harness.server.token = "someone-else"
        try await harness.withWatcher {
            #expect(await harness.server.wait { $0.podRequests.count >= 3 })
        }
        let requests = harness.server.podRequests
        await harness.stop()
        #expect(requests.allSatisfy { $0.status == 401 && $0.target == Self.listTarget })
        #expect(
            (harness.registry.value("petrel_kubernetes_api_errors_total", labels: [("component_id", "pods")]) ?? 0) >= 3
        )
        #expect(!harness.index.hasSynced)
    }

    @Test func backoffDoublesUpToItsBoundAndNeverWaitsLessThanHalfAStep() {
        var backoff = RetryBackoff(initial: .milliseconds(100), maximum: .seconds(1))
        let steps: [Duration] = [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
        ]
        for step in steps {
            let delay = backoff.next()
            #expect(delay >= step / 2 && delay <= step)
        }
        backoff.reset()
        #expect(backoff.next() <= .milliseconds(100))
    }
}
