import Foundation
import PetrelCore
import PetrelTestSupport
import Testing

/// Remote-write in, relabel and tag, remote-write out, into a real VictoriaMetrics.
@Suite(.serialized) struct RemoteWriteToVictoriaMetricsTests {
    private func series(_ name: String, _ labels: [String: String], values: [Double], start: Int64 = baseTimestamp)
        -> TestSeries
    {
        var all = labels
        all["__name__"] = name
        let samples = values.enumerated().map { Sample(timestamp: start + Int64($0.offset) * 1000, value: $0.element) }
        return TestSeries(labels: all, samples: samples)
    }

    @Test func relabelAndTagEffectsLandExactly() async throws {
        let vm = VictoriaMetrics()
        try await vm.start()
        let pipeline = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            transforms:
              relabel:
                type: relabel
                inputs: [rw]
                rules:
                  - { source_labels: [__name__], regex: "debug_.*", action: drop }
                  - source_labels: [instance]
                    regex: "(.+):(\\\\d+)"
                    target_label: host
                    replacement: "${1}"
                  - { action: labeldrop, regex: "tmp_.*" }
              tag:
                type: tag
                inputs: [relabel]
                labels: { cloud: aws, cluster: eks-prod-1, job: overwritten }
            sinks:
              vm:
                type: prometheus_remote_write
                inputs: [tag]
                endpoints: ["\(vm.writeURL)"]
                batch: { max_age: 50ms }
            """
        }
        try await pipeline.start()
        let kept = series(
            "http_requests_total", ["instance": "web-1:8080", "job": "api", "tmp_debug": "x"],
            values: [1, 2.5, -3, 12345.678])
        let gauge = series("temperature_celsius", ["room": "b-12"], values: [21.125])
        let dropped = series("debug_allocations", ["instance": "web-1:8080"], values: [7])
        let response = try #require(await RemoteWriteRequest.push([kept, gauge, dropped], port: pipeline.sourcePort))
        #expect(response.status == 204)
        try await pipeline.stop()

        let exported = try await vm.export(#"{__name__=~".+"}"#)
        #expect(exported.count == 2, "the debug series was dropped: \(exported.map(\.labels))")
        let requests = try #require(exported.first { $0.labels["__name__"] == "http_requests_total" })
        #expect(
            requests.labels == [
                "__name__": "http_requests_total", "instance": "web-1:8080", "host": "web-1", "job": "overwritten",
                "cloud": "aws", "cluster": "eks-prod-1",
            ])
        #expect(requests.values == [1, 2.5, -3, 12345.678])
        #expect(requests.timestamps == kept.samples.map(\.timestamp))
        let temperature = try #require(exported.first { $0.labels["__name__"] == "temperature_celsius" })
        #expect(
            temperature.labels == [
                "__name__": "temperature_celsius", "room": "b-12", "cloud": "aws", "cluster": "eks-prod-1",
                "job": "overwritten",
            ])
        #expect(temperature.values == [21.125])
        #expect(temperature.timestamps == [baseTimestamp])
        #expect(
            pipeline.counter(
                "petrel_component_sent_events_total", component: "vm", kind: "sink", type: "prometheus_remote_write")
                == 2)
    }

    @Test func version2RequestsLandAsTheirVersion1Twins() async throws {
        let vm = VictoriaMetrics()
        try await vm.start()
        let pipeline = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              vm: { type: prometheus_remote_write, inputs: [rw], endpoints: ["\(vm.writeURL)"], batch: { max_age: 50ms } }
            """
        }
        try await pipeline.start()
        let labels = ["job": "node", "instance": "10.0.0.1:9100", "mode": "idle"]
        let v1 = series("via_v1", labels, values: [10, 11, 12])
        let v2 = series("via_v2", labels, values: [10, 11, 12])
        #expect(await RemoteWriteRequest.push([v1], port: pipeline.sourcePort, version: 1)?.status == 204)
        let response = try #require(await RemoteWriteRequest.push([v2], port: pipeline.sourcePort, version: 2))
        #expect(response.status == 204)
        #expect(response.headers["x-prometheus-remote-write-samples-written"] == "3")
        try await pipeline.stop()

