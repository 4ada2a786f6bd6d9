import Foundation
import PetrelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `petrel tap` and `petrel top`, run as a user runs them, against a real `petrel run`.
@Suite(.serialized) struct TapTopTests {
    /// A demo source of logs, a tag transform and a sink that drops everything.
    static func pipeline(interval: String, batchSize: Int, dataDirectory: URL) -> String {
        """
        data_dir: \(dataDirectory.path)
        sources:
          demo: { type: demo, interval: \(interval), batch_size: \(batchSize), signals: [logs] }
        transforms:
          tagged: { type: tag, inputs: [demo], labels: { team: petrels } }
        sinks:
          out: { type: blackhole, inputs: [tagged] }
        """
    }

    static func temporaryDirectory(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("petrel-\(name)-\(getpid())-\(UUID().uuidString)")
    }

    /// A `petrel` subcommand with both pipes read from the start.
    final class CLI: @unchecked Sendable {
        // Safe: `process` is set once in init and only read after; `Process` is thread-safe for these calls.
        let process = Process()
        let output: Task<String, Never>
        let errors: Task<String, Never>

        init(_ arguments: [String]) throws {
            process.executableURL = PetrelProcess.binary
            process.arguments = arguments
            let outputPipe = Pipe()
            let errorPipe = Pipe()
            process.standardOutput = outputPipe
            process.standardError = errorPipe
            try process.run()
            output = Self.read(outputPipe)
            errors = Self.read(errorPipe)
        }

        private static func read(_ pipe: Pipe) -> Task<String, Never> {
            let handle = pipe.fileHandleForReading
            return Task { await offload { String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) } }
        }

