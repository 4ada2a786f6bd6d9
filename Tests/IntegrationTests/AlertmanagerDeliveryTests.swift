import Foundation
import Logging
import NIOCore
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Synchronization
import Testing

/// Falco → `http_server` → `alert` (preset falco) → `alertmanager`, against two real Alertmanager 0.25 replicas
/// (Debian's `prometheus-alertmanager`) clustered on loopback, whose webhook receiver the test runs: the alerts arrive
/// in both replicas with the preset's labels and annotations, the cluster notifies once per group, a stopped replica
/// neither delays the other nor misses what it was sent meanwhile, a `kill -9` of Petrel resolves and re-notifies
/// nothing, and the alerts resolve in both replicas once no event came for `resolve_after`.
@Suite(.serialized) struct AlertmanagerDeliveryTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-alertmanager-\(UUID().uuidString)")

    /// One Falco event as `http_output` posts it with `json_output: true`.
    fileprivate static func falcoEvent(rule: String, priority: String, pod: String, output: String) -> [UInt8] {
        let time = RFC3339Text.now()
        return Array(
            """
            {"hostname":"node-1","output":"\(time): \(priority) \(output)","priority":"\(priority)","rule":"\(rule)",\
            "source":"syscall","tags":["container","shell"],"time":"\(time)","output_fields":{"container.id":"0f2a1c3e4b5d",\
            "container.name":"\(pod)-c","evt.type":"execve","k8s.ns.name":"shop","k8s.pod.name":"\(pod)","proc.name":"bash",\
            "user.name":"root"}}
            """.utf8)
    }

    private static let shell = "Terminal shell in container"
    private static let write = "Write below etc"
    private static let outbound = "Unexpected outbound connection"

    private func petrelConfig(sourcePort: Int, replicas: [AlertmanagerReplica]) -> String {
        """
        data_dir: \(directory.path)/petrel-data
        sources:
          falco: { type: http_server, address: "127.0.0.1:\(sourcePort)", path: /falco, codec: json }
        transforms:
          falco_alerts:
            type: alert
            inputs: [falco]
            preset: falco
            resolve_after: 12s
        sinks:
          alertmanager:
            type: alertmanager
            inputs: [falco_alerts]
            endpoints: [\(replicas.map { "\"http://127.0.0.1:\($0.webPort)\"" }.joined(separator: ", "))]
            resend_interval: 1s
            resolve_timeout: 60s
            timeout: 2s
            retry: { initial_backoff: 100ms, max_backoff: 500ms }
          falco_log:
            type: file
            inputs: [falco]
            path: "\(directory.path)/falco.ndjson"
        """
    }

    /// The events a background task posts every second, as a Falco that keeps seeing the same behaviour.
    private final class FalcoFeed: Sendable {
        let events = Mutex<[(rule: String, priority: String, pod: String)]>([])

        func post(to port: Int) async {
            let events = self.events.withLock { $0 }
            for event in events {
                // While Petrel is down the post fails, as Falco's does; the test looks at the alerts, not at this.
                _ = await httpRequest(
                    port: port, method: "POST", path: "/falco", headers: ["Content-Type": "application/json"],
                    body: AlertmanagerDeliveryTests.falcoEvent(
                        rule: event.rule, priority: event.priority, pod: event.pod, output: "seen again"))
            }
        }
    }

    @Test func falcoEventsBecomeAlertsInEveryReplicaOnceAndSurviveEverything() async throws {
        let binary = "/usr/bin/prometheus-alertmanager"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "make test-deps installs it")
        defer { try? FileManager.default.removeItem(at: directory) }
        let webhook = try await AlertWebhook()
        let clusterPorts = [freePort(), freePort()]
        let replicas = try (0..<2).map { index in
            try AlertmanagerReplica(
                binary: binary, directory: directory.appendingPathComponent("am-\(index)"), webhookPort: webhook.port,
                clusterPort: clusterPorts[index], peerPort: clusterPorts[1 - index])
        }
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: petrelConfig(sourcePort: sourcePort, replicas: replicas), directory: directory)
        let feed = FalcoFeed()
        let posting = Task {
            while !Task.isCancelled {
                await feed.post(to: sourcePort)
                try? await Task.sleep(for: .seconds(1))
            }
        }
        do {
            for replica in replicas { try await replica.start() }
            try await petrel.start()

            // Two rules, two alert groups (the route groups by alertname), events every second.
            feed.events.withLock {
                $0 = [(Self.shell, "Notice", "cart-1"), (Self.write, "Error", "api-2")]
            }
            for replica in replicas {
                let arrived = await eventually { await replica.activeAlertNames() == [Self.shell, Self.write] }
                let names = await replica.activeAlertNames()
                #expect(arrived, "replica \(replica.webPort): \(names)")
            }
            let shell = try #require(await replicas[1].activeAlerts().first { $0.labels["alertname"] == Self.shell })
            #expect(
                shell.labels == [
                    "alertname": Self.shell, "severity": "info", "rule": Self.shell, "priority": "Notice",
                    "source": "syscall", "hostname": "node-1", "k8s_ns_name": "shop", "k8s_pod_name": "cart-1",
                    "container_name": "cart-1-c",
                ])
            #expect(shell.annotations["summary"] == Self.shell)
            #expect(shell.annotations["description"]?.hasSuffix("Notice seen again") == true)
            #expect(Int(shell.annotations["count"] ?? "") ?? 0 >= 1)
            let write = try #require(await replicas[0].activeAlerts().first { $0.labels["alertname"] == Self.write })
            #expect(write.labels["severity"] == "warning" && write.labels["priority"] == "Error")

            // One notification per group from the cluster, not one per replica: wait past the second replica's turn.
            #expect(await eventually { webhook.firingGroups().count >= 2 })
            try await Task.sleep(for: .seconds(10))
            #expect(webhook.firingGroups() == [Self.shell, Self.write], "\(webhook.notifications())")
            // The same events flowed on as logs.
            let logged =
                (try? String(contentsOf: directory.appendingPathComponent("falco.ndjson"), encoding: .utf8)) ?? ""
            #expect(logged.contains(Self.shell) && logged.contains(Self.write))

            // kill -9 and restart: the alerts stay active with their first start, nothing is notified anew.
            let startsBefore = await replicas[0].activeAlerts().map(\.startsAt).sorted()
            await petrel.kill()
            try await petrel.start()
            try await Task.sleep(for: .seconds(5))
            for replica in replicas {
                #expect(await replica.activeAlertNames() == [Self.shell, Self.write])
                #expect(await replica.activeAlerts().map(\.startsAt).sorted() == startsBefore)
            }
            #expect(
                webhook.firingGroups() == [Self.shell, Self.write], "no re-notification: \(webhook.notifications())")
            #expect(webhook.resolvedGroups().isEmpty, "nothing resolved: \(webhook.notifications())")

            // One replica hung (SIGSTOP: it takes connections and never answers) while events keep coming: the
            // other takes the new alert at once. Then the hung one is stopped for good, and started again.
            replicas[1].pause()
            feed.events.withLock { $0.append((Self.outbound, "Critical", "db-0")) }
            #expect(
                await eventually(timeout: .seconds(10)) {
                    await replicas[0].activeAlertNames() == [Self.shell, Self.outbound, Self.write]
                }, "the running replica is not held back by the stopped one")
            let stoppedEndpoint = "http://127.0.0.1:\(replicas[1].webPort)/"
            let failedSeries =
                "petrel_alertmanager_alerts_failed_total{component_id=\"alertmanager\",endpoint=\"\(stoppedEndpoint)\"}"
            #expect(await eventually { (await petrel.metric(failedSeries) ?? 0) > 0 })
            await replicas[1].stop()
            try await Task.sleep(for: .seconds(2))
            try await replicas[1].start()
            let caughtUp = await eventually {
                await replicas[1].activeAlertNames() == [Self.shell, Self.outbound, Self.write]
            }
            let caughtUpNames = await replicas[1].activeAlertNames()
            #expect(caughtUp, "the restarted replica caught up: \(caughtUpNames)")
            let outbound = try #require(
                await replicas[1].activeAlerts().first { $0.labels["alertname"] == Self.outbound })
            #expect(outbound.labels["severity"] == "critical")

            // No event for resolve_after: resolved in both replicas, and the webhook hears it.
            posting.cancel()
            await posting.value
            for replica in replicas {
                let resolved = await eventually(timeout: .seconds(40)) { await replica.activeAlertNames().isEmpty }
                let left = await replica.activeAlertNames()
                #expect(resolved, "replica \(replica.webPort) still holds \(left)")
            }
            #expect(
                await eventually { Set(webhook.resolvedGroups()) == [Self.shell, Self.outbound, Self.write] },
                "\(webhook.notifications())")
            #expect(await petrel.stop() == 0)
        } catch {
            posting.cancel()
            await posting.value
            await petrel.kill()
            for replica in replicas { await replica.stop() }
            try await webhook.stop()
            throw error
        }
        for replica in replicas { await replica.stop() }
        try await webhook.stop()
    }

    private func eventually(
        timeout: Duration = .seconds(30), _ condition: @Sendable () async -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return await condition()
    }
}

