import Foundation
import PetrelCore
import PetrelTestSupport
import Synchronization
import Testing

/// Hot reload of the real `petrel` binary: SIGHUP and `POST /reload` under load from a real sender into a real
/// VictoriaMetrics, and `--watch-config` following a ConfigMap-style symlink swap.
@Suite(.serialized) struct ReloadTests {
    /// `rw` (remote write) → `mark` (relabel: `rules`) → `vm` (remote write to VictoriaMetrics).
    private static func yaml(sourcePort: Int, vm: String, rules: String) -> String {
        """
        sources:
          rw: { type: prometheus_remote_write, address: "127.0.0.1:\(sourcePort)" }
        transforms:
          mark:
            type: relabel
            inputs: [rw]
            rules:
        \(rules)
        sinks:
          vm:
            type: prometheus_remote_write
            inputs: [mark]
            endpoints: ["\(vm)"]
            batch: { max_age: 50ms }
        """
    }

    private static let keepAll = "      - { source_labels: [__name__], regex: \"nothing_.*\", action: drop }"
    private static let addReloaded = keepAll + "\n      - { target_label: reloaded, replacement: \"yes\" }"

    @Test func reloadsUnderLoadLoseNothingAcknowledged() async throws {
        let vm = VictoriaMetrics()
        try await vm.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: "data_dir: \"\(directory.path)/data\"\n"
                + Self.yaml(sourcePort: sourcePort, vm: vm.writeURL, rules: Self.keepAll),
            directory: directory)
        do {
            try await petrel.start()
        } catch {
            await vm.stop()
            throw error
        }