        /// Waits at most `timeout` for the exit; a process still running then is killed (the test then fails on its
        /// status).
        func finish(within timeout: Duration) async -> (status: Int32, output: String, errors: String) {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            await offload { self.process.waitUntilExit() }
            return (process.terminationStatus, await output.value, await errors.value)
        }
    }

    static func lines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func tapShowsEventsOfTheOutputsAskedForAndStopsAtTheLimit() async throws {
        let directory = Self.temporaryDirectory("tap")
        defer { try? FileManager.default.removeItem(at: directory) }
        let petrel = try PetrelProcess(
            config: Self.pipeline(interval: "100ms", batchSize: 5, dataDirectory: directory), directory: directory)
        try await petrel.start()
        let url = "http://127.0.0.1:\(petrel.apiPort)"

        let tagged = try await CLI(["tap", "--url", url, "--outputs-of", "tag*", "--limit", "7"]).finish(
            within: .seconds(60))
        #expect(tagged.status == 0, "\(tagged.errors)")
        let events = Self.lines(tagged.output)
        #expect(events.count == 7, "exactly --limit events: \(tagged.output)")
        #expect(tagged.output.split(separator: "\n").count == 7)
        for event in events {
            #expect(event["component_id"] as? String == "tagged")
            #expect(event["output"] as? String == "tagged")
            #expect(event["kind"] as? String == "log")
            #expect((event["resource"] as? [String: Any])?["team"] as? String == "petrels", "the transform's output")
            #expect(!((event["message"] as? String) ?? "").isEmpty)
        }
        #expect(tagged.errors.contains("[tap] tapping tagged"), "\(tagged.errors)")

        // What `out` reads is what `tagged` sends.
        let inputs = try await CLI(["tap", "--url", url, "--inputs-of", "out", "--limit", "3"]).finish(
            within: .seconds(60))
        #expect(inputs.status == 0, "\(inputs.errors)")
        #expect(Self.lines(inputs.output).map { $0["component_id"] as? String } == ["tagged", "tagged", "tagged"])

        // The source's own output carries no tag yet; text is one summary line per event.
        let text = try await CLI(["tap", "--url", url, "--outputs-of", "dem?", "--limit", "4", "--format", "text"])
            .finish(within: .seconds(60))
        #expect(text.status == 0, "\(text.errors)")
        let summaries = text.output.split(separator: "\n")
        #expect(summaries.count == 4)
        #expect(summaries.allSatisfy { $0.hasPrefix("demo log 20") }, "\(text.output)")

        #expect(await petrel.stop(within: .seconds(30)) == 0)
    }

    @Test func tapKeepsToItsRate() async throws {
        let directory = Self.temporaryDirectory("tap-rate")
        defer { try? FileManager.default.removeItem(at: directory) }
        // About 2000 events a second.
        let petrel = try PetrelProcess(
            config: Self.pipeline(interval: "50ms", batchSize: 100, dataDirectory: directory), directory: directory)
        try await petrel.start()
        let started = ContinuousClock.now
        let tap = try CLI([
            "tap", "--url", "http://127.0.0.1:\(petrel.apiPort)", "--outputs-of", "demo", "--rate", "20",
        ])
        try await Task.sleep(for: .seconds(4))
        kill(tap.process.processIdentifier, SIGINT)
        let result = await tap.finish(within: .seconds(30))
        let window = ContinuousClock.now - started
        let seconds = Double(window.components.seconds) + 1
        let shown = Self.lines(result.output).count
        // A full bucket at the start, then 20 a second: wide margins, the count over the window is what is checked.
        #expect(shown > 0)
        #expect(Double(shown) <= 20 * (seconds + 1), "\(shown) events in about \(seconds)s at --rate 20")
        #expect(result.errors.contains("sampled out"), "the tap says it left events out: \(result.errors)")
        let sent = await petrel.metric(
            "petrel_component_sent_events_total{component_id=\"demo\",component_kind=\"source\",component_type=\"demo\"}"
        )
        #expect((sent ?? 0) > Double(shown) * 5, "the pipeline ran at its own pace, far above the tap's rate")
        #expect(await petrel.stop(within: .seconds(30)) == 0)
    }

    @Test func aTapThatDoesNotReadNeitherSlowsNorBlocksThePipeline() async throws {
        let directory = Self.temporaryDirectory("tap-slow")
        defer { try? FileManager.default.removeItem(at: directory) }
        let petrel = try PetrelProcess(
            config: Self.pipeline(interval: "20ms", batchSize: 200, dataDirectory: directory), directory: directory)
        try await petrel.start()
        let stalled = try StalledClient(port: petrel.apiPort, path: "/tap?outputs_of=demo&rate=100000")
        defer { stalled.close() }
        let received =
            "petrel_component_received_events_total{component_id=\"out\",component_kind=\"sink\",component_type=\"blackhole\"}"
        // The client reads nothing. Once the source has sent far more than the socket buffers and the tap's own
        // buffer hold (about 330 bytes an event; a few MiB), the tap is dropping; on a loaded machine that takes longer.
        let demoSent =
            "petrel_component_sent_events_total{component_id=\"demo\",component_kind=\"source\",component_type=\"demo\"}"
        let start = await petrel.metric(demoSent) ?? 0
        let deadline = ContinuousClock.now + .seconds(90)
        while (await petrel.metric(demoSent) ?? 0) - start < 40_000, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
        }
        let before = await petrel.metric(received) ?? 0
        try await Task.sleep(for: .seconds(3))
        let after = await petrel.metric(received) ?? 0
        #expect(after - before >= 500, "events kept reaching the sink: \(before) then \(after)")
        // Now read what the tap wrote: its status lines count what it dropped for this client.
        let text = await stalled.drain(for: .seconds(20), until: #""dropped":"#)
        let dropped = text.split(separator: "\n").compactMap { line -> Int? in
            guard let start = line.range(of: #"{"tap":"status""#)?.lowerBound,
                let object = try? JSONSerialization.jsonObject(with: Data(line[start...].utf8)) as? [String: Any]
            else { return nil }
            return object["dropped"] as? Int
        }
        #expect((dropped.max() ?? 0) > 0, "the tap dropped and counted what the client could not take")
        #expect(await petrel.stop(within: .seconds(30)) == 0, "a stalled tap does not hold up the shutdown")
    }

    @Test func topOncePrintsARowPerComponentWithRates() async throws {
        let directory = Self.temporaryDirectory("top")
        defer { try? FileManager.default.removeItem(at: directory) }
        let petrel = try PetrelProcess(
            config: Self.pipeline(interval: "50ms", batchSize: 20, dataDirectory: directory), directory: directory)
        try await petrel.start()
        let top = try await CLI(["top", "--url", "http://127.0.0.1:\(petrel.apiPort)", "--once"]).finish(
            within: .seconds(60))
        #expect(top.status == 0, "\(top.errors)")
        let rows = top.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(
            rows.first == ["ID", "KIND", "TYPE", "IN/S", "OUT/S", "ERRORS", "DISCARDED", "QUEUE", "BUFFER", "TARGETS"])
        let byID = Dictionary(rows.dropFirst().map { ($0[0], $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byID.keys.sorted() == ["demo", "out", "tagged"], "\(top.output)")
        // About 400 events a second; any rate above zero is plausible on a loaded machine.
        #expect(byID["demo"].map { Array($0[1...3]) } == ["source", "demo", "-"])
        #expect((byID["demo"].flatMap { Double($0[4]) } ?? 0) > 0, "\(top.output)")
        #expect((byID["tagged"].flatMap { Double($0[3]) } ?? 0) > 0, "\(top.output)")
        #expect((byID["tagged"].flatMap { Double($0[4]) } ?? 0) > 0, "\(top.output)")
        #expect(byID["tagged"]?[7].hasSuffix("/16") == true, "a transform's queue against its capacity")
        #expect((byID["out"].flatMap { Double($0[3]) } ?? 0) > 0, "\(top.output)")
        #expect(byID["out"]?[5] == "0", "no errors")
        #expect(byID["demo"]?[9] == "-", "no targets but for a scrape source")
        #expect(await petrel.stop(within: .seconds(30)) == 0)
    }

    @Test func topShowsAScrapeSourcesTargetsUp() async throws {
        let directory = Self.temporaryDirectory("top-scrape")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Petrel scrapes its own API (up) and a port nothing listens on (down).
        let apiPort = freePort()
        let closedPort = freePort()
        let petrel = try PetrelProcess(
            config: """
                data_dir: \(directory.path)
                sources:
                  scrape:
                    type: prometheus_scrape
                    scrape_interval: 1s
                    scrape_timeout: 1s
                    scrape_configs:
                      - job_name: self
                        static_configs: [{ targets: ["127.0.0.1:\(apiPort)", "127.0.0.1:\(closedPort)"] }]
                sinks:
                  out: { type: blackhole, inputs: [scrape] }
                """, directory: directory, apiPort: apiPort)
        try await petrel.start()
        var row: [String] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let top = try await CLI(["top", "--url", "http://127.0.0.1:\(petrel.apiPort)", "--once"]).finish(
                within: .seconds(60))
            #expect(top.status == 0, "\(top.errors)")
            let rows = top.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            row = rows.first { $0.first == "scrape" } ?? []
            if row.count == 10 && row[9] == "1/2,1down" { break }
        }
        #expect(Array(row.prefix(3)) == ["scrape", "source", "prometheus_scrape"], "\(row)")
        #expect(row.last == "1/2,1down", "one target up of two, the other down: \(row)")
        #expect((Int(row.count > 5 ? row[5] : "") ?? 0) >= 1, "the failed scrapes are errors: \(row)")
        #expect(await petrel.stop(within: .seconds(30)) == 0)
    }
}

/// An HTTP/1.1 client that sends a request and then reads nothing, with a receive buffer as small as the kernel
/// allows, until `drain`.
final class StalledClient: Sendable {
    let descriptor: Int32

    init(port: Int, path: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 1024
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw StalledClientError() }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
        guard
            request.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) })
                == request.count
        else { throw StalledClientError() }
    }

    /// Reads whatever arrives for `duration`, or until what was read holds a status line with a count of `marker`
    /// above zero.
    func drain(for duration: Duration, until marker: String) async -> String {
        let descriptor = self.descriptor
        return await offload {
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            let deadline = ContinuousClock.now + duration
            while ContinuousClock.now < deadline {
                let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                if count == 0 { break }
                if count > 0 { bytes += chunk[0..<count] }
                let text = String(decoding: bytes.suffix(count > 0 ? count + 200 : 0), as: UTF8.self)
                if let range = text.range(of: marker), text[range.upperBound...].first.map({ $0 != "0" }) == true {
                    break
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    func close() {
        Glibc.close(descriptor)
    }
}

struct StalledClientError: Error {}