/// The current time as Falco writes it.
private enum RFC3339Text {
    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}

/// One Alertmanager process of a loopback cluster, its webhook receiver the test's.
final class AlertmanagerReplica: @unchecked Sendable {
    // @unchecked: `process` is touched by the test's own task only, one step after another.
    /// An alert as `GET /api/v2/alerts` lists it.
    struct Listed: Sendable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
    }

    let binary: String
    let directory: URL
    let webPort = freePort()
    let clusterPort: Int
    let peerPort: Int
    private var process: Process?

    init(binary: String, directory: URL, webhookPort: Int, clusterPort: Int, peerPort: Int) throws {
        self.binary = binary
        self.directory = directory
        self.clusterPort = clusterPort
        self.peerPort = peerPort
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Group by rule; short waits so the test sees notifications in seconds; resolved ones are sent too.
        try """
        route:
          receiver: hook
          group_by: [alertname]
          group_wait: 1s
          group_interval: 1s
          repeat_interval: 1h
        receivers:
          - name: hook
            webhook_configs:
              - url: "http://127.0.0.1:\(webhookPort)/hook"
                send_resolved: true
        """.write(to: directory.appendingPathComponent("alertmanager.yml"), atomically: true, encoding: .utf8)
    }

    /// Starts it (again, on the same ports and storage) and waits until it answers `/-/ready`.
    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(directory.path)/alertmanager.yml", "--storage.path=\(directory.path)/data",
            "--web.listen-address=127.0.0.1:\(webPort)", "--cluster.listen-address=127.0.0.1:\(clusterPort)",
            "--cluster.peer=127.0.0.1:\(peerPort)", "--cluster.settle-timeout=2s", "--cluster.peer-timeout=5s",
            "--cluster.gossip-interval=100ms", "--cluster.pushpull-interval=2s", "--log.level=warn",
        ]
        let log = directory.appendingPathComponent("alertmanager.log")
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        for _ in 0..<200 {
            if await httpRequest(port: webPort, path: "/-/ready")?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("alertmanager did not become ready on port \(webPort)")
    }

    /// SIGSTOP: it keeps its sockets and answers nothing, as a replica stuck on a full disk or a long GC.
    func pause() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGSTOP)
    }

    /// SIGTERM to its PID (after SIGCONT, should it be paused), then waits for it to exit.
    func stop() async {
        guard let process else { return }
        self.process = nil
        if process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            process.terminate()
        }
        await offload { process.waitUntilExit() }
    }

    /// The active alerts it holds (resolved ones are not listed).
    func activeAlerts() async -> [Listed] {
        guard let response = await httpRequest(port: webPort, path: "/api/v2/alerts"), response.status == 200,
            let array = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]]
        else { return [] }
        return array.map { object in
            Listed(
                labels: object["labels"] as? [String: String] ?? [:],
                annotations: object["annotations"] as? [String: String] ?? [:],
                startsAt: object["startsAt"] as? String ?? "")
        }
    }

    func activeAlertNames() async -> [String] {
        await activeAlerts().compactMap { $0.labels["alertname"] }.sorted()
    }
}