        let one = try #require(try await vm.export("via_v1").first)
        let two = try #require(try await vm.export("via_v2").first)
        var renamed = two.labels
        renamed["__name__"] = "via_v1"
        #expect(renamed == one.labels)
        #expect(two.values == one.values)
        #expect(two.timestamps == one.timestamps)
    }

    /// VictoriaMetrics 1.79 speaks remote-write 1.0 only, so a second Petrel is the 2.0 receiver.
    /// Agent → aggregator → VictoriaMetrics, the hop between the two Petrels in remote-write 2.0 or 1.0, snappy or zstd
    /// (`compression: zstd`: VictoriaMetrics 1.79 itself answers 400 to a zstd remote-write body, so it is for the
    /// Petrel-to-Petrel hop).
    @Test(arguments: [("v2", "snappy"), ("v2", "zstd"), ("v1", "zstd")])
    func aSinkToASecondPetrelLandsExactly(protocol: String, compression: String) async throws {
        let vm = VictoriaMetrics()
        try await vm.start()
        let aggregator = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              vm: { type: prometheus_remote_write, inputs: [rw], endpoints: ["\(vm.writeURL)"], batch: { max_age: 20ms } }
            """
        }
        try await aggregator.start()
        let edge = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              aggregator:
                type: prometheus_remote_write
                inputs: [rw]
                protocol: \(`protocol`)
                compression: \(compression)
                endpoints: ["http://127.0.0.1:\(aggregator.sourcePort)/api/v1/write"]
                batch: { max_age: 20ms }
            """
        }
        try await edge.start()
        var sent: [TestSeries] = []
        for round in 0..<5 {
            let batch = (0..<40).map {
                series(
                    "relayed_v2", ["id": String($0), "zone": "z\($0 % 3)"], values: [Double(round) + 0.25],
                    start: baseTimestamp + Int64(round) * 1000)
            }
            #expect(await RemoteWriteRequest.push(batch, port: edge.sourcePort)?.status == 204)
            sent += batch
        }
        try await edge.stop()
        try await aggregator.stop()
        let exported = try await vm.export("relayed_v2")
        #expect(exported.count == 40)
        for item in exported {
            let expected = sent.filter { $0.labels == item.labels }.flatMap(\.samples)
            #expect(item.timestamps == expected.map(\.timestamp), "\(item.labels)")
            #expect(item.values == expected.map(\.value), "\(item.labels)")
        }
    }

    @Test func shardingPutsEachSeriesOnExactlyOneEndpoint() async throws {
        let first = VictoriaMetrics()
        let second = VictoriaMetrics()
        try await first.start()
        try await second.start()
        let pipeline = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              vm:
                type: prometheus_remote_write
                inputs: [rw]
                mode: shard
                endpoints: ["\(first.writeURL)", "\(second.writeURL)"]
                batch: { max_age: 50ms }
            """
        }
        try await pipeline.start()
        let all = (0..<200).map { series("sharded", ["id": String($0)], values: [Double($0)]) }
        for chunk in stride(from: 0, to: all.count, by: 50) {
            #expect(
                await RemoteWriteRequest.push(Array(all[chunk..<chunk + 50]), port: pipeline.sourcePort)?.status == 204)
        }
        try await pipeline.stop()

        let onFirst = Set(try await first.export("sharded").map { $0.labels["id"]! })
        let onSecond = Set(try await second.export("sharded").map { $0.labels["id"]! })
        #expect(onFirst.isDisjoint(with: onSecond), "no series on both")
        #expect(onFirst.union(onSecond) == Set((0..<200).map(String.init)), "every series on one of them")
        #expect(onFirst.count > 50 && onSecond.count > 50, "both get a fair share: \(onFirst.count)/\(onSecond.count)")

        // The same series go to the same endpoint again: a second round lands where the first did.
        let again = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              vm:
                type: prometheus_remote_write
                inputs: [rw]
                mode: shard
                endpoints: ["\(first.writeURL)", "\(second.writeURL)"]
                batch: { max_age: 50ms }
            """
        }
        try await again.start()
        let later = (0..<200).map {
            series("sharded", ["id": String($0)], values: [1000], start: baseTimestamp + 60_000)
        }
        #expect(await RemoteWriteRequest.push(later, port: again.sourcePort)?.status == 204)
        try await again.stop()
        for exported in try await first.export("sharded") { #expect(exported.values.count == 2, "\(exported.labels)") }
        for exported in try await second.export("sharded") { #expect(exported.values.count == 2, "\(exported.labels)") }
    }

    @Test func shardingLosesNothingWhenAnEndpointStops() async throws {
        let first = VictoriaMetrics()
        let second = VictoriaMetrics()
        try await first.start()
        try await second.start()
        let pipeline = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              vm:
                type: prometheus_remote_write
                inputs: [rw]
                mode: shard
                endpoints: ["\(first.writeURL)", "\(second.writeURL)"]
                batch: { max_age: 20ms }
                timeout: 2s
                retry: { initial_backoff: 20ms, max_backoff: 200ms }
            """
        }
        try await pipeline.start()
        var sent: [TestSeries] = []
        for round in 0..<20 {
            if round == 10 { await second.stop() }
            let batch = (0..<20).map {
                series(
                    "failover", ["id": String($0)], values: [Double(round)], start: baseTimestamp + Int64(round) * 1000)
            }
            #expect(await RemoteWriteRequest.push(batch, port: pipeline.sourcePort)?.status == 204)
            sent += batch
            try await Task.sleep(for: .milliseconds(30))
        }
        try await pipeline.stop()
        try await second.start()

        var landed: [String: [Int64: Double]] = [:]
        for exported in try await first.export("failover") + second.export("failover") {
            for (timestamp, value) in zip(exported.timestamps, exported.values) {
                landed[exported.labels["id"]!, default: [:]][timestamp] = value
            }
        }
        for item in sent {
            let sample = item.samples[0]
            #expect(
                landed[item.labels["id"]!]?[sample.timestamp] == sample.value,
                "sample of \(item.labels) at \(sample.timestamp)")
        }
    }

    @Test func replicationPutsEverythingOnEveryEndpoint() async throws {
        let first = VictoriaMetrics()
        let second = VictoriaMetrics()
        try await first.start()
        try await second.start()
        let pipeline = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              vm:
                type: prometheus_remote_write
                inputs: [rw]
                mode: replicate
                endpoints: ["\(first.writeURL)", "\(second.writeURL)"]
                batch: { max_age: 50ms }
            """
        }
        try await pipeline.start()
        let all = (0..<100).map { series("replicated", ["id": String($0)], values: [Double($0), Double($0) + 0.5]) }
        #expect(await RemoteWriteRequest.push(all, port: pipeline.sourcePort)?.status == 204)
        try await pipeline.stop()
        let onFirst = try await first.export("replicated")
        let onSecond = try await second.export("replicated")
        #expect(onFirst.count == 100)
        #expect(onFirst == onSecond)
    }

    @Test func aVictoriaMetricsRestartLosesNothingAccepted() async throws {
        let vm = VictoriaMetrics()
        try await vm.start()
        let pipeline = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              vm:
                type: prometheus_remote_write
                inputs: [rw]
                endpoints: ["\(vm.writeURL)"]
                batch: { max_age: 20ms }
                timeout: 2s
                retry: { initial_backoff: 20ms, max_backoff: 200ms }
            """
        }
        try await pipeline.start()
        var sent: [TestSeries] = []
        for round in 0..<30 {
            if round == 10 { await vm.stop() }
            if round == 20 { try await vm.start() }
            let batch = (0..<10).map {
                series(
                    "restart", ["id": String($0)], values: [Double(round * 10 + $0)],
                    start: baseTimestamp + Int64(round) * 1000)
            }
            #expect(await RemoteWriteRequest.push(batch, port: pipeline.sourcePort)?.status == 204)
            sent += batch
            try await Task.sleep(for: .milliseconds(20))
        }
        try await pipeline.stop()
        let exported = try await vm.export("restart")
        #expect(exported.count == 10)
        for item in exported {
            let expected = sent.filter { $0.labels["id"] == item.labels["id"] }.flatMap(\.samples)
            #expect(item.timestamps == expected.map(\.timestamp))
            #expect(item.values == expected.map(\.value))
        }
        #expect(
            pipeline.counter(
                "petrel_component_sent_events_total", component: "vm", kind: "sink", type: "prometheus_remote_write")
                == 300)
    }
}
