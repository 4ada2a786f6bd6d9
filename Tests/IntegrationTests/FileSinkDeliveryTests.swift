import Foundation
import PetrelCore
import PetrelTestSupport
import Testing

/// The `file` sink in the real binary: what a remote-write sender was answered 204 for ends up in the file, each
/// sample exactly once on a clean run, and at least once after `kill -9` with a disk buffer in front.
@Suite(.serialized) struct FileSinkDeliveryTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-file-sink-\(UUID().uuidString)")

    /// 2024-01-01T10:00:00Z in milliseconds: the hour whose file the samples land in.
    private let sampleTime: Int64 = 1_704_103_200_000

    private func requestSeries(_ request: Int) -> [TestSeries] {
        (0..<10).map { index in
            TestSeries(
                labels: ["__name__": "file_sink_test", "request": String(request), "series": String(index)],
                samples: [Sample(timestamp: sampleTime + Int64(request), value: Double(request * 1000 + index))])
        }
    }

    private func config(sourcePort: Int, buffer: String) -> String {
        """
        data_dir: \(directory.path)/data
        sources:
          rw: { type: prometheus_remote_write, address: "127.0.0.1:\(sourcePort)" }
        sinks:
          out:
            type: file
            inputs: [rw]
            path: "\(directory.path)/out/%Y-%m-%d/%H.ndjson"
            buffer: \(buffer)
        """
    }

    private var outputFile: URL { directory.appendingPathComponent("out/2024-01-01/10.ndjson") }

    /// Every (request, series, timestamp, value) line in the output file, counted.
    private func samplesInFile() throws -> [String: Int] {
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not an object: \(line)")
            let labels = try #require(object["labels"] as? [String: String])
            #expect(object["kind"] as? String == "metric")
            #expect(labels["__name__"] == "file_sink_test")
            let key =
                "\(labels["request"] ?? "?")/\(labels["series"] ?? "?")@\((object["timestamp"] as? NSNumber)?.int64Value ?? -1)="
                + "\((object["value"] as? NSNumber)?.doubleValue ?? -1)"
            counts[key, default: 0] += 1
        }
        return counts
    }

    private func expectedKeys(_ requests: Range<Int>) -> Set<String> {
        Set(
            requests.flatMap { request in
                (0..<10).map { "\(request)/\($0)@\(sampleTime + Int64(request))=\(Double(request * 1000 + $0))" }
            })
    }

    @Test func everySampleLandsInTheFileExactlyOnce() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: config(sourcePort: sourcePort, buffer: "{ type: memory }"), directory: directory)
        try await petrel.start()
        for request in 0..<30 {
            let response = await RemoteWriteRequest.push(requestSeries(request), port: sourcePort)
            try #require(response?.status == 204, "request \(request): \(String(describing: response?.status))")
        }
        #expect(await petrel.stop() == 0, "a clean stop flushes the file sink: \(petrel.logText)")
        let counts = try samplesInFile()
        #expect(Set(counts.keys) == expectedKeys(0..<30))
        #expect(counts.values.allSatisfy { $0 == 1 }, "no sample twice")
    }

    @Test func killNineBehindADiskBufferLosesNothingAnsweredFor() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let sourcePort = freePort()
        let petrel = try PetrelProcess(
            config: config(sourcePort: sourcePort, buffer: "{ type: disk, max_size: 64MiB }"), directory: directory)
        try await petrel.start()
        for request in 0..<30 {
            let response = await RemoteWriteRequest.push(requestSeries(request), port: sourcePort)
            try #require(response?.status == 204)
        }
        await petrel.kill()
        try await petrel.start()
        var counts: [String: Int] = [:]
        for _ in 0..<120 {
            counts = try samplesInFile()
            if Set(counts.keys).isSuperset(of: expectedKeys(0..<30)) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(Set(counts.keys) == expectedKeys(0..<30), "every sample answered 204 is in the file")
        let duplicates = counts.values.reduce(0) { $0 + $1 - 1 }
        print("file sink, kill -9 behind a disk buffer: \(counts.count) samples, \(duplicates) written twice")
        #expect(await petrel.stop() == 0)
    }
}
