import Foundation
import PetrelTestSupport
import Testing

/// Pod logs as the kubelet writes them (the simulator: CRI and Docker lines, split messages, rotation every second or
/// so, gzip, pods that live 200 ms), read by the real binary into a `file` sink: every message exactly once on a clean
/// run, and at least once, with the duplicates counted, after `kill -9` mid-stream and a restart, with a disk buffer
/// or a memory buffer in front of the sink.
///
/// `reader` switches to the `file` source over the pods' files (the live and the rotated ones): then each raw CRI or
/// Docker line, piece by piece, is what must arrive once.
@Suite(.serialized) struct KubernetesLogsDeliveryTests {
    /// Which source reads the pods.
    enum Reader {
        /// The `file` source: a record per raw line.
        case file
        /// The `kubernetes_logs` source: a record per message, split pieces merged.
        case kubernetesLogs
    }

    static let reader = Reader.kubernetesLogs

    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-kubernetes-logs-\(UUID().uuidString)")

    private var podsRoot: URL { directory.appendingPathComponent("pods") }
    private var outputFile: URL { directory.appendingPathComponent("out/records.ndjson") }
    private static let maxUnacknowledgedBytes = 1024 * 1024

    private func config(diskBuffer: Bool = false) -> String {
        let source: [String]
        switch Self.reader {
        case .file:
            // The rotated files too: after a restart, what a rotated file still holds unread is read from it.
            source = [
                "type: file",
                "include: [\"\(podsRoot.path)/**/*.log\", \"\(podsRoot.path)/**/*.log.2*\"]",
                "exclude: [\"\(podsRoot.path)/**/*.gz\", \"\(podsRoot.path)/**/*.tmp\"]",
            ]
        case .kubernetesLogs:
            source = [
                "type: kubernetes_logs", "pods_root: \"\(podsRoot.path)\"", "kubernetes_api: { enabled: false }",
            ]
        }
        let settings = ["checkpoint_interval: 100ms", "max_unacknowledged_bytes: \(Self.maxUnacknowledgedBytes)"]
        return """
            data_dir: \(directory.path)/data
            sources:
              pods:
            \((source + settings).map { "    " + $0 }.joined(separator: "\n"))
            sinks:
              out:
                type: file
                inputs: [pods]
                path: "\(outputFile.path)"
            \(diskBuffer ? "    buffer: { type: disk, max_size: 256MiB, fsync: 100ms }" : "")
            """
    }

    /// A node of 50 pods writing 50,000 messages a second, and pods that live 200 ms.
    private static func nodeSettings() -> KubeletSimulator.Settings {
        var settings = KubeletSimulator.Settings()
        // Small files, so that in 2.5 s of writing every pod rotates at each check (once a second) and its first
        // file is gzipped.
        settings.rotateBytes = 32 * 1024
        settings.maxMessages = 120_000
        return settings
    }

    private func log(_ text: String) {
        print("\(Date()) kubernetes logs delivery: \(text)")
    }