        let load = SeriesLoad(port: sourcePort)
        let senders = Task { await load.run(senders: 4) }
        do {
            try await reloadUnderLoad(petrel, load, senders, vm: vm, directory: directory, sourcePort: sourcePort)
        } catch {
            load.stop()
            await senders.value
            await petrel.stop()
            await vm.stop()
            throw error
        }
    }

    /// SIGHUP, then a refused `POST /reload`, under `load`; then the drain and the count in VictoriaMetrics.
    private func reloadUnderLoad(
        _ petrel: PetrelProcess, _ load: SeriesLoad, _ senders: Task<Void, Never>, vm: VictoriaMetrics, directory: URL,
        sourcePort: Int
    ) async throws {
        try await load.waitForAcknowledged(atLeast: 200)

        // A rule added by SIGHUP: every series sent once the reload is done carries its label.
        try "api: { address: \"127.0.0.1:\(petrel.apiPort)\" }\ndata_dir: \"\(directory.path)/data\"\n"
            .appending(Self.yaml(sourcePort: sourcePort, vm: vm.writeURL, rules: Self.addReloaded))
            .write(to: petrel.configFile, atomically: true, encoding: .utf8)
        petrel.send(SIGHUP)
        var reloaded = false
        for _ in 0..<500 {
            reloaded = await petrel.metric(#"petrel_config_reloads_total{result="success"}"#) == 1
            if reloaded { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(reloaded, "SIGHUP reloaded the configuration; log:\n\(petrel.logText)")
        let firstAfterReload = load.nextSeq
        try await load.waitForAcknowledged(atLeast: firstAfterReload + 200)

        // A broken configuration by POST /reload: refused with its error, and the load goes on.
        let valid = try String(contentsOf: petrel.configFile, encoding: .utf8)
        try valid.replacingOccurrences(of: "target_label: reloaded", with: "target_label: \"0bad\"")
            .write(to: petrel.configFile, atomically: true, encoding: .utf8)
        let refused = try #require(await httpRequest(port: petrel.apiPort, method: "POST", path: "/reload"))
        #expect(refused.status == 400)
        #expect(refused.text.contains("transforms.mark.rules[1]"), "the error names the rule: \(refused.text)")
        #expect(await petrel.metric(#"petrel_config_reloads_total{result="failure"}"#) == 1)
        let afterRefusal = load.nextSeq
        try await load.waitForAcknowledged(atLeast: afterRefusal + 200)

        load.stop()
        await senders.value
        #expect(await petrel.stop() == 0, "a clean drain; log:\n\(petrel.logText)")

        let exported = try await vm.export(#"{__name__="reload_load"}"#)
        await vm.stop()
        var landed: [Int: [String: String]] = [:]
        for series in exported { landed[Int(series.labels["seq"]!)!] = series.labels }
        let acknowledged = load.acknowledged
        let missing = acknowledged.subtracting(landed.keys)
        #expect(missing.isEmpty, "every series answered 2xx lands: \(missing.count) of \(acknowledged.count) missing")
        let unmarked = landed.filter { $0.key >= firstAfterReload && $0.value["reloaded"] != "yes" }
        #expect(
            unmarked.isEmpty, "series sent after the reload carry the new label: \(unmarked.keys.sorted().prefix(5))")
        #expect(landed.contains { $0.key < 200 && $0.value["reloaded"] == nil }, "series before it do not")
        #expect(acknowledged.count > 600)
        #expect(load.unanswered == 0, "no connection refused or dropped during the reloads")
    }

    @Test func watchConfigFollowsAConfigMapSymlinkSwap() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watch-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: "data_dir: \"\(directory.path)/data\"\n"
                + Self.yaml(sourcePort: sourcePort, vm: "http://127.0.0.1:9/api/v1/write", rules: Self.keepAll),
            directory: directory)
        petrel.runOptions = ["--watch-config"]
        // As the kubelet mounts a ConfigMap: petrel.yaml → ..data/petrel.yaml, ..data → ..<timestamp>/.
        let manager = FileManager.default
        let text = try String(contentsOf: petrel.configFile, encoding: .utf8)
        let first = directory.appendingPathComponent("..2026_12_07_v1")
        try manager.createDirectory(at: first, withIntermediateDirectories: true)
        try text.write(to: first.appendingPathComponent("petrel.yaml"), atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(
            atPath: directory.appendingPathComponent("..data").path, withDestinationPath: first.lastPathComponent)
        try manager.removeItem(at: petrel.configFile)
        try manager.createSymbolicLink(atPath: petrel.configFile.path, withDestinationPath: "..data/petrel.yaml")
        try await petrel.start()
        let hashBefore = await petrel.metric("petrel_config_hash")

        // The update: a new directory, a new symlink renamed over ..data.
        let second = directory.appendingPathComponent("..2026_12_07_v2")
        try manager.createDirectory(at: second, withIntermediateDirectories: true)
        try text.replacingOccurrences(of: Self.keepAll, with: Self.addReloaded)
            .write(to: second.appendingPathComponent("petrel.yaml"), atomically: true, encoding: .utf8)
        let temporary = directory.appendingPathComponent("..data_tmp")
        try manager.createSymbolicLink(atPath: temporary.path, withDestinationPath: second.lastPathComponent)
        #expect(rename(temporary.path, directory.appendingPathComponent("..data").path) == 0)
        try manager.removeItem(at: first)

        var reloaded = false
        for _ in 0..<500 {
            reloaded = await petrel.metric(#"petrel_config_reloads_total{result="success"}"#) == 1
            if reloaded { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(reloaded, "the swap was seen; log:\n\(petrel.logText)")
        #expect(await petrel.metric("petrel_config_hash") != hashBefore)
        #expect(petrel.logText.contains("replaced=mark"))
        #expect(await petrel.metric(#"petrel_config_reloads_total{result="failure"}"#) == 0)
        #expect(await petrel.stop(within: .seconds(60)) != nil)
    }
}

/// Remote-write senders pushing unique series (`reload_load{seq="N"}`, one sample each), one request per series, as
/// fast as answers come; it remembers which series were answered 2xx.
final class SeriesLoad: Sendable {
    let port: Int
    private let next = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let answered = Mutex<Set<Int>>([])
    private let failedConnections = Atomic<Int>(0)

    init(port: Int) {
        self.port = port
    }

    /// The seq the next request will carry: every request started from now on has one at least this.
    var nextSeq: Int { next.load(ordering: .sequentiallyConsistent) }
    var acknowledged: Set<Int> { answered.withLock { $0 } }
    /// Requests that got no answer at all: refused or dropped connections.
    var unanswered: Int { failedConnections.load(ordering: .sequentiallyConsistent) }

    func stop() { stopped.store(true, ordering: .sequentiallyConsistent) }

    func run(senders: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<senders {
                group.addTask {
                    while !self.stopped.load(ordering: .sequentiallyConsistent) {
                        let seq = self.next.add(1, ordering: .sequentiallyConsistent).oldValue
                        let series = TestSeries(
                            labels: ["__name__": "reload_load", "seq": "\(seq)"],
                            samples: [Sample(timestamp: baseTimestamp, value: Double(seq))])
                        let response = await RemoteWriteRequest.push([series], port: self.port)
                        if let status = response?.status, (200..<300).contains(status) {
                            _ = self.answered.withLock { $0.insert(seq) }
                        } else if response == nil {
                            self.failedConnections.add(1, ordering: .sequentiallyConsistent)
                        }
                    }
                }
            }
        }
    }

    func waitForAcknowledged(atLeast count: Int) async throws {
        for _ in 0..<3000 where answered.withLock({ $0.count }) < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        guard answered.withLock({ $0.count }) >= count else {
            throw TestSupportError("the load did not reach \(count) acknowledged series")
        }
    }
}
