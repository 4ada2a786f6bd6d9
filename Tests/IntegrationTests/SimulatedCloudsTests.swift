import Foundation
import PetrelCore
import PetrelTestSupport
import Synchronization
import Testing

/// Agents in three "cluster" network namespaces forward, sharded over two aggregators in a "monitoring" namespace,
/// which replicate to two real VictoriaMetrics; a fault is put on the network or a process while senders push.
/// Every sample an agent answered 2xx for must land in each VictoriaMetrics, and exactly once wherever Petrel can
/// promise that: everywhere but the two faults that lose an answer after the request was taken (a relay reset
/// that threw away an aggregator's answer, an aggregator killed with SIGKILL), where at-least-once is the contract.
///
/// The durations are parameters: CI runs seconds; the issue's long versions run by hand with `PETREL_CLOUDS_LONG=1`
/// (see docs/RELIABILITY.md). Needs root (`ip netns`); skipped otherwise.
@Suite(
    .serialized, .enabled(if: SimulatedClouds.unavailableReason == nil, "\(SimulatedClouds.unavailableReason ?? "")"))
struct SimulatedCloudsTests {
    /// The long versions: a minute of latency, the issue's 2-minute partition, longer outages.
    private static let long = ProcessInfo.processInfo.environment["PETREL_CLOUDS_LONG"] == "1"

    @Test func latencyAndResetsOnOneClusterLinkLoseNothing() async throws {
        try await CloudsDeployment.run(
            name: "80 ms latency and resets on cluster 0's link", latencyOnCluster: 0,
            // A reset that threw away an aggregator's answer leaves agent 0 not knowing the request was taken; it
            // sends it again. Without one, and on the other clusters' links, every sample lands once.
            mayDuplicate: { deployment, _, cluster in
                cluster == 0 && deployment.relays.contains { $0.answersLost > 0 }
            },
            fault: { _ in
                try await Task.sleep(for: Self.long ? .seconds(60) : .seconds(6))
                return ContinuousClock.now
            })
    }

    @Test func aPartitionedClusterCatchesUpAfterTheLinkReturns() async throws {
        // A request agent 1 gave up on during the partition goes with its connection, reset (HTTPEndpointClient),
        // and so never arrives after the link returns beside its retry. A cut landing between an aggregator taking a
        // request and its answer leaving still loses the answer: agent 1 sends it again, a rightful duplicate of
        // at-least-once (one local run in four showed 27). The clusters the partition does not touch: every sample once.
        try await CloudsDeployment.run(
            name: "partition of cluster 1", mayDuplicate: { _, _, cluster in cluster == 1 },
            fault: { deployment in
                try await Task.sleep(for: .seconds(2))
                try deployment.clouds.partition(cluster: 1)
                try await Task.sleep(for: Self.long ? .seconds(120) : .seconds(12))
                try deployment.clouds.heal(cluster: 1)
                return ContinuousClock.now
            })
    }

    @Test func anAggregatorKilledWithSIGKILLLosesNothingAnsweredFor() async throws {
        // At-least-once is what a SIGKILL leaves: the killed aggregator's disk buffer records its delivered position at
        // most once a second, so it sends the last records before the kill again after the restart (and an agent
        // resends a request the aggregator wrote but never answered). VictoriaMetrics' documented remedy,
        // `-dedup.minScrapeInterval`, runs on replica 1: there every sample must be there once; replica 0 keeps the
        // raw copies, which the test prints.
        try await CloudsDeployment.run(
            name: "aggregator 0 killed with SIGKILL and restarted", deduplicatingReplica: 1,
            mayDuplicate: { _, replica, _ in replica == 0 },
            fault: { deployment in
                try await Task.sleep(for: .seconds(3))
                deployment.recordMemory()
                await deployment.aggregators[0].kill()
                try await Task.sleep(for: Self.long ? .seconds(60) : .seconds(4))
                try await deployment.aggregators[0].start(
                    readyPort: CloudsDeployment.aggregatorAPIPorts[0], readyPath: "/ready")
                return ContinuousClock.now
            })
    }

