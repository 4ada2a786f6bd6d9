import Foundation
import PetrelTestSupport
import Testing

/// Pod logs read by the real binary's `kubernetes_logs` source and pushed by its `loki` sink to a receiver that holds
/// to Loki's published push API (no Loki server is packaged here, so this is the protocol, not a live Loki): every
/// message stored once in the stream its labels name, rate limits ridden out without a duplicate, and entries Loki
/// refuses counted by reason while the rest of their push is stored.
@Suite(.serialized) struct KubernetesLogsToLokiTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-loki-\(UUID().uuidString)")
    private var podsRoot: URL { directory.appendingPathComponent("pods") }

    /// `diskBuffer`: the sink's batches wait in a disk buffer, acknowledged to it once Loki took them.
    private func config(_ receiver: LokiReceiver, encoding: String = "protobuf", diskBuffer: Bool = false) -> String {
        """
        data_dir: \(directory.path)/data
        sources:
          pods:
            type: kubernetes_logs
            pods_root: "\(podsRoot.path)"
            kubernetes_api: { enabled: false }
        transforms:
          cluster:
            type: tag
            inputs: [pods]
            labels: { cluster: eu-1 }
        sinks:
          loki:
            type: loki
            inputs: [cluster]
            endpoint: "\(receiver.baseURL)"
            encoding: \(encoding)
            tenant_id: team-a
            labels:
              cluster: "{{ resource.k8s.cluster.name }}"
              namespace: "{{ resource.k8s.namespace.name }}"
              container: "{{ resource.k8s.container.name }}"
              stream: "{{ fields.log.iostream }}"
            structured_metadata:
              pod: "{{ resource.k8s.pod.name }}"
              pod_uid: "{{ resource.k8s.pod.uid }}"
            batch: { max_age: 200ms }
            retry: { initial_backoff: 100ms, max_backoff: 1s }
        \(diskBuffer ? "    buffer: { type: disk, max_size: 64MiB }" : "")
        """
    }

    @Test func everyMessageIsStoredOnceWithItsStreamLabels() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var settings = KubeletSimulator.Settings()
        // Small enough to share a loaded machine with the rest of the suite, large enough that every pod's file
        // rotates (about 115 KB written per pod).
        settings.pods = 6
        settings.messagesPerSecond = 3_000
        settings.maxMessages = 6_000
        settings.rotateBytes = 32 * 1024
        settings.shortLivedPodInterval = nil
        let kubelet = try KubeletSimulator(podsRoot: podsRoot, settings: settings)
        let receiver = try LokiReceiver()
        let petrel = try PetrelProcess(config: config(receiver), directory: directory)
        try await petrel.start()
        kubelet.start()
        for _ in 0..<1200 {
            if kubelet.progress.messages >= settings.maxMessages { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let report = await kubelet.stop()
        let expected = report.messageCount
        let arrived = await receiver.wait(for: .seconds(120)) { $0.stored.count >= expected }
        #expect(await petrel.stop() == 0, "a clean stop: \(petrel.logText.suffix(2000))")
        await receiver.stop()
        print("kubelet simulator: \(report.summary); loki receiver: \(receiver.pushes.count) pushes")
        #expect(arrived, "\(receiver.stored.count) of \(expected) stored")

        var seen: [String: Int] = [:]
        var wrongLabels: [String] = []
        for entry in receiver.stored {
            guard let (pod, seq) = Self.podAndSeq(entry.line) else {
                wrongLabels.append("no pod=… seq=… in \(entry.line.prefix(80))")
                continue
            }
            seen["\(pod) \(seq)", default: 0] += 1
            let stream = !kubelet.isSplit(seq: seq) && seq % 7 == 3 ? "stderr" : "stdout"
            let labels = ["cluster": "eu-1", "namespace": "ns-\(pod % 3)", "container": "app", "stream": stream]
            if entry.labels != labels || entry.structuredMetadata["pod"] != "app-\(pod)"
                || entry.structuredMetadata["pod_uid"]?.isEmpty != false
            {
                wrongLabels.append("pod \(pod) seq \(seq): \(entry.labels) \(entry.structuredMetadata)")
            }
        }
        #expect(wrongLabels.isEmpty, "\(wrongLabels.count) entries in the wrong stream: \(wrongLabels.prefix(3))")
        var missing: [String] = []
        for (pod, count) in report.messages.sorted(by: { $0.key < $1.key }) {
            for seq in 0..<count where seen["\(pod) \(seq)"] == nil { missing.append("\(pod) \(seq)") }
        }
        #expect(missing.isEmpty, "\(missing.count) messages missing: \(missing.prefix(5))")
        #expect(seen.values.allSatisfy { $0 == 1 } && receiver.duplicatesDropped == 0, "no message twice")
        #expect(receiver.unsortedStreams == 0 && receiver.emptyStreams == 0)
        #expect(receiver.pushes.allSatisfy { $0.status == 204 && $0.tenant == "team-a" })
        #expect(receiver.pushes.allSatisfy { $0.contentType == "application/x-protobuf" })
    }

    @Test func rateLimitedThenAcceptedDeliversEverythingOnce() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let now = Date()
        try writePod(lines: (0..<300).map { (now.addingTimeInterval(Double($0) / 1000), "order \($0) placed") })
        let receiver = try LokiReceiver()
        receiver.script([
            .init(status: 429, body: "Ingestion rate limit exceeded for user team-a", retryAfter: "1"),
            .init(status: 429, body: "Ingestion rate limit exceeded for user team-a"),
            .init(status: 429, body: "Ingestion rate limit exceeded for user team-a"),
        ])
        let petrel = try PetrelProcess(
            config: config(receiver, encoding: "json", diskBuffer: true), directory: directory)
        try await petrel.start()
        let arrived = await receiver.wait { $0.stored.count >= 300 }
        // Long enough for a wrongly repeated push to arrive too.
        try await Task.sleep(for: .milliseconds(500))
        let retries = await petrel.metric(
            #"petrel_loki_retries_total{component_id="loki",endpoint="\#(receiver.baseURL)/"}"#)
        #expect(await petrel.stop() == 0)
        await receiver.stop()
        #expect(arrived, "\(receiver.stored.count) of 300 stored")
        #expect(receiver.pushes.prefix(3).map(\.status) == [429, 429, 429])
        #expect(retries == 3)
        let lines = receiver.stored.map(\.line)
        #expect(lines.count == 300 && Set(lines) == Set((0..<300).map { "order \($0) placed" }), "each once")
        #expect(receiver.duplicatesDropped == 0)
        #expect(receiver.stored.allSatisfy { $0.labels["namespace"] == "shop" && $0.labels["container"] == "cart" })
    }

    @Test func entriesLokiRefusesAreCountedAndTheRestStored() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let now = Date()
        let eightDaysAgo = now.addingTimeInterval(-8 * 86_400)
        var lines = (0..<30).map { (now.addingTimeInterval(Double($0) / 1000), "order \($0) placed") }
        for index in [4, 9, 17] { lines[index].0 = eightDaysAgo.addingTimeInterval(Double(index) / 1000) }
        for index in [12, 25] { lines[index].1 = "order \(index) placed " + String(repeating: "x", count: 400) }
        try writePod(lines: lines)
        var limits = LokiReceiver.Limits()
        limits.maxLineSize = 300
        limits.tenant = "team-a"
        let receiver = try LokiReceiver(limits: limits)
        let petrel = try PetrelProcess(config: config(receiver), directory: directory)
        try await petrel.start()
        let arrived = await receiver.wait { $0.stored.count >= 25 && $0.refused.count >= 5 }
        try await Task.sleep(for: .milliseconds(500))
        let metrics = await httpGet(port: petrel.apiPort, path: "/metrics")?.body ?? ""
        #expect(await petrel.stop() == 0)
        await receiver.stop()
        #expect(arrived, "\(receiver.stored.count) stored, \(receiver.refused.count) refused")
        let stored = receiver.stored.map(\.line)
        let refusedIndices: Set = [4, 9, 12, 17, 25]
        #expect(stored.count == 25)
        #expect(Set(stored) == Set((0..<30).filter { !refusedIndices.contains($0) }.map { "order \($0) placed" }))
        #expect(receiver.pushes.contains { $0.status == 400 })
        #expect(receiver.pushes.allSatisfy { $0.status == 204 || $0.status == 400 }, "never retried")
        #expect(Self.sum(metrics, #"petrel_loki_rejected_entries_total{component_id="loki",reason="too_old"}"#) == 3)
        #expect(
            Self.sum(metrics, #"petrel_loki_rejected_entries_total{component_id="loki",reason="line_too_long"}"#) == 2)
        #expect(Self.sum(metrics, #"petrel_component_discarded_events_total{component_id="loki""#) == 5)
        #expect(Self.sum(metrics, #"petrel_component_sent_events_total{component_id="loki""#) == 25)
    }

    /// `petrel validate` refuses a stream label that makes a stream per pod, naming the file, line, component and key,
    /// with the hint to use structured metadata.
    @Test func validateRefusesHighCardinalityLabels() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("petrel.yaml")
        try """
        sources:
          pods:
            type: kubernetes_logs
            kubernetes_api: { enabled: false }
        sinks:
          loki:
            type: loki
            inputs: [pods]
            endpoint: http://loki:3100
            labels:
              namespace: "{{ resource.k8s.namespace.name }}"
              pod_uid: "{{ resource.k8s.pod.uid }}"
              trace: "{{ fields.trace_id }}"
        """.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = PetrelProcess.binary
        process.arguments = ["validate", "--config", file.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        let text = await offload { String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        await offload { process.waitUntilExit() }
        #expect(process.terminationStatus == 1)
        #expect(
            text.contains("petrel.yaml:12: sinks.loki.labels.pod_uid: resource.k8s.pod.uid has a value per pod"),
            "\(text)")
        #expect(text.contains("petrel.yaml:13: sinks.loki.labels.trace: fields.trace_id has a value per"), "\(text)")
        #expect(text.contains("put it in structured_metadata instead"), "\(text)")
    }

    /// One pod, `shop/cart-7d9f8b-x2k4q`, container `cart`, its CRI lines as containerd writes them.
    private func writePod(lines: [(Date, String)]) throws {
        let container = podsRoot.appendingPathComponent(
            "shop_cart-7d9f8b-x2k4q_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/cart")
        try FileManager.default.createDirectory(at: container, withIntermediateDirectories: true)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let text = lines.map { "\(formatter.string(from: $0.0)) stdout F \($0.1)\n" }.joined()
        try text.write(to: container.appendingPathComponent("0.log"), atomically: true, encoding: .utf8)
    }

    /// The sum of the series of `/metrics` that start with `prefix`.
    private static func sum(_ metrics: String, _ prefix: String) -> Double {
        metrics.split(separator: "\n").filter { $0.hasPrefix(prefix) }.compactMap { $0.split(separator: " ").last }
            .compactMap { Double($0) }.reduce(0, +)
    }

    private static func podAndSeq(_ line: String) -> (Int, Int)? {
        guard let podRange = line.range(of: "pod="), let seqRange = line.range(of: " seq=") else { return nil }
        let pod = Int(line[podRange.upperBound...].prefix { $0.isNumber })
        let seq = Int(line[seqRange.upperBound...].prefix { $0.isNumber })
        guard let pod, let seq else { return nil }
        return (pod, seq)
    }
}
