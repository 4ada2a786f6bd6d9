import Foundation
import PetrelCore
import PetrelTestSupport
import Testing

/// What Petrel answered 2xx for reaches the backend: the real binary, killed with SIGKILL, restarted, with its disk
/// buffer cut mid-record or full, and with the backend (a real VictoriaMetrics, or a second Petrel for OTLP) down.
@Suite(.serialized) struct DeliveryTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-delivery-\(UUID().uuidString)")

    /// The series of request `request` of a test push: `series` series of one sample each, values that say where
    /// they came from.
    private func requestSeries(_ request: Int, series: Int = 25, name: String = "durable_test") -> [TestSeries] {
        (0..<series).map { index in
            TestSeries(
                labels: ["__name__": name, "request": String(request), "series": String(index)],
                samples: [Sample(timestamp: baseTimestamp + Int64(request), value: Double(request * 1000 + index))])
        }
    }

    /// A remote-write source in front of a remote-write sink to `vm` with the given buffer.
    private func remoteWriteConfig(sourcePort: Int, vm: VictoriaMetrics, buffer: String, extra: String = "") -> String {
        """
        data_dir: \(directory.path)/data
        \(extra)
        sources:
          rw: { type: prometheus_remote_write, address: "127.0.0.1:\(sourcePort)" }
        sinks:
          vm:
            type: prometheus_remote_write
            inputs: [rw]
            endpoints: ["\(vm.writeURL)"]
            batch: { max_age: 100ms }
            retry: { initial_backoff: 50ms, max_backoff: 200ms }
            buffer: \(buffer)
        """
    }

    /// Waits until `vm` holds `count` series of `name` (or a minute passed) and returns them.
    private func waitForSeries(_ vm: VictoriaMetrics, name: String, count: Int) async throws -> [VictoriaMetrics
        .ExportedSeries]
    {
        var series: [VictoriaMetrics.ExportedSeries] = []
        for _ in 0..<120 {
            series = try await vm.export("{__name__=\"\(name)\"}")
            if series.count >= count { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        return series
    }

    /// Checks each series against what was pushed: the exact value at the exact timestamp. Returns how many samples
    /// came more than once (at-least-once delivery allows it; the test reports it).
    private func check(
        _ landed: [VictoriaMetrics.ExportedSeries], against requests: [Int], series: Int = 25
    ) -> Int {
        var duplicates = 0
        let byKey = Dictionary(grouping: landed) { "\($0.labels["request"] ?? "")/\($0.labels["series"] ?? "")" }
        for request in requests {
            for index in 0..<series {
                guard let found = byKey["\(request)/\(index)"]?.first else {
                    Issue.record("series request=\(request) series=\(index) never arrived")
                    continue
                }
                #expect(Set(found.timestamps) == [baseTimestamp + Int64(request)])
                #expect(Set(found.values) == [Double(request * 1000 + index)])
                duplicates += found.values.count - 1
            }
        }
        return duplicates
    }

    @Test func killNineWithTheBackendDownLosesNothingAnsweredFor() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let vm = VictoriaMetrics()  // not started: the backend is down
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: remoteWriteConfig(sourcePort: sourcePort, vm: vm, buffer: "{ type: disk, max_size: 64MiB }"),
            directory: directory)
        try await petrel.start()
        let requests = Array(0..<40)
        for request in requests {
            let response = await RemoteWriteRequest.push(requestSeries(request), port: sourcePort)
            try #require(
                response?.status == 204, "request \(request) was answered \(String(describing: response?.status))")
        }
        await petrel.kill()

        try await petrel.start()
        try await vm.start()
        let landed = try await waitForSeries(vm, name: "durable_test", count: requests.count * 25)
        #expect(landed.count == requests.count * 25, "every series answered 204 arrived")
        let duplicates = check(landed, against: requests)
        print("kill -9 with a disk buffer: \(landed.count) series arrived, \(duplicates) duplicate samples")
        #expect(await petrel.stop() == 0)
        await vm.stop()
    }

    /// Once the backend took everything, the buffer's gauges say so (the soak's drain check reads them): they used to
    /// stop at the last records handed to the sink, still counted as waiting, for as long as no new traffic came.
    @Test func theBufferGaugesShowNothingWaitingOnceEverythingIsDelivered() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let vm = VictoriaMetrics()
        try await vm.start()
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: remoteWriteConfig(sourcePort: sourcePort, vm: vm, buffer: "{ type: disk, max_size: 64MiB }"),
            directory: directory)
        try await petrel.start()
        let requests = Array(0..<10)
        for request in requests {
            let response = await RemoteWriteRequest.push(
                requestSeries(request, name: "gauge_test"), port: sourcePort)
            try #require(response?.status == 204)
        }
        let landed = try await waitForSeries(vm, name: "gauge_test", count: requests.count * 25)
        #expect(landed.count == requests.count * 25)
        var waiting: Double?
        for _ in 0..<60 {
            waiting = await petrel.metric("petrel_buffer_records{component_id=\"vm\",buffer_type=\"disk\"}")
            if waiting == 0 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(waiting == 0, "records still shown as waiting after VictoriaMetrics took them all")
        #expect(await petrel.stop() == 0)
        await vm.stop()
    }

    @Test func aTornRecordIsSkippedAndCountedAndEverythingElseArrives() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let vm = VictoriaMetrics()
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: remoteWriteConfig(sourcePort: sourcePort, vm: vm, buffer: "{ type: disk, max_size: 64MiB }"),
            directory: directory)
        try await petrel.start()
        let requests = Array(0..<20)
        for request in requests {
            let response = await RemoteWriteRequest.push(requestSeries(request, name: "torn_test"), port: sourcePort)
            try #require(response?.status == 204)
        }
        await petrel.kill()

        // The crash happened mid-write of the last record: cut the newest segment 10 bytes short.
        let buffer = directory.appendingPathComponent("data/buffers/vm")
        let segments = try FileManager.default.contentsOfDirectory(atPath: buffer.path).filter { $0.hasSuffix(".seg") }
        let newest = buffer.appendingPathComponent(try #require(segments.sorted().last))
        let size = try #require(try FileManager.default.attributesOfItem(atPath: newest.path)[.size] as? Int)
        try #require(truncate(newest.path, off_t(size - 10)) == 0)

        try await petrel.start()
        try await vm.start()
        let delivered = Array(requests.dropLast())
        let landed = try await waitForSeries(vm, name: "torn_test", count: delivered.count * 25)
        _ = check(landed, against: delivered)
        try await Task.sleep(for: .seconds(1))
        let settled = try await vm.export("{__name__=\"torn_test\"}")
        #expect(settled.count == delivered.count * 25, "only the torn record's series are missing")
        #expect(!settled.contains { $0.labels["request"] == String(requests.last!) })
        #expect(
            await petrel.metric("petrel_buffer_records_corrupted{component_id=\"vm\",buffer_type=\"disk\"}") == 1,
            "the torn record was counted")
        #expect(petrel.logText.contains("torn"), "and logged")
        #expect(await petrel.stop() == 0)
        await vm.stop()
    }

    @Test(arguments: ["block", "drop_newest"])
    func aFullDiskBufferBehavesAsWhenFullSays(_ whenFull: String) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let vm = VictoriaMetrics()
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: remoteWriteConfig(
                sourcePort: sourcePort, vm: vm, buffer: "{ type: disk, max_size: 1MiB, when_full: \(whenFull) }"),
            directory: directory)
        try await petrel.start()
        // About 30 KB per record: 1 MiB holds some thirty of them.
        var answered: [Int: Int] = [:]
        for request in 0..<120 {
            let response = await RemoteWriteRequest.push(
                requestSeries(request, series: 1000, name: "full_test"), port: sourcePort)
            answered[request] = response?.status ?? 0
        }
        #expect(petrel.isRunning, "a full buffer is not a crash")
        let accepted = answered.filter { $0.value == 204 }.keys.sorted()
        let refused = answered.filter { $0.value == 429 }.keys.sorted()
        // A request that came as the buffer filled waits for room, then gets "retry later" (503): it was not
        // answered for, yet it may still be written once there is room.
        let late = answered.filter { $0.value == 503 }.keys.sorted()
        #expect(accepted.count + refused.count + late.count == 120, "every request was answered: \(answered)")
        let bytes = try #require(
            await petrel.metric("petrel_buffer_byte_size{component_id=\"vm\",buffer_type=\"disk\"}"))
        #expect(bytes <= 1024 * 1024)
        let dropped =
            await petrel.metric(
                "petrel_component_discarded_events_total{component_id=\"vm\",component_kind=\"sink\","
                    + "component_type=\"prometheus_remote_write\",reason=\"buffer_full\"}") ?? 0
        switch whenFull {
        case "block":
            #expect(!refused.isEmpty, "the source pushed back once the buffer was full")
            #expect(dropped == 0)
        default:
            #expect(refused.isEmpty, "drop_newest never pushes back")
            #expect(dropped > 0, "it dropped and counted instead")
        }

        try await vm.start()
        if whenFull == "block" {
            // Everything answered 204 was on disk and arrives; nothing refused does.
            #expect(late.count <= 1, "only the request that met the full buffer waited")
            let landed = try await waitForSeries(vm, name: "full_test", count: accepted.count * 1000)
            _ = check(landed, against: accepted, series: 1000)
            let requests = Set(landed.compactMap { $0.labels["request"].flatMap { Int($0) } })
            #expect(
                requests.isSuperset(of: accepted) && requests.isSubset(of: accepted + late), "nothing refused arrived")
        } else {
            let kept = 120 - Int(dropped) / 1000
            let landed = try await waitForSeries(vm, name: "full_test", count: kept * 1000)
            #expect(landed.count == kept * 1000, "what was not dropped arrives")
        }
        #expect(await petrel.stop() == 0)
        await vm.stop()
    }

    @Test func aMemoryLimitPushesBackAndEverythingAnsweredForArrives() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let vm = VictoriaMetrics()
        let sourcePort = freePort()
        let limit = 16 * 1024 * 1024
        let petrel = try PetrelProcess(
            config: remoteWriteConfig(
                sourcePort: sourcePort, vm: vm, buffer: "{ type: memory, max_events: 10000000 }",
                extra: "memory_limit: 16MiB"),
            directory: directory)
        try await petrel.start()
        let idle = try #require(petrel.peakResidentBytes())
        // Four senders push 1000-series requests (~300 KB in memory each) until the limit pushes back.
        let statuses = try await withThrowingTaskGroup(of: [(Int, Int)].self) { group in
            for sender in 0..<4 {
                group.addTask {
                    var statuses: [(Int, Int)] = []
                    for index in 0..<40 {
                        let request = sender * 1000 + index
                        let response = await RemoteWriteRequest.push(
                            self.requestSeries(request, series: 1000, name: "limit_test"), port: sourcePort)
                        statuses.append((request, response?.status ?? 0))
                    }
                    return statuses
                }
            }
            return try await group.reduce(into: [(Int, Int)]()) { $0 += $1 }
        }
        let accepted = statuses.filter { $0.1 == 204 }.map(\.0).sorted()
        let refused = statuses.filter { $0.1 == 429 }.map(\.0)
        let late = statuses.filter { $0.1 == 503 }.map(\.0)
        #expect(accepted.count + refused.count + late.count == statuses.count, "every request was answered")
        #expect(!refused.isEmpty, "the memory limit pushed back")
        let peak = try #require(petrel.peakResidentBytes())
        print("memory_limit 16MiB: idle RSS \(idle / 1_048_576) MiB, peak \(peak / 1_048_576) MiB")
        #expect(peak <= idle + 2 * limit, "RSS stays within the limit and the documented overhead above idle")

        try await vm.start()
        let landed = try await waitForSeries(vm, name: "limit_test", count: accepted.count * 1000)
        _ = check(landed, against: accepted, series: 1000)
        let requests = Set(landed.compactMap { $0.labels["request"].flatMap { Int($0) } })
        #expect(requests.isSuperset(of: accepted) && requests.isSubset(of: accepted + late), "nothing refused arrived")
        #expect(await petrel.stop() == 0)
        await vm.stop()
    }

    @Test func killNineOnTheOTLPPathLosesNoSpanAnsweredFor() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (grpcPort, httpPort) = (freePort(), freePort())
        let (receiverGRPC, receiverHTTP) = (freePort(), freePort())
        let petrel = try PetrelProcess(
            config: """
                data_dir: \(directory.path)/data
                sources:
                  otlp: { type: otlp, grpc_address: "127.0.0.1:\(grpcPort)", http_address: "127.0.0.1:\(httpPort)" }
                sinks:
                  tempo:
                    type: otlp
                    inputs: [otlp]
                    endpoint: "http://127.0.0.1:\(receiverGRPC)"
                    batch: { max_age: 20ms }
                    retry: { initial_backoff: 50ms, max_backoff: 200ms }
                    buffer: { type: disk, max_size: 64MiB }
                """,
            directory: directory)
        try await petrel.start()
        // The SDK's exporter only returns once Petrel answered OK for every batch.
        let sent = try await OpenTelemetrySDK.exportSpans(
            protocol: "grpc", endpoint: "127.0.0.1:\(grpcPort)", traces: 40)
        #expect(sent.count == 80)
        await petrel.kill()

        try await petrel.start()
        let receiver = try CapturePipeline(
            """
            api: { enabled: false }
            sources:
              otlp: { type: otlp, grpc_address: "127.0.0.1:\(receiverGRPC)", http_address: "127.0.0.1:\(receiverHTTP)" }
            sinks:
              capture: { type: capture, inputs: [otlp] }
            """)
        try await receiver.start()
        for _ in 0..<120 where Set(receiver.sink.spans.map { $0.span.spanID.description }).count < sent.count {
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(await petrel.stop() == 0)
        try await receiver.stop()
        let received = receiver.sink.spans
        #expect(Set(received.map { $0.span.spanID.description }) == Set(sent.map(\.spanID)), "every span arrived")
        let byID = Dictionary(grouping: received, by: { $0.span.spanID.description })
        for expected in sent {
            guard let span = byID[expected.spanID]?.first?.span else { continue }
            #expect(span.traceID.description == expected.traceID)
            #expect(span.name == expected.name)
            #expect(span.startTimeUnixNano == expected.start && span.endTimeUnixNano == expected.end)
        }
        print("kill -9 on the OTLP path: \(received.count) spans arrived for \(sent.count) sent")
    }
}
