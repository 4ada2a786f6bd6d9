import Foundation
import PetrelTestSupport
import Testing

/// The `file` source in the real binary, into the `console` sink (its standard output is the process log): every
/// line once on a clean run and after a restart, and after `kill -9` every line at least once, with exactly the
/// lines past the last checkpoint sent twice.
@Suite(.serialized) struct FileSourceTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-file-\(UUID().uuidString)")

    private var logs: URL { directory.appendingPathComponent("logs") }
    private var checkpointFile: URL { directory.appendingPathComponent("data/checkpoints/files/checkpoints") }

    /// Lines of a fixed 11 bytes, so an offset says which line it is.
    private static func lines(_ range: Range<Int>) -> String {
        range.map { String(format: "seq-%06d\n", $0) }.joined()
    }

    private func config() -> String {
        """
        data_dir: \(directory.path)/data
        sources:
          files: { type: file, include: ["\(logs.path)/*.log"], max_read_bytes: 4KiB, checkpoint_interval: 100ms }
        sinks:
          out: { type: console, inputs: [files] }
        """
    }

    private func append(_ text: String, to name: String) throws {
        let url = logs.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: url.path) {
            FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try handle.close()
    }

    /// The sequence numbers of the records the console printed, in order.
    private static func printed(_ text: Substring) -> [Int] {
        var numbers: [Int] = []
        for line in text.split(separator: "\n") {
            guard let range = line.range(of: "\"message\":\"seq-") else { continue }
            let digits = line[range.upperBound...].prefix(6)
            if digits.count == 6, let number = Int(digits) { numbers.append(number) }
        }
        return numbers
    }

    private func waitUntilPrinted(_ petrel: PetrelProcess, from start: String.Index, count: Int) async -> [Int] {
        var numbers: [Int] = []
        for _ in 0..<600 {
            let text = petrel.logText
            numbers = Self.printed(text[min(start, text.endIndex)...])
            if numbers.count >= count { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return numbers
    }

    private func checkpointOffset() -> Int? {
        guard let text = try? String(contentsOf: checkpointFile, encoding: .utf8) else { return nil }
        let fields = text.split(separator: "\n").dropFirst().first?.split(separator: " ")
        return fields.flatMap { $0.count >= 2 ? Int($0[1]) : nil }
    }

    @Test func everyLineOnceAcrossAStopAndARestart() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try append(Self.lines(0..<3000), to: "app.log")
        let petrel = try PetrelProcess(config: config(), directory: directory)
        try await petrel.start()
        let first = await waitUntilPrinted(petrel, from: "".startIndex, count: 3000)
        #expect(first == Array(0..<3000))
        #expect(await petrel.stop() == 0)
        #expect(checkpointOffset() == 3000 * 11, "the last checkpoint is written at shutdown")

        try append(Self.lines(3000..<4000), to: "app.log")
        let mark = petrel.logText.endIndex
        try await petrel.start()
        let second = await waitUntilPrinted(petrel, from: mark, count: 1000)
        #expect(second == Array(3000..<4000), "a restart goes on from the checkpoint: nothing twice")
        #expect(
            await petrel.metric("petrel_file_lines_read_total{component_id=\"files\",component_type=\"file\"}") == 1000)
        #expect(await petrel.stop() == 0)
    }

    @Test func killNineMidStreamSendsEveryLineAtLeastOnceAndRepeatsOnlyWhatFollowsTheCheckpoint() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let petrel = try PetrelProcess(config: config(), directory: directory)
        try await petrel.start()
        // Lines keep coming while the process is killed.
        var written = 0
        var printedBeforeKill: [Int] = []
        while written < 20_000 {
            try append(Self.lines(written..<written + 500), to: "app.log")
            written += 500
            printedBeforeKill = Self.printed(petrel.logText[...])
            if printedBeforeKill.count >= 5000, (checkpointOffset() ?? 0) > 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        await petrel.kill()
        let logAtKill = petrel.logText
        printedBeforeKill = Self.printed(logAtKill[...])
        let checkpoint = try #require(checkpointOffset())
        #expect(checkpoint % 11 == 0, "a checkpoint stands between two lines")
        let resumeAt = checkpoint / 11
        #expect(printedBeforeKill == Array(0..<printedBeforeKill.count), "in order, once, before the kill")
        #expect(resumeAt <= printedBeforeKill.count, "the checkpoint never passes a line that was not sent")

        try append(Self.lines(written..<written + 1000), to: "app.log")
        written += 1000
        try await petrel.start()
        let afterRestart = await waitUntilPrinted(
            petrel, from: logAtKill.endIndex, count: written - resumeAt)
        #expect(afterRestart == Array(resumeAt..<written), "resumes at the checkpoint, then every line in order")
        let all = printedBeforeKill + afterRestart
        #expect(Set(all) == Set(0..<written), "every line at least once")
        let duplicates = all.count - written
        #expect(duplicates == printedBeforeKill.count - resumeAt, "only the lines past the checkpoint came twice")
        print("file source kill -9: \(written) lines, \(duplicates) sent twice (checkpoint at line \(resumeAt))")
        #expect(await petrel.stop() == 0)
    }
}
