import Foundation
import PetrelCore
import PetrelTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Petrel stops when told to, whatever its backend does: the real binary, SIGTERM in every ordering of signal and
/// backend failure, a second signal that stops at once, and a disk buffer that keeps what a forced stop left.
@Suite(.serialized) struct ShutdownTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-shutdown-\(UUID().uuidString)")

    /// The shutdown_timeout of these tests, and the most an exit may take beyond it (a debug build starting its API
    /// shutdown, the log flushed).
    private static let shutdownTimeout = Duration.seconds(2)
    private static let slack = Duration.seconds(4)

    /// The pipeline of the reported hang: remote write in, `tag`, remote write out.
    private func config(
        sourcePort: Int, backend: String, shutdownTimeout: String, buffer: String = "{ type: memory }"
    ) -> String {
        """
        data_dir: \(directory.path)/data
        shutdown_timeout: \(shutdownTimeout)
        sources:
          rw: { type: prometheus_remote_write, address: "127.0.0.1:\(sourcePort)" }
        transforms:
          tag: { type: tag, inputs: [rw], labels: { cluster: shutdown-test } }
        sinks:
          backend:
            type: prometheus_remote_write
            inputs: [tag]
            endpoints: ["\(backend)"]
            batch: { max_age: 50ms }
            retry: { initial_backoff: 50ms, max_backoff: 200ms }
            buffer: \(buffer)
        """
    }

    /// `series` series of one sample each, whose value says which request and series it is.
    private func requestSeries(_ request: Int, series: Int) -> [TestSeries] {
        (0..<series).map { index in
            TestSeries(
                labels: ["__name__": "shutdown_test", "request": String(request), "series": String(index)],
                samples: [Sample(timestamp: baseTimestamp + Int64(request), value: Double(request * 1000 + index))])
        }
    }

    /// Pushes `requests` requests from `senders` senders at once; returns the requests answered 204.
    private func push(
        requests: Int, series: Int, senders: Int = 4, port: Int
    ) async -> [Int] {
        await withTaskGroup(of: [Int].self) { group in
            for sender in 0..<senders {
                group.addTask {
                    var accepted: [Int] = []
                    for request in stride(from: sender, to: requests, by: senders) {
                        let response = await RemoteWriteRequest.push(
                            self.requestSeries(request, series: series), port: port)
                        if response?.status == 204 { accepted.append(request) }
                    }
                    return accepted
                }
            }
            return await group.reduce(into: []) { $0 += $1 }.sorted()
        }
    }

    /// Pushes from `senders` senders until the source stops answering (it closed at shutdown), counting the answers
    /// in `tally` as they come.
    private func pushUntilRefused(series: Int, senders: Int = 4, port: Int, tally: StatusTally) async {
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<senders {
                group.addTask {
                    var request = sender
                    while true {
                        tally.started()
                        let response = await RemoteWriteRequest.push(
                            self.requestSeries(request, series: series), port: port)
                        guard let response else { break }
                        tally.count(response.status)
                        request += senders
                    }
                }
            }
        }
    }

    /// Waits for the exit within `bound`; a process still running then is killed, and the test fails.
    private func expectExit(_ petrel: PetrelProcess, within bound: Duration) async -> Int32? {
        let status = await petrel.waitForExit(within: bound)
        if status == nil {
            Issue.record("petrel did not exit within \(bound) of SIGTERM; its log:\n\(petrel.logText)")
            await petrel.kill()
        }
        return status
    }

    /// An ordering of SIGTERM and what the backend does with the requests in flight.
    enum Ordering: String, CaseIterable, CustomTestStringConvertible, Sendable {
        /// The backend held the requests, then died; SIGTERM comes while the sink retries against a closed port.
        case backendDiesBeforeSignal
        /// The backend holds every request and never answers, through the whole shutdown.
        case requestsHeldThroughShutdown
        /// The backend holds the requests; SIGTERM; then the backend dies, closing the connections in flight.
        case backendDiesAfterSignal
        /// The backend resets every connection it reads a request on.
        case backendResetsEveryRequest
        /// The reported hang: the backend answers 204 under load, and dies in the same instant as SIGTERM.
        case backendDiesWithSignal
        /// The backend holds the requests and the memory buffer is full, so requests to the source wait in flight for
        /// their batch to be buffered when SIGTERM comes.
        case sourceRequestsWaitOnAFullBuffer

        var testDescription: String { rawValue }
    }

    @Test(arguments: Ordering.allCases)
    func exitsWithinShutdownTimeoutWhateverTheBackendDoes(_ ordering: Ordering) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let backend = try ScriptedBackend(
            behaviour: ordering == .backendDiesWithSignal
                ? .answer : ordering == .backendResetsEveryRequest ? .reset : .hold)
        let sourcePort = freePort()
        let buffer =
            ordering == .sourceRequestsWaitOnAFullBuffer ? "{ type: memory, max_events: 1000 }" : "{ type: memory }"
        let petrel = try PetrelProcess(
            config: config(sourcePort: sourcePort, backend: backend.writeURL, shutdownTimeout: "2s", buffer: buffer),
            directory: directory)
        try await petrel.start()

        let series = 200
        var accepted: [Int] = []
        let tally = StatusTally()
        var load: Task<Void, Never>?
        switch ordering {
        case .backendDiesWithSignal:
            // Under load, with requests in flight at the moment both happen.
            load = Task { await self.pushUntilRefused(series: series, port: sourcePort, tally: tally) }
            #expect(await backend.wait { $0.requestsReceived >= 5 }, "the backend answered some requests")
        case .sourceRequestsWaitOnAFullBuffer:
            load = Task { await self.pushUntilRefused(series: series, port: sourcePort, tally: tally) }
            // The transform stops once the sink's buffer is full, holding one sender's batch; the other three
            // senders' batches then sit in its queue, and all four requests wait for their batch to be buffered.
            // Batches pass through the queue while the sink still takes them, so the state must also hold still: no
            // answer for half a second while the requests wait.
            var waiting = 0.0
            var answered = -1
            for _ in 0..<120 {
                try await Task.sleep(for: .milliseconds(500))
                waiting =
                    await petrel.metric(
                        "petrel_component_queue_batches{component_id=\"tag\",component_kind=\"transform\",component_type=\"tag\"}"
                    ) ?? 0
                let now = tally.statuses.values.reduce(0, +)
                if waiting >= 3 && tally.waiting >= 3 && now == answered { break }
                answered = now
            }
            #expect(waiting >= 3, "every request to the source waits for its batch to be buffered")
            #expect(tally.waiting >= 3, "the senders are waiting for their answers")
        default:
            accepted = await push(requests: 20, series: series, port: sourcePort)
            #expect(accepted.count == 20, "every request was buffered and answered 204")
            #expect(
                await backend.wait {
                    ordering == .backendResetsEveryRequest ? $0.requestsReceived >= 3 : $0.requestsHeld >= 1
                },
                "the sink has requests in flight")
        }
        if ordering == .backendDiesBeforeSignal { await backend.stop() }

        let signalled = ContinuousClock.now
        petrel.send(SIGTERM)
        if ordering == .backendDiesWithSignal { await backend.stop() }
        if ordering == .backendDiesAfterSignal {
            #expect(await petrel.waitForLog("draining the pipeline"))
            await backend.stop()
        }
        let status = await expectExit(petrel, within: Self.shutdownTimeout + Self.slack)
        print("\(ordering): exited \(String(describing: status)) after \(ContinuousClock.now - signalled)")
        #expect(status == 0, "a drain cut short by shutdown_timeout is still a clean stop")
        await load?.value
        if load != nil { print("\(ordering): the source answered \(tally.statuses)") }
        await backend.stop()

        let log = petrel.logText
        switch ordering {
        case .backendDiesWithSignal:
            // Whether anything was left depends on the instant; if it was, it was counted.
            if log.contains("shutdown_timeout passed") { #expect(log.contains("events=")) }
        default:
            if ordering == .sourceRequestsWaitOnAFullBuffer {
                #expect(
                    tally.statuses[503, default: 0] >= 3,
                    "the requests still waiting at the deadline were answered 'retry later': \(tally.statuses)")
                accepted = Array(0..<tally.statuses[204, default: 0])
            }
            // Nothing reached the backend: every event answered for is named as dropped.
            #expect(
                log.contains(
                    "shutdown_timeout passed before the sink delivered everything; its memory buffer is dropped"),
                "the drop is logged:\n\(log)")
            #expect(log.contains("events=\(accepted.count * series)"), "with every event answered for:\n\(log)")
        }
    }

    @Test(arguments: ["http", "grpc"])
    func theOTLPSinkExitsWithinShutdownTimeoutWhileItsRequestsAreHeld(_ transport: String) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // Over gRPC the backend holds the connection itself: it reads the HTTP/2 preface and never answers.
        let backend = try ScriptedBackend(behaviour: .hold)
        let petrel = try PetrelProcess(
            config: """
                shutdown_timeout: 2s
                sources:
                  demo: { type: demo, interval: 20ms, batch_size: 10, signals: [traces, logs] }
                sinks:
                  backend:
                    type: otlp
                    inputs: [demo]
                    protocol: \(transport)
                    endpoint: "http://127.0.0.1:\(backend.port)"
                    batch: { max_age: 50ms }
                    retry: { initial_backoff: 50ms, max_backoff: 200ms }
                """,
            directory: directory)
        try await petrel.start()
        #expect(await backend.wait { $0.requestsHeld >= 1 }, "the sink has a request in flight")

        petrel.send(SIGTERM)
        let status = await expectExit(petrel, within: Self.shutdownTimeout + Self.slack)
        #expect(status == 0)
        await backend.stop()
        #expect(
            petrel.logText.contains("shutdown_timeout passed before the sink delivered everything"),
            "what was never delivered is logged:\n\(petrel.logText)")
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSecondSignalStopsAtOnceAndCountsWhatMemoryHeld(_ second: Int32) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let backend = try ScriptedBackend(behaviour: .hold)
        let sourcePort = freePort()
        // A deadline far beyond the bound below: only the second signal can make the exit that quick.
        let petrel = try PetrelProcess(
            config: config(sourcePort: sourcePort, backend: backend.writeURL, shutdownTimeout: "5m"),
            directory: directory)
        try await petrel.start()
        let accepted = await push(requests: 20, series: 100, port: sourcePort)
        #expect(accepted.count == 20)
        #expect(await backend.wait { $0.requestsHeld >= 1 }, "the sink has requests in flight")

        petrel.send(SIGTERM)
        #expect(await petrel.waitForLog("draining the pipeline"), "the first signal starts the drain")
        petrel.send(second)
        let status = await expectExit(petrel, within: Self.slack)
        #expect(status == 128 + second, "the exit status says a signal cut the drain short")
        await backend.stop()

        let log = petrel.logText
        #expect(log.contains("second signal"), "the second signal is logged:\n\(log)")
        #expect(
            log.contains("a second signal stopped the pipeline before the sink delivered everything"),
            "and what it dropped:\n\(log)")
        #expect(log.contains("events=\(accepted.count * 100)"), "with every event answered for:\n\(log)")
    }

    @Test func aForcedStopKeepsTheDiskBufferForTheNextRun() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let backend = try ScriptedBackend(behaviour: .hold)
        let sourcePort = freePort()
        let disk = "{ type: disk, max_size: 64MiB }"
        let petrel = try PetrelProcess(
            config: config(sourcePort: sourcePort, backend: backend.writeURL, shutdownTimeout: "5m", buffer: disk),
            directory: directory)
        try await petrel.start()
        let accepted = await push(requests: 40, series: 25, port: sourcePort)
        try #require(accepted.count == 40, "every request was written to disk and answered 204")
        #expect(await backend.wait { $0.requestsHeld >= 1 }, "the sink has requests in flight")

        petrel.send(SIGTERM)
        #expect(await petrel.waitForLog("draining the pipeline"))
        petrel.send(SIGTERM)
        #expect(await expectExit(petrel, within: Self.slack) == 128 + SIGTERM)
        #expect(petrel.logText.contains("stays in its disk buffer for the next run"))
        await backend.stop()

        // The next run, with the backend up, delivers everything answered for: exact values.
        let vm = VictoriaMetrics()
        try await vm.start()
        let restarted = try PetrelProcess(
            config: config(sourcePort: sourcePort, backend: vm.writeURL, shutdownTimeout: "5s", buffer: disk),
            directory: directory)
        try await restarted.start()
        var landed: [VictoriaMetrics.ExportedSeries] = []
        for _ in 0..<120 {
            landed = try await vm.export("{__name__=\"shutdown_test\"}")
            if landed.count >= accepted.count * 25 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(await restarted.stop() == 0)
        await vm.stop()
        #expect(landed.count == accepted.count * 25, "every series answered 204 arrived")
        let byKey = Dictionary(grouping: landed) { "\($0.labels["request"] ?? "")/\($0.labels["series"] ?? "")" }
        for request in accepted {
            for index in 0..<25 {
                guard let found = byKey["\(request)/\(index)"]?.first else {
                    Issue.record("series request=\(request) series=\(index) never arrived")
                    continue
                }
                #expect(found.labels["cluster"] == "shutdown-test")
                #expect(Set(found.timestamps) == [baseTimestamp + Int64(request)])
                #expect(Set(found.values) == [Double(request * 1000 + index)])
            }
        }
    }
}

/// How many requests got each status, counted as the answers come.
final class StatusTally: Sendable {
    private let counts = Mutex<[Int: Int]>([:])
    private let sent = Atomic<Int>(0)

    func started() {
        sent.add(1, ordering: .relaxed)
    }

    func count(_ status: Int) {
        counts.withLock { $0[status, default: 0] += 1 }
    }

    /// Requests sent and not answered yet.
    var waiting: Int { sent.load(ordering: .relaxed) - counts.withLock { $0.values.reduce(0, +) } }

    var statuses: [Int: Int] { counts.withLock { $0 } }
}