    @Test func everyMessageArrivesExactlyOnceOnACleanRun() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let kubelet = try KubeletSimulator(podsRoot: podsRoot, settings: Self.nodeSettings())
        let petrel = try PetrelProcess(config: config(), directory: directory)
        try await petrel.start()
        kubelet.start()
        try await waitUntilWritten(kubelet)
        let report = await kubelet.stop()
        var output = OutputTally(reader: Self.reader, kubelet: kubelet)
        let expected = Expectation(report: report, kubelet: kubelet, reader: Self.reader)
        await output.follow(outputFile, until: expected.count)
        #expect(await petrel.stop() == 0, "a clean stop: \(petrel.logText.suffix(2000))")
        try output.read(outputFile)
        print("kubelet simulator (clean run): \(report.summary)")
        print("petrel delivered \(output.records) records, \(output.duplicates) duplicates")
        expected.check(output, kubelet: kubelet)
        #expect(output.duplicates == 0, "no record twice")
    }

    /// With a memory buffer too: the checkpoint waits for delivery, so what the buffer held is read again.
    @Test(arguments: [true, false])
    func afterKillNineMidStreamEveryMessageArrivesAtLeastOnce(diskBuffer: Bool) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let kubelet = try KubeletSimulator(podsRoot: podsRoot, settings: Self.nodeSettings())
        let petrel = try PetrelProcess(config: config(diskBuffer: diskBuffer), directory: directory)
        try await petrel.start()
        kubelet.start()
        log("started")
        var output = OutputTally(reader: Self.reader, kubelet: kubelet)
        for _ in 0..<1200 {
            try output.read(outputFile)
            if output.records >= 20_000 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        log("kill -9 at \(output.records) records")
        let killed = ContinuousClock.now
        await petrel.kill()
        try output.read(outputFile)
        let deliveredBeforeKill = output.records
        // Restarted at once, as a DaemonSet's pod is: the kubelet keeps writing, rotating and gzipping meanwhile.
        try await petrel.start()
        let down = killed...ContinuousClock.now
        log("restarted")
        try await waitUntilWritten(kubelet)
        let report = await kubelet.stop()
        log("kubelet stopped")
        let expected = Expectation(report: report, kubelet: kubelet, reader: Self.reader)
        await output.follow(outputFile, until: expected.count)
        log("followed")
        #expect(await petrel.stop() == 0)
        try output.read(outputFile)
        print("kubelet simulator (kill -9 run): \(report.summary)")
        print(
            "petrel delivered \(output.records) records (\(deliveredBeforeKill) before kill -9), "
                + "\(output.duplicates) duplicates (\(output.duplicateBytes) bytes)")
        expected.check(output, kubelet: kubelet, exactlyOnce: false, down: down)
        // What is sent twice is what was read past the last checkpoint (the unacknowledged window, and what was
        // acknowledged in the checkpoint interval before the kill) and what the disk buffer handed the sink after it
        // last recorded an acknowledgement: 1.2 to 2.3 MB in seven runs.
        #expect(output.duplicateBytes <= 4 * Self.maxUnacknowledgedBytes, "duplicates bounded")
    }

    private func waitUntilWritten(_ kubelet: KubeletSimulator) async throws {
        for _ in 0..<1200 {
            if kubelet.progress.messages >= kubelet.settings.maxMessages { return }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// What must arrive: every message the simulator wrote (as raw pieces for the `file` source).
private struct Expectation {
    let report: KubeletSimulator.Report
    let reader: KubernetesLogsDeliveryTests.Reader
    let splitPieces: Int
    private let isSplit: (Int) -> Bool

    init(report: KubeletSimulator.Report, kubelet: KubeletSimulator, reader: KubernetesLogsDeliveryTests.Reader) {
        self.report = report
        self.reader = reader
        splitPieces = kubelet.settings.splitPieces
        isSplit = { kubelet.isSplit(seq: $0) }
    }

    func pieces(pod: Int, seq: Int) -> Int {
        reader == .file && !report.shortLivedPods.contains(pod) && isSplit(seq) ? splitPieces : 1
    }

    /// The first missing messages, and the files that went away holding them.
    private func describe(_ missing: [(pod: Int, seq: Int)]) -> String {
        let gone = report.gone.filter { file in missing.contains { $0.pod == file.pod && file.seqs.contains($0.seq) } }
        return "\(missing.prefix(5)); files that went away holding some: "
            + gone.prefix(5).map { "pod \($0.pod) seq \($0.seqs) \($0.reason.rawValue)" }.joined(separator: ", ")
    }

    /// Records to expect in all.
    var count: Int {
        report.messages.reduce(0) { total, entry in
            total + (0..<entry.value).reduce(0) { $0 + pieces(pod: entry.key, seq: $1) }
        }
    }

    /// The messages of which some record did not arrive.
    func missing(from output: OutputTally) -> [(pod: Int, seq: Int)] {
        var missing: [(pod: Int, seq: Int)] = []
        for (pod, count) in report.messages.sorted(by: { $0.key < $1.key }) {
            for seq in 0..<count {
                let parts = pieces(pod: pod, seq: seq)
                let keys =
                    parts == 1
                    ? [OutputTally.key(pod: pod, seq: seq, part: -1)]
                    : (0..<parts).map {
                        OutputTally.key(pod: pod, seq: seq, part: $0)
                    }
                if keys.contains(where: { output.counts[$0] == nil }) { missing.append((pod, seq)) }
            }
        }
        return missing
    }

    /// `down`: from `kill -9` to the restarted Petrel's readiness.
    func check(
        _ output: OutputTally, kubelet: KubeletSimulator, exactlyOnce: Bool = true,
        down: ClosedRange<ContinuousClock.Instant>? = nil
    ) {
        let missing = missing(from: output)
        // A pod removed before the restart whose lines were not yet delivered is gone with the killed process: its
        // files were deleted, and only the descriptors Petrel held open still led to them.
        let removedBeforeRestart = Set(
            report.gone.filter { gone in
                gone.reason == .podRemoved && down.map { gone.at <= $0.upperBound } == true
            }.map(\.pod))
        let (ofShortLivedPods, ofLongLivedPods) = (
            missing.filter { report.shortLivedPods.contains($0.pod) && !removedBeforeRestart.contains($0.pod) },
            missing.filter { !report.shortLivedPods.contains($0.pod) }
        )
        // Also after SIGKILL: a rotated file the kubelet gzipped while Petrel was down is read on from its checkpoint.
        #expect(ofLongLivedPods.isEmpty, "\(ofLongLivedPods.count) messages missing: \(describe(ofLongLivedPods))")
        // Files are opened as they appear, also while the tailer waits for room downstream, so a pod that lives 200 ms
        // and is removed a second later is read all the same.
        #expect(
            ofShortLivedPods.isEmpty,
            "\(ofShortLivedPods.count) messages of short-lived pods missing: \(describe(ofShortLivedPods))")
        if down != nil { print("short-lived pods removed before the restart: \(removedBeforeRestart.count)") }
        var unexpected = 0
        for key in output.counts.keys {
            let (pod, seq, part) = OutputTally.split(key)
            let parts = pieces(pod: pod, seq: seq)
            if seq >= report.messages[pod] ?? 0 || (parts == 1 ? part != -1 : !(0..<parts).contains(part)) {
                unexpected += 1
            }
        }
        #expect(unexpected == 0, "records of messages never written")
        #expect(output.malformed.isEmpty, "records without pod=… seq=…: \(output.malformed.prefix(3))")
        if exactlyOnce { #expect(output.counts.count == output.records) }
        if reader == .kubernetesLogs {
            #expect(
                output.wrongMessages.isEmpty, "messages not merged back as written: \(output.wrongMessages.prefix(3))")
            #expect(output.checkedMessages == output.records)
        }
    }
}

/// Follows the sink's output file: counts the records of each message (or piece) by its `pod=… seq=… part=…`.
private struct OutputTally {
    let reader: KubernetesLogsDeliveryTests.Reader
    var counts: [Int: Int] = [:]
    var records = 0
    var duplicateBytes = 0
    var malformed: [String] = []
    /// Records whose message is not the message written (only with `kubernetes_logs`).
    var wrongMessages: [String] = []
    var checkedMessages = 0
    private var offset: UInt64 = 0
    private var rest: [UInt8] = []
    private let kubelet: KubeletSimulator

    init(reader: KubernetesLogsDeliveryTests.Reader, kubelet: KubeletSimulator) {
        self.reader = reader
        self.kubelet = kubelet
    }

    var duplicates: Int { records - counts.count }

    /// One number per (pod, seq, part); part -1 is a whole message.
    static func key(pod: Int, seq: Int, part: Int) -> Int { pod << 40 | seq << 8 | (part + 1) }
    static func split(_ key: Int) -> (pod: Int, seq: Int, part: Int) {
        (key >> 40, (key >> 8) & ((1 << 32) - 1), (key & 0xff) - 1)
    }

    /// Reads what was appended since the last call.
    mutating func read(_ file: URL) throws {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return }
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let data = try handle.readToEnd() ?? Data()
        offset += UInt64(data.count)
        rest.append(contentsOf: data)
        var start = 0
        rest.withUnsafeBufferPointer { bytes in
            while let newline = Self.firstIndex(of: UInt8(ascii: "\n"), in: bytes, from: start) {
                record(UnsafeBufferPointer(rebasing: bytes[start..<newline]))
                start = newline + 1
            }
        }
        rest.removeFirst(start)
    }

    /// Reads until `count` distinct records arrived, or nothing new came for 15 s.
    mutating func follow(_ file: URL, until count: Int) async {
        var lastRecords = -1
        var stalledSince = ContinuousClock.now
        while counts.count < count && ContinuousClock.now - stalledSince < .seconds(15) {
            try? read(file)
            if records != lastRecords {
                lastRecords = records
                stalledSince = .now
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private mutating func record(_ line: UnsafeBufferPointer<UInt8>) {
        records += 1
        guard let message = Self.message(in: line), let identity = Self.identity(in: message) else {
            malformed.append(String(decoding: line, as: UTF8.self))
            return
        }
        let part = reader == .kubernetesLogs ? -1 : identity.part
        let key = Self.key(pod: identity.pod, seq: identity.seq, part: part)
        counts[key, default: 0] += 1
        if counts[key]! > 1 { duplicateBytes += message.count }
        if reader == .kubernetesLogs {
            checkedMessages += 1
            let text = String(decoding: message, as: UTF8.self)
            if text != kubelet.message(pod: identity.pod, seq: identity.seq) { wrongMessages.append(text) }
        }
    }

    /// The bytes of the `"message":"…"` value (our messages need no escapes; Docker's raw lines have `\"`).
    private static func message(in line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        guard let found = firstIndex(of: "\"message\":\"", in: line) else { return nil }
        let start = found + "\"message\":\"".utf8.count
        var end = start
        while let quote = firstIndex(of: UInt8(ascii: "\""), in: line, from: end) {
            end = quote
            if line[quote - 1] != UInt8(ascii: "\\") { break }
            end += 1
        }
        return UnsafeBufferPointer(rebasing: line[start..<min(end, line.count)])
    }

    // The output of a run is a few hundred thousand lines, read in a debug build: memchr and memcmp keep that quick.
    private static func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress,
            let found = memchr(base + start, Int32(byte), bytes.count - start)
        else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    private static func firstIndex(of marker: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let count = marker.utf8CodeUnitCount
        var start = 0
        while let index = firstIndex(of: marker.utf8Start[0], in: bytes, from: start), index + count <= bytes.count {
            if memcmp(bytes.baseAddress! + index, marker.utf8Start, count) == 0 { return index }
            start = index + 1
        }
        return nil
    }

    /// `pod=<n> seq=<n>[ part=<n>]` anywhere in the message.
    private static func identity(in message: UnsafeBufferPointer<UInt8>) -> (pod: Int, seq: Int, part: Int)? {
        guard let found = firstIndex(of: "pod=", in: message) else { return nil }
        var index = found + 4
        func number(after prefix: String) -> Int? {
            for byte in prefix.utf8 {
                guard index < message.count, message[index] == byte else { return nil }
                index += 1
            }
            var value = 0
            let digitsStart = index
            while index < message.count, (48...57).contains(message[index]) {
                value = value * 10 + Int(message[index] - 48)
                index += 1
            }
            return index > digitsStart ? value : nil
        }
        guard let pod = number(after: ""), let seq = number(after: " seq=") else { return nil }
        return (pod, seq, number(after: " part=") ?? -1)
    }
}