    @Test func aRestartedVictoriaMetricsGetsEverythingItMissed() async throws {
        try await CloudsDeployment.run(name: "VictoriaMetrics 1 restarted") { deployment in
            try await Task.sleep(for: .seconds(2))
            await deployment.victoriaMetrics[1].stop()
            try await Task.sleep(for: Self.long ? .seconds(60) : .seconds(5))
            try await deployment.victoriaMetrics[1].start(
                readyPort: CloudsDeployment.victoriaMetricsPorts[1], readyPath: "/health")
            return ContinuousClock.now
        }
    }
}

/// One run of the topology: namespaces, VictoriaMetrics, aggregators, agents, a sender per cluster.
final class CloudsDeployment: @unchecked Sendable {
    // Mutated only from the test's task (memory records, started processes); the senders touch only `Sender`s.
    static let victoriaMetricsPorts = [8428, 8429]
    static let aggregatorSourcePorts = [9301, 9302]
    static let aggregatorAPIPorts = [9101, 9102]
    static let agentSourcePort = 9201
    static let agentAPIPort = 9100
    static let relayPorts = [9401, 9402]
    static let memoryLimit = 128 * 1024 * 1024
    static let seriesPerRequest = 20

    let clouds: SimulatedClouds
    let directory: URL
    private(set) var victoriaMetrics: [NamespacedProcess] = []
    private(set) var aggregators: [NamespacedProcess] = []
    private(set) var agents: [NamespacedProcess] = []
    private(set) var relays: [DelayingRelay] = []
    /// The highest peak RSS seen per process (by its log name), recorded before kills and at the end.
    private var peaks: [String: Int] = [:]

    private init(clouds: SimulatedClouds, directory: URL) {
        self.clouds = clouds
        self.directory = directory
    }

