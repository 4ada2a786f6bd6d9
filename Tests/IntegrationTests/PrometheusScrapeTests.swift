import Foundation
import PetrelTestSupport
import Testing

/// Petrel and a real Prometheus (Debian's 2.42) scrape the same real targets with the same pasted `scrape_configs`,
/// each into its own real VictoriaMetrics: the same series with the same labels must arrive in both.
@Suite(.serialized) struct PrometheusScrapeTests {
    /// A server process the test starts and stops by PID.
    final class ServerProcess: @unchecked Sendable {
        let process = Process()

        init(_ executable: String, _ arguments: [String], log: URL) throws {
            process.executableURL = try findExecutable(executable)
            process.arguments = arguments
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        func stop() async {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGTERM)
            let process = self.process
            await offload { process.waitUntilExit() }
        }
    }

    /// An instant query's result: each series' labels and value.
    static func query(_ vm: VictoriaMetrics, _ expression: String) async throws -> [[String: String]: Double] {
        await vm.flush()
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let response = try #require(await httpGet(port: vm.port, path: "/api/v1/query?query=\(encoded)&nocache=1"))
        #expect(response.status == 200, "\(response.body)")
        let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as! [String: Any]
        let data = object["data"] as! [String: Any]
        var result: [[String: String]: Double] = [:]
        for item in data["result"] as! [[String: Any]] {
            let value = item["value"] as! [Any]
            result[item["metric"] as! [String: String]] = Double(value[1] as! String)!
        }
        return result
    }

    /// Every series VictoriaMetrics holds for `selector`, as label sets.
    static func seriesSet(_ vm: VictoriaMetrics, _ selector: String) async throws -> Set<[String: String]> {
        await vm.flush()
        let encoded = selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let response = try #require(await httpGet(port: vm.port, path: "/api/v1/series?match[]=\(encoded)"))
        let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as! [String: Any]
        return Set(object["data"] as! [[String: String]])
    }

    @Test func petrelAndPrometheusScrapeTheSameSeries() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-scrape-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let petrelVM = VictoriaMetrics()
        let prometheusVM = VictoriaMetrics()
        try await petrelVM.start()
        try await prometheusVM.start()
        // Its own node-exporter, not the system's, on a port of its own, with collectors whose series set is stable.
        let nodePort = freePort()
        let nodeExporter = try ServerProcess(
            "prometheus-node-exporter",
            [
                "--web.listen-address=127.0.0.1:\(nodePort)", "--collector.disable-defaults", "--collector.cpu",
                "--collector.meminfo", "--collector.loadavg", "--collector.uname", "--collector.time",
            ], log: directory.appendingPathComponent("node-exporter.log"))
        let petrelAPIPort = freePort()
        // The same text in both configurations: what a user pastes.
        let scrapeConfigs = """
              - job_name: node
                static_configs: [{ targets: ["127.0.0.1:\(nodePort)"], labels: { env: test } }]
                metric_relabel_configs:
                  - { source_labels: [__name__], regex: "go_memstats_.*", action: drop }
              - job_name: victoriametrics
                static_configs: [{ targets: ["127.0.0.1:\(petrelVM.port)"] }]
              - job_name: petrel
                honor_labels: true
                static_configs: [{ targets: ["127.0.0.1:\(petrelAPIPort)"] }]
                relabel_configs:
                  - { source_labels: [__address__], regex: "(.*):(.*)", target_label: port, replacement: "$2" }
            """
        let prometheusPort = freePort()
        let prometheusConfig = directory.appendingPathComponent("prometheus.yml")
        try """
        global: { scrape_interval: 1s, scrape_timeout: 1s }
        remote_write:
          - url: \(prometheusVM.writeURL)
            queue_config: { batch_send_deadline: 200ms }
        scrape_configs:
        \(scrapeConfigs)
        """.write(to: prometheusConfig, atomically: true, encoding: .utf8)
        let prometheus = try ServerProcess(
            "prometheus",
            [
                "--config.file=\(prometheusConfig.path)", "--storage.tsdb.path=\(directory.path)/prometheus-data",
                "--web.listen-address=127.0.0.1:\(prometheusPort)",
            ], log: directory.appendingPathComponent("prometheus.log"))
        let petrel = try PetrelProcess(
            config: """
                sources:
                  scrape:
                    type: prometheus_scrape
                    scrape_interval: 1s
                    scrape_timeout: 1s
                    scrape_configs:
                \(scrapeConfigs.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
                sinks:
                  vm:
                    type: prometheus_remote_write
                    inputs: [scrape]
                    endpoints: ["\(petrelVM.writeURL)"]
                    batch: { max_age: 200ms }
                """, directory: directory.appendingPathComponent("petrel"), apiPort: petrelAPIPort)
        try await petrel.start()

