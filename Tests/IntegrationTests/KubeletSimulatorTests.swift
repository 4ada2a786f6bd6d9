import Foundation
import PetrelTestSupport
import Testing

/// The kubelet simulator itself: the files it leaves are laid out and rotated as the kubelet's are, and they hold
/// exactly the messages its report says it wrote, so the delivery tests can trust the report.
@Suite struct KubeletSimulatorTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-kubelet-\(UUID().uuidString)")

    /// Every `pod/seq/part` identity in a file's lines (`part` -1 for a whole message), checked for the line's shape.
    private static func identities(_ text: String, docker: Bool, into counts: inout [String: Int]) throws {
        for line in text.split(separator: "\n") {
            let piece: String
            let isLast: Bool
            if docker {
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
                let log = try #require(object["log"])
                #expect(object["time"]?.hasSuffix("Z") == true && object["stream"] != nil)
                isLast = log.hasSuffix("\n")
                piece = isLast ? String(log.dropLast()) : log
            } else {
                let fields = line.split(separator: " ", maxSplits: 3)
                try #require(fields.count == 4, "\(line)")
                #expect(fields[0].hasSuffix("Z") && (fields[1] == "stdout" || fields[1] == "stderr"))
                #expect(fields[2] == "F" || fields[2] == "P")
                isLast = fields[2] == "F"
                piece = String(fields[3])
            }
            let words = piece.split(separator: " ")
            let part = words.count > 2 && words[2].hasPrefix("part=") ? String(words[2].dropFirst(5)) : "-1"
            #expect(isLast == (part == "-1" || part == "2"), "a partial piece is marked as one: \(line)")
            counts["\(words[0].dropFirst(4))/\(words[1].dropFirst(4))/\(part)", default: 0] += 1
        }
    }

    @Test func filesHoldExactlyWhatTheReportSaysRotatedAndGzippedAsTheKubeletDoes() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var settings = KubeletSimulator.Settings()
        // Slower and smaller than the delivery tests, so every pod rotates at each check (once a second) and a file
        // is gzipped two rotations later, within a short test.
        settings.messagesPerSecond = 10_000
        settings.rotateBytes = 16 * 1024
        // Nothing is deleted here, so every message can be read back; the rotation keeps its shape.
        settings.maxFiles = 1000
        settings.removeAfter = .seconds(60)
        let kubelet = try KubeletSimulator(podsRoot: directory, settings: settings)
        kubelet.start()
        for _ in 0..<600 {
            if kubelet.progress.rotations >= 3 * settings.pods { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let report = await kubelet.stop()
        print("kubelet simulator: \(report.summary)")
        #expect(report.rotations >= 3 * settings.pods, "every pod rotated, and rotated again")
        #expect(report.rotationsInsideAMessage > 0)

        var counts: [String: Int] = [:]
        var gzipped = 0
        let podDirectories = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(podDirectories.count == settings.pods + report.shortLivedPods.count)
        for podDirectory in podDirectories {
            let parts = podDirectory.split(separator: "_")
            try #require(parts.count == 3, "<namespace>_<pod>_<uid>: \(podDirectory)")
            let pod = try #require(Int(parts[1].split(separator: "-").last ?? ""))
            let container = directory.appendingPathComponent(podDirectory).appendingPathComponent(
                report.shortLivedPods.contains(pod) ? "main" : "app")
            let files = try FileManager.default.contentsOfDirectory(atPath: container.path).sorted()
            #expect(files.first == "0.log")
            let rotated = files.dropFirst()
            for (position, file) in rotated.enumerated() {
                #expect(file.wholeMatch(of: /0\.log\.\d{8}-\d{6}(\.gz)?/) != nil, "\(file)")
                // The kubelet gzips before it rotates: right after a rotation the two newest rotated files are plain.
                #expect(file.hasSuffix(".gz") == (position < rotated.count - 2), "only the newest rotated are plain")
            }
            for file in files {
                let path = container.appendingPathComponent(file).path
                let text: String
                if file.hasSuffix(".gz") {
                    gzipped += 1
                    text = try Self.gunzip(path)
                } else {
                    text = try String(contentsOfFile: path, encoding: .utf8)
                }
                try Self.identities(text, docker: report.dockerPods.contains(pod), into: &counts)
            }
        }
        #expect(gzipped > 0)
        var expected: Set<String> = []
        for (pod, count) in report.messages {
            for seq in 0..<count {
                if !report.shortLivedPods.contains(pod) && kubelet.isSplit(seq: seq) {
                    for part in 0..<settings.splitPieces { expected.insert("\(pod)/\(seq)/\(part)") }
                } else {
                    expected.insert("\(pod)/\(seq)/-1")
                }
            }
        }
        #expect(Set(counts.keys) == expected)
        #expect(counts.values.allSatisfy { $0 == 1 })
        #expect(counts.count == report.rawLines)
    }

    private static func gunzip(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
        process.arguments = ["-dc", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