    /// Builds the topology, runs senders while `fault` runs (it returns when the fault ended), then waits for every
    /// accepted sample in both VictoriaMetrics and checks them; everything made is removed, also on failure.
    /// `mayDuplicate(deployment, replica, cluster)` says where the fault may rightly leave a sample twice; everywhere
    /// else every accepted sample must be there exactly once. `deduplicatingReplica` runs that VictoriaMetrics with
    /// `-dedup.minScrapeInterval=1ms` (each series of the test has one sample, so only true copies are merged).
    static func run(
        name: String, latencyOnCluster: Int? = nil, deduplicatingReplica: Int? = nil,
        mayDuplicate: (CloudsDeployment, Int, Int) -> Bool = { _, _, _ in false },
        fault: (CloudsDeployment) async throws -> ContinuousClock.Instant
    ) async throws {
        let clouds = try SimulatedClouds(clusterCount: 3)
        defer {
            clouds.remove()
            #expect((try? clouds.leftBehind()) == [], "no namespace is left behind")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-clouds-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let deployment = CloudsDeployment(clouds: clouds, directory: directory)
        var failure: (any Error)?
        do {
            try await deployment.start(latencyOnCluster: latencyOnCluster, deduplicatingReplica: deduplicatingReplica)
            try await deployment.exercise(name: name, mayDuplicate: mayDuplicate, fault: fault)
        } catch {
            failure = error
        }
        await deployment.stopAll()
        if let failure { throw failure }
    }

    private func start(latencyOnCluster: Int?, deduplicatingReplica: Int?) async throws {
        for (index, port) in Self.victoriaMetricsPorts.enumerated() {
            let process = NamespacedProcess(
                namespace: clouds.monitoring, executable: try findExecutable("victoria-metrics"),
                arguments: [
                    "-storageDataPath=\(directory.path)/vm\(index)", "-httpListenAddr=127.0.0.1:\(port)",
                    "-search.latencyOffset=0s", "-retentionPeriod=100y", "-loggerLevel=ERROR",
                    "-search.disableCache",
                ] + (index == deduplicatingReplica ? ["-dedup.minScrapeInterval=1ms"] : []),
                log: directory.appendingPathComponent("vm\(index).log"))
            victoriaMetrics.append(process)
        }
        for (index, process) in victoriaMetrics.enumerated() {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try await process.start(readyPort: Self.victoriaMetricsPorts[index], readyPath: "/health")
        }
        for index in 0..<2 {
            let endpoints = Self.victoriaMetricsPorts.map { "\"http://127.0.0.1:\($0)/api/v1/write\"" }
            let process = try petrel(
                name: "aggregator\(index)", namespace: clouds.monitoring, apiPort: Self.aggregatorAPIPorts[index],
                sourceAddress: "0.0.0.0:\(Self.aggregatorSourcePorts[index])", mode: "replicate", endpoints: endpoints)
            aggregators.append(process)
            try await process.start(readyPort: Self.aggregatorAPIPorts[index], readyPath: "/ready")
        }
        for cluster in 0..<3 {
            var endpoints = Self.aggregatorSourcePorts.map {
                "\"http://\(clouds.monitoringAddress(forCluster: cluster)):\($0)/api/v1/write\""
            }
            if cluster == latencyOnCluster {
                endpoints = []
                for (relayPort, aggregatorPort) in zip(Self.relayPorts, Self.aggregatorSourcePorts) {
                    let relay = DelayingRelay(
                        namespace: clouds.clusters[cluster], listenPort: relayPort,
                        target: (clouds.monitoringAddress(forCluster: cluster), aggregatorPort),
                        delay: .milliseconds(80),
                        // 2 % per connection-minute as the issue's loss; a run of seconds would see none, so CI
                        // resets far more often to exercise the retries (see docs/RELIABILITY.md).
                        resetsPerConnectionMinute: ProcessInfo.processInfo.environment["PETREL_CLOUDS_LONG"] == "1"
                            ? 0.02 : 6)
                    try await relay.start()
                    relays.append(relay)
                    endpoints.append("\"http://127.0.0.1:\(relayPort)/api/v1/write\"")
                }
            }
            let process = try petrel(
                name: "agent\(cluster)", namespace: clouds.clusters[cluster], apiPort: Self.agentAPIPort,
                sourceAddress: "127.0.0.1:\(Self.agentSourcePort)", mode: "shard", endpoints: endpoints)
            agents.append(process)
            try await process.start(readyPort: Self.agentAPIPort, readyPath: "/ready")
        }
    }

    /// A Petrel with a remote-write source and a remote-write sink with a disk buffer, under `memory_limit`.
    private func petrel(
        name: String, namespace: String, apiPort: Int, sourceAddress: String, mode: String, endpoints: [String]
    ) throws -> NamespacedProcess {
        let home = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let config = home.appendingPathComponent("petrel.yaml")
        try """
        api: { address: "127.0.0.1:\(apiPort)" }
        data_dir: \(home.path)/data
        memory_limit: \(Self.memoryLimit / 1_048_576)MiB
        sources:
          rw: { type: prometheus_remote_write, address: "\(sourceAddress)" }
        sinks:
          out:
            type: prometheus_remote_write
            inputs: [rw]
            mode: \(mode)
            endpoints: [\(endpoints.joined(separator: ", "))]
            batch: { max_age: 200ms }
            timeout: 5s
            retry: { initial_backoff: 50ms, max_backoff: 1s }
            buffer: { type: disk, max_size: 256MiB }
        """.write(to: config, atomically: true, encoding: .utf8)
        return NamespacedProcess(
            namespace: namespace, executable: PetrelProcess.binary, arguments: ["run", "--config", config.path],
            log: home.appendingPathComponent("petrel.log"))
    }

    private func exercise(
        name: String, mayDuplicate: (CloudsDeployment, Int, Int) -> Bool,
        fault: (CloudsDeployment) async throws -> ContinuousClock.Instant
    ) async throws {
        let before = try (0..<3).map { try clouds.linkBytes(cluster: $0) }
        let senders = (0..<3).map { Sender(cluster: $0, namespace: clouds.clusters[$0]) }
        let sending = senders.map { sender in Task { await sender.run() } }
        let faultEnded: ContinuousClock.Instant
        do {
            faultEnded = try await fault(self)
        } catch {
            for sender in senders { sender.stop() }
            for task in sending { await task.value }
            throw error
        }
        for sender in senders { sender.stop() }
        for task in sending { await task.value }
        let accepted = senders.map(\.accepted)
        let expected = accepted.reduce(0) { $0 + $1.count } * Self.seriesPerRequest
        #expect(expected > 0, "the agents accepted something")

        var landed: [[String: Int]] = []
        for (index, _) in victoriaMetrics.enumerated() {
            landed.append(try await waitForSeries(in: index, count: expected))
        }
        let drain = ContinuousClock.now - faultEnded
        recordMemory()
        let after = try (0..<3).map { try clouds.linkBytes(cluster: $0) }

        var duplicates: [String] = []
        for (replica, samples) in landed.enumerated() {
            var missing = 0
            var duplicatedPerCluster = [0, 0, 0]
            for (cluster, requests) in accepted.enumerated() {
                for request in requests {
                    for series in 0..<Self.seriesPerRequest {
                        switch samples["\(cluster)/\(request)/\(series)"] ?? 0 {
                        case 0: missing += 1
                        case 1: break
                        case let count: duplicatedPerCluster[cluster] += count - 1
                        }
                    }
                }
            }
            #expect(missing == 0, "VictoriaMetrics \(replica): \(missing) accepted samples never arrived")
            duplicates.append("VictoriaMetrics \(replica): \(duplicatedPerCluster) per cluster")
            for (cluster, count) in duplicatedPerCluster.enumerated() where !mayDuplicate(self, replica, cluster) {
                #expect(
                    count == 0,
                    "VictoriaMetrics \(replica): \(count) accepted samples of cluster \(cluster) arrived more than once"
                )
            }
        }
        for (process, peak) in peaks.sorted(by: { $0.key < $1.key }) {
            #expect(peak <= Self.memoryLimit, "\(process): peak RSS \(peak / 1_048_576) MiB over memory_limit")
        }
        let requestCounts = accepted.map(\.count)
        let resets = relays.reduce(0) { $0 + $1.resets }
        print(
            """
            simulated clouds, \(name): \(requestCounts) requests accepted per cluster (\(expected) samples), \
            drained \(drain.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))) after the fault \
            ended; relay resets \(resets) (\(relays.reduce(0) { $0 + $1.answersLost }) lost an answer); duplicate samples \(duplicates); peak RSS MiB \(peaks.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value / 1_048_576)" })
            """)
        for (name, namespace, port) in [
            ("aggregator0", clouds.monitoring, Self.aggregatorAPIPorts[0]),
            ("aggregator1", clouds.monitoring, Self.aggregatorAPIPorts[1]),
        ] + (0..<3).map({ ("agent\($0)", clouds.clusters[$0], Self.agentAPIPort) }) {
            let metrics = await inNetworkNamespace(namespace) {
                blockingHTTPExchange(host: "127.0.0.1", port: port, path: "/metrics")?.text ?? ""
            }
            let lines = metrics.split(separator: "\n")
            let retries = lines.filter { $0.hasPrefix("petrel_remote_write_retries_total") }
            // Records read from the disk buffer beyond those written since the (re)start were written before it:
            // a killed aggregator's redelivery.
            let buffer = lines.filter {
                $0.hasPrefix("petrel_buffer_records_written") || $0.hasPrefix("petrel_buffer_records_read")
            }.map { line in
                "\(line.prefix { $0 != "{" })=\(line.split(separator: " ").last ?? "")"
            }
            print("  \(name) retries: \(retries.joined(separator: "; ")); buffer: \(buffer.joined(separator: ", "))")
        }
        for cluster in 0..<3 {
            print(
                "  cluster \(cluster) link: \(after[cluster].sent - before[cluster].sent) bytes sent, "
                    + "\(after[cluster].received - before[cluster].received) bytes received")
        }
    }

    /// Samples per `cluster/request/series` in VictoriaMetrics `index`, once it holds `count` series or a minute
    /// after the fault (whatever it holds then).
    private func waitForSeries(in index: Int, count: Int) async throws -> [String: Int] {
        let port = Self.victoriaMetricsPorts[index]
        var samples: [String: Int] = [:]
        for _ in 0..<240 {
            let exported = await inNetworkNamespace(clouds.monitoring) {
                _ = blockingHTTPExchange(host: "127.0.0.1", port: port, path: "/internal/force_flush")
                return blockingHTTPExchange(
                    host: "127.0.0.1", port: port, path: "/api/v1/export?match[]=cloud_test")
            }
            samples = [:]
            if let exported, exported.status == 200 {
                for line in exported.text.split(separator: "\n") where !line.isEmpty {
                    guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                        let labels = object["metric"] as? [String: String],
                        let values = object["values"] as? [Any]
                    else { continue }
                    let key = "\(labels["cluster"] ?? "")/\(labels["request"] ?? "")/\(labels["series"] ?? "")"
                    samples[key, default: 0] += values.count
                }
            }
            if samples.count >= count { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        return samples
    }

    /// Notes the peak RSS of every running Petrel (before a kill loses it, and at the end).
    func recordMemory() {
        let named =
            Array(zip(["aggregator0", "aggregator1"], aggregators))
            + Array(zip(["agent0", "agent1", "agent2"], agents))
        for (name, process) in named {
            if let peak = process.peakResidentBytes() { peaks[name] = max(peaks[name] ?? 0, peak) }
        }
    }

    private func stopAll() async {
        for relay in relays { relay.stop() }
        for process in agents + aggregators {
            #expect(await process.stop() == 0, "\(process.log.deletingLastPathComponent().lastPathComponent) exits 0")
        }
        for process in victoriaMetrics { await process.stop() }
    }
}

/// Pushes a remote-write request of `CloudsDeployment.seriesPerRequest` series every 100 ms to its cluster's agent
/// and keeps the numbers of the requests answered 2xx.
final class Sender: Sendable {
    let cluster: Int
    let namespace: String
    private let state = Mutex<(accepted: [Int], stopped: Bool)>(([], false))

    init(cluster: Int, namespace: String) {
        self.cluster = cluster
        self.namespace = namespace
    }

    var accepted: [Int] { state.withLock { $0.accepted } }

    func stop() { state.withLock { $0.stopped = true } }

    func run() async {
        var request = 0
        while !state.withLock({ $0.stopped }) {
            let series = (0..<CloudsDeployment.seriesPerRequest).map { index in
                TestSeries(
                    labels: [
                        "__name__": "cloud_test", "cluster": String(cluster), "request": String(request),
                        "series": String(index),
                    ],
                    samples: [
                        Sample(
                            timestamp: baseTimestamp + Int64(request),
                            value: Double(cluster * 1_000_000 + request * 100 + index))
                    ])
            }
            let body = RemoteWriteRequest.body(series)
            let status = await inNetworkNamespace(namespace) {
                blockingHTTPExchange(
                    host: "127.0.0.1", port: CloudsDeployment.agentSourcePort, method: "POST", path: "/api/v1/write",
                    headers: RemoteWriteRequest.headers(), body: body)?.status
            }
            if let status, (200..<300).contains(status) {
                let number = request
                state.withLock { $0.accepted.append(number) }
            }
            request += 1
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