        // Both have scraped every target a few times once `up` is 1 for all three jobs in both.
        var ready = false
        for _ in 0..<60 {
            try await Task.sleep(for: .seconds(1))
            let petrelUp = try await Self.query(petrelVM, "up")
            let prometheusUp = try await Self.query(prometheusVM, "up")
            if petrelUp.count == 3 && prometheusUp.count == 3 && petrelUp.values.allSatisfy({ $0 == 1 })
                && prometheusUp.values.allSatisfy({ $0 == 1 })
            {
                ready = true
                break
            }
        }
        #expect(ready, "up is 1 for every job in both")
        try await Task.sleep(for: .seconds(3))

        // The node job: exactly the same series, labels included.
        let petrelNode = try await Self.seriesSet(petrelVM, #"{job="node"}"#)
        let prometheusNode = try await Self.seriesSet(prometheusVM, #"{job="node"}"#)
        #expect(petrelNode.count > 20)
        #expect(
            petrelNode.subtracting(prometheusNode).isEmpty, "only Petrel: \(petrelNode.subtracting(prometheusNode))")
        #expect(
            prometheusNode.subtracting(petrelNode).isEmpty, "only Prometheus: \(prometheusNode.subtracting(petrelNode))"
        )
        #expect(!petrelNode.contains { $0["__name__"]?.hasPrefix("go_memstats_") == true })
        #expect(petrelNode.allSatisfy { $0["env"] == "test" && $0["instance"] == "127.0.0.1:\(nodePort)" })
        // Values: a constant equal, a clock within a few scrapes.
        let petrelMemory = try await Self.query(petrelVM, #"node_memory_MemTotal_bytes{job="node"}"#)
        let prometheusMemory = try await Self.query(prometheusVM, #"node_memory_MemTotal_bytes{job="node"}"#)
        #expect(!petrelMemory.isEmpty && petrelMemory == prometheusMemory)
        let petrelTime = try await Self.query(petrelVM, #"node_time_seconds{job="node"}"#).values.first
        let prometheusTime = try await Self.query(prometheusVM, #"node_time_seconds{job="node"}"#).values.first
        #expect(abs(try #require(petrelTime) - (try #require(prometheusTime))) < 5)
        // The other jobs: the synthetic series with the same labels, and their metric names alike.
        for job in ["victoriametrics", "petrel"] {
            for name in [
                "up", "scrape_duration_seconds", "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling", "scrape_series_added",
            ] {
                let selector = "\(name){job=\"\(job)\"}"
                let petrelLabels = try await Self.query(petrelVM, selector).keys
                let prometheusLabels = try await Self.query(prometheusVM, selector).keys
                #expect(Set(petrelLabels) == Set(prometheusLabels) && petrelLabels.count == 1, "\(selector)")
            }
        }
        let petrelVMNames = Set(try await Self.seriesSet(petrelVM, #"{job="victoriametrics",__name__=~"vm_app_.*"}"#))
        let prometheusVMNames = Set(
            try await Self.seriesSet(prometheusVM, #"{job="victoriametrics",__name__=~"vm_app_.*"}"#))
        #expect(!petrelVMNames.isEmpty && petrelVMNames == prometheusVMNames)
        let petrelSelf = try await Self.query(petrelVM, #"up{job="petrel"}"#)
        #expect(petrelSelf.keys.first?["port"] == "\(petrelAPIPort)")

        // The targets API.
        let targets = try #require(await httpGet(port: petrelAPIPort, path: "/targets"))
        #expect(targets.status == 200)
        #expect(targets.body.contains("\"scrapePool\":\"node\"") && targets.body.contains("\"health\":\"up\""))

        // Stopping node-exporter: `up` 0 and its series stale (gone from instant queries) in both.
        await nodeExporter.stop()
        var stale = false
        for _ in 0..<30 {
            try await Task.sleep(for: .seconds(1))
            let petrelUp = try await Self.query(petrelVM, #"up{job="node"}"#).values.first
            let prometheusUp = try await Self.query(prometheusVM, #"up{job="node"}"#).values.first
            let petrelMemoryNow = try await Self.query(petrelVM, #"node_memory_MemTotal_bytes{job="node"}"#)
            let prometheusMemoryNow = try await Self.query(prometheusVM, #"node_memory_MemTotal_bytes{job="node"}"#)
            if petrelUp == 0 && prometheusUp == 0 && petrelMemoryNow.isEmpty && prometheusMemoryNow.isEmpty {
                stale = true
                break
            }
        }
        #expect(stale, "up is 0 and the node series are stale in both")
        // The stale marker itself, which VictoriaMetrics exports as `null`, ends the series in both.
        for vm in [petrelVM, prometheusVM] {
            let raw = try #require(
                await httpGet(port: vm.port, path: "/api/v1/export?match[]=node_memory_MemTotal_bytes"))
            let object = try JSONSerialization.jsonObject(with: Data(raw.body.utf8)) as! [String: Any]
            let values = object["values"] as! [Any]
            #expect(values.last is NSNull, "the last sample is a stale marker: \(raw.body)")
            #expect(values.dropLast().allSatisfy { !($0 is NSNull) })
        }

        #expect(await petrel.stop() == 0)
        await prometheus.stop()
        await petrelVM.stop()
        await prometheusVM.stop()
    }
}
