import Foundation
import PetrelTestSupport
import Testing

/// The `file` source, `reduce` merging stack traces, the `console` sink, in the real binary: each trace arrives once
/// as one record, the checkpoint reaches the end of the file, so a restart sends nothing twice, and lines held in an
/// open group keep the checkpoint before them, so `kill -9` loses none of them (at least once: what was read in the
/// same batch as them is read again).
@Suite(.serialized) struct ReduceFileCheckpointTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-reduce-\(UUID().uuidString)")

    private var logs: URL { directory.appendingPathComponent("logs") }
    private var checkpointFile: URL { directory.appendingPathComponent("data/checkpoints/files/checkpoints") }

    /// Traces of four lines: a dated first line naming the trace, then three indented frames.
    private static func traces(_ range: Range<Int>) -> String {
        range.map { number in
            "2026-12-07 10:00:00 ERROR failure \(String(format: "%04d", number))\n"
                + (0..<3).map { "\tat com.example.Frame\($0).call(Frame.java:\(number))\n" }.joined()
        }.joined()
    }

    private func config(expireAfterMilliseconds: Int = 300) -> String {
        """
        data_dir: \(directory.path)/data
        sources:
          files: { type: file, include: ["\(logs.path)/*.log"], checkpoint_interval: 100ms }
        transforms:
          traces:
            type: reduce
            inputs: [files]
            starts_when: 'match(string!(.message), r''^\\d{4}-\\d{2}-\\d{2} '')'
            merge_strategies: { message: concat_newline }
            expire_after_ms: \(expireAfterMilliseconds)
            flush_period_ms: 50
        sinks:
          out: { type: console, inputs: [traces] }
        """
    }

    private func append(_ text: String) throws {
        let url = logs.appendingPathComponent("app.log")
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try handle.close()
    }

    /// The messages the console printed, in order.
    private static func printed(_ text: Substring) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let message = object["message"] as? String, message.hasPrefix("2026-12-07")
            else { return nil }
            return message
        }
    }

    private func waitUntilPrinted(_ petrel: PetrelProcess, from start: String.Index, count: Int) async -> [String] {
        var messages: [String] = []
        for _ in 0..<600 {
            let text = petrel.logText
            messages = Self.printed(text[min(start, text.endIndex)...])
            if messages.count >= count { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return messages
    }

    private func checkpointOffset() -> Int? {
        guard let text = try? String(contentsOf: checkpointFile, encoding: .utf8) else { return nil }
        let fields = text.split(separator: "\n").dropFirst().first?.split(separator: " ")
        return fields.flatMap { $0.count >= 2 ? Int($0[1]) : nil }
    }

    private func expected(_ range: Range<Int>) -> [String] {
        Self.traces(range).split(separator: "\n").map(String.init).chunked(4).map { $0.joined(separator: "\n") }
    }

    @Test func eachTraceOnceAsOneRecordAndTheCheckpointAtTheEnd() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try append(Self.traces(0..<200))
        let petrel = try PetrelProcess(config: config(), directory: directory)
        try await petrel.start()
        let first = await waitUntilPrinted(petrel, from: "".startIndex, count: 200)
        #expect(first == expected(0..<200), "the last trace leaves when its group expires")
        #expect(await petrel.stop() == 0)
        let size = Self.traces(0..<200).utf8.count
        #expect(checkpointOffset() == size, "every line's record was delivered, so none holds the checkpoint")

        try append(Self.traces(200..<220))
        // The restarted process appends to the same log: read what it printed after the first one's.
        let start = petrel.logText.endIndex
        let restarted = try PetrelProcess(config: config(), directory: directory)
        try await restarted.start()
        _ = await waitUntilPrinted(restarted, from: start, count: 20)
        #expect(await restarted.stop() == 0)
        let text = restarted.logText
        #expect(Self.printed(text[min(start, text.endIndex)...]) == expected(200..<220), "nothing sent twice")
    }

    @Test func linesOfAnOpenGroupHoldTheCheckpointAndSurviveKillNine() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try append(Self.traces(0..<50))
        let config = config(expireAfterMilliseconds: 600_000)
        let petrel = try PetrelProcess(config: config, directory: directory)
        try await petrel.start()
        let first = await waitUntilPrinted(petrel, from: "".startIndex, count: 49)
        #expect(first == expected(0..<49), "trace 49 stays open: no dated line follows it yet")
        // Several checkpoint intervals. Acknowledgements are per batch read: the batch holding trace 49's lines
        // holds the checkpoint before all of its lines, wherever the batch began.
        try await Task.sleep(for: .seconds(1))
        #expect((checkpointOffset() ?? 0) <= Self.traces(0..<49).utf8.count, "the open trace is not checkpointed")
        await petrel.kill()

        try append(Self.traces(50..<51))
        let start = petrel.logText.endIndex
        let restarted = try PetrelProcess(config: config, directory: directory)
        try await restarted.start()
        _ = await waitUntilPrinted(restarted, from: start, count: 1)
        #expect(await restarted.stop() == 0, "a clean stop sends the group still open")
        let text = restarted.logText
        let second = Self.printed(text[min(start, text.endIndex)...])
        #expect(Array(second.suffix(2)) == expected(49..<51), "trace 49 whole, then 50 at the stop")
        #expect(second.filter { $0 == expected(49..<50)[0] }.count == 1)
        #expect(Set(second).isSubset(of: expected(0..<51)), "lines re-read from the checkpoint make whole traces")
    }
}

extension Array {
    fileprivate func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