/// Alertmanager's webhook receiver: keeps every notification's status and group.
final class AlertWebhook: Sendable {
    /// One notification: firing or resolved, for one group (its `alertname`).
    struct Notification: Sendable, CustomStringConvertible {
        var status: String
        var group: String
        var alerts: Int

        var description: String { "\(status) \(group) (\(alerts) alerts)" }
    }

    private final class Shared: Sendable {
        let notifications = Mutex<[Notification]>([])
    }

    let port = freePort()
    private let shared = Shared()
    private let shutdown = ShutdownSignal()
    private let task: Task<Void, any Error>

    init() async throws {
        let shared = self.shared
        let server = HTTPIngestServer(
            host: "127.0.0.1", port: port, maxBodySize: 1 << 20, logger: Logger(label: "alert-webhook")
        ) { request in
            if let object = try? JSONSerialization.jsonObject(with: Data(request.body.readableBytesView))
                as? [String: Any]
            {
                let group = (object["groupLabels"] as? [String: String])?["alertname"] ?? ""
                let notification = Notification(
                    status: object["status"] as? String ?? "", group: group,
                    alerts: (object["alerts"] as? [Any])?.count ?? 0)
                shared.notifications.withLock { $0.append(notification) }
            }
            return HTTPIngestResponse(status: .ok)
        }
        let ready = Atomic<Bool>(false)
        let shutdown = self.shutdown
        task = Task { try await server.run(shutdown: shutdown) { _ in ready.store(true, ordering: .relaxed) } }
        for _ in 0..<1500 where !ready.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(20)) }
        guard ready.load(ordering: .relaxed) else { throw TestSupportError("the webhook receiver did not start") }
    }

    func notifications() -> [Notification] { shared.notifications.withLock { $0 } }

    /// The groups of the firing notifications, one entry per notification, sorted.
    func firingGroups() -> [String] { notifications().filter { $0.status == "firing" }.map(\.group).sorted() }

    func resolvedGroups() -> [String] { notifications().filter { $0.status == "resolved" }.map(\.group).sorted() }

    func stop() async throws {
        shutdown.trigger()
        try await task.value
    }
}
