import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The kubelet and its container runtimes as a log collector sees them: pods under a `pods_root`
/// (`<namespace>_<pod>_<uid>/<container>/0.log`) writing sequence-numbered lines, CRI (containerd, `Z` times) or Docker
/// `json-file`, some split into pieces, rotated, gzipped and deleted as the kubelet does, and short-lived pods whose
/// directories are removed soon after they end.
///
/// Written from the kubelet's documented behaviour (`containerLogMaxSize`, `containerLogMaxFiles`), each rotation check
/// does what the kubelet's `rotateLog` does once the live file is over the size: remove the oldest rotated files so that
/// at most `maxFiles - 2` remain, gzip every rotated file but the newest, rename `0.log` to `0.log.<YYYYMMDD-hhmmss>`
/// and open a new `0.log` (the runtime's reopen). A line is therefore gzipped two rotations after it was written, and
/// deleted `maxFiles - 1` rotations after. Rotated names carry seconds, as the kubelet's do; a rotation that would reuse
/// a name waits for the next second rather than add a suffix the kubelet never writes. Files are gzipped with the
/// `gzip` command (which writes `<name>.gz` and then removes `<name>`; the kubelet writes `<name>.gz.tmp` and renames
/// it), so a reader that skips `*.gz` never sees a half-written copy either way.
///
/// Every message carries `pod=<index> seq=<n>`, every piece of a split message also `part=<k>`, so a test can check
/// that each arrives exactly once; `report` says exactly which were written. One thread writes every file.
public final class KubeletSimulator: Sendable {
    /// What the simulated node does.
    public struct Settings: Sendable {
        /// Pods that log for the whole run; pod `i` is `ns-<i % 3>_app-<i>_<uid>`, container `app`.
        public var pods = 50
        /// Every `dockerEvery`-th long-lived pod (pod 0, `dockerEvery`, …) writes Docker `json-file`, the others CRI.
        public var dockerEvery = 5
        /// Messages per second across the long-lived pods; the writer goes as fast as it can when it falls behind.
        public var messagesPerSecond = 50_000
        /// The long-lived pods stop writing once they wrote this many messages in all (short-lived pods keep
        /// coming, and files keep rotating, until `stop()`), so a test's volume does not depend on its timing.
        public var maxMessages = Int.max
        /// Bytes of each message (at least its `pod=… seq=…` prefix).
        public var messageBytes = 64
        /// Every `splitEvery`-th message of a long-lived pod (seq % splitEvery == splitEvery - 1) is written in
        /// `splitPieces` pieces: CRI `P` lines up to an `F`, Docker `log` values without a newline up to one with it.
        public var splitEvery = 10
        public var splitPieces = 3
        /// The kubelet's `containerLogMaxSize`: the live file is rotated once it is at least this big.
        public var rotateBytes = 128 * 1024
        /// The kubelet's `containerLogMaxFiles` (the live file included).
        public var maxFiles = 5
        /// How often each file is checked for rotation; the kubelet checks every 10 s. At least a second, since
        /// rotated names carry seconds.
        public var rotationCheckInterval: Duration = .seconds(1)
        /// A new short-lived pod starts this often (`nil`: none). It writes `shortLivedMessages` CRI lines spread over
        /// `shortLivedLifetime`, and its directory is removed `removeAfter` after it ends.
        public var shortLivedPodInterval: Duration? = .milliseconds(200)
        public var shortLivedMessages = 5
        public var shortLivedLifetime: Duration = .milliseconds(200)
        public var removeAfter: Duration = .seconds(1)

        public init() {}
    }

    /// A rotated file (or a pod directory) that went away, and the messages it held.
    public struct GoneFile: Sendable {
        public enum Reason: String, Sendable {
            case gzipped
            case deleted
            case podRemoved = "pod_removed"
        }

        public var pod: Int
        /// Messages with at least one piece in the file.
        public var seqs: ClosedRange<Int>
        public var reason: Reason
        public var at: ContinuousClock.Instant
    }

    /// What the simulator wrote.
    public struct Report: Sendable {
        /// Messages written by each pod (by index): seq 0..<count, each whole (pieces of a split message are finished
        /// before the writer stops).
        public var messages: [Int: Int] = [:]
        public var dockerPods: Set<Int> = []
        /// Pods that lived a moment and were removed; they wrote only whole lines.
        public var shortLivedPods: Set<Int> = []
        /// Lines in the files: pieces of split messages count one each.
        public var rawLines = 0
        public var bytes = 0
        public var rotations = 0
        /// Rotations that fell between two pieces of one message.
        public var rotationsInsideAMessage = 0
        public var gone: [GoneFile] = []
        public var elapsed: Duration = .zero

        public var messageCount: Int { messages.values.reduce(0, +) }

        /// One line for a test's output: counts and the rate.
        public var summary: String {
            "\(messageCount) messages, \(rawLines) lines, \(bytes) bytes in \(elapsed): \(Int(rawLinesPerSecond)) lines/s; "
                + "\(rotations) rotations (\(rotationsInsideAMessage) between two pieces of a message), "
                + "\(gone.filter { $0.reason == .gzipped }.count) files gzipped, "
                + "\(gone.filter { $0.reason == .deleted }.count) deleted before gzip, \(shortLivedPods.count) short-lived pods"
        }

        /// Raw lines per second of writing (until `maxMessages`, when set).
        public var rawLinesPerSecond: Double {
            Double(rawLines)
                / max(1e-9, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }

    public let podsRoot: URL
    public let settings: Settings
    private let shared = Mutex(Shared())
    private let finished = DispatchSemaphore(value: 0)

    private struct Shared {
        var stopping = false
        var progress = Progress()
        var report: Report?
    }

    public init(podsRoot: URL, settings: Settings = Settings()) throws {
        precondition(settings.rotationCheckInterval >= .seconds(1), "rotated names carry seconds")
        precondition(settings.splitPieces >= 2 && settings.splitEvery >= 1 && settings.maxFiles >= 2)
        self.podsRoot = podsRoot
        self.settings = settings
        try FileManager.default.createDirectory(at: podsRoot, withIntermediateDirectories: true)
    }

    /// Starts writing on a thread of its own.
    public func start() {
        let thread = Thread { [self] in
            var writer = NodeWriter(podsRoot: podsRoot.path, settings: settings)
            let report = writer.run(shouldStop: { progress in
                self.shared.withLock {
                    $0.progress = progress
                    return $0.stopping
                }
            })
            shared.withLock { $0.report = report }
            finished.signal()
        }
        thread.start()
    }

    /// How far the writer is (updated every few milliseconds).
    public struct Progress: Sendable {
        public var messages = 0
        public var rotations = 0
    }

    public var progress: Progress { shared.withLock { $0.progress } }

    /// Stops writing (finishing split messages and waiting for the gzips) and says what was written.
    public func stop() async -> Report {
        shared.withLock { $0.stopping = true }
        let finished = self.finished
        await offload { finished.wait() }
        return shared.withLock { $0.report! }
    }

    /// Whether message `seq` of a long-lived pod is written in pieces.
    public func isSplit(seq: Int) -> Bool { seq % settings.splitEvery == settings.splitEvery - 1 }

    /// The message a pod wrote as `seq`, whole (the pieces of a split message joined); short-lived pods (numbered
    /// from `settings.pods` on) split none.
    public func message(pod: Int, seq: Int) -> String {
        guard pod < settings.pods, isSplit(seq: seq) else {
            return Self.text(pod: pod, seq: seq, part: nil, bytes: settings.messageBytes)
        }
        return (0..<settings.splitPieces).map { piece(pod: pod, seq: seq, part: $0) }.joined()
    }

    /// Piece `part` of a split message.
    public func piece(pod: Int, seq: Int, part: Int) -> String {
        Self.text(pod: pod, seq: seq, part: part, bytes: settings.messageBytes)
    }

    /// `pod=<pod> seq=<seq>[ part=<part>] ` padded with letters to `bytes`, so it needs no escaping.
    static func text(pod: Int, seq: Int, part: Int?, bytes: Int) -> String {
        var text = "pod=\(pod) seq=\(seq)"
        if let part { text += " part=\(part)" }
        text += " "
        return text + filler.prefix(max(0, bytes - text.utf8.count))
    }

    private static let filler = String(repeating: "abcdefghijklmnopqrstuvwxyz", count: 40)

    deinit {
        shared.withLock { $0.stopping = true }
    }
}

/// The writer thread's state: every pod's open file and where it stands.
private struct NodeWriter {
    enum Format {
        case cri
        case docker
    }

    struct Pod {
        let index: Int
        let directory: String
        let containerDirectory: String
        let format: Format
        let shortLived: Bool
        var descriptor: Int32 = -1
        var fileBytes = 0
        var nextSeq = 0
        /// The split message being written and its next piece.
        var pendingSeq: Int?
        var nextPart = 0
        /// The first message with a piece in the live file.
        var fileFirstSeq = 0
        var lastCheck: ContinuousClock.Instant
        var rotationDueSince: ContinuousClock.Instant?
        /// Seq ranges of the rotated files still on disk uncompressed, by path.
        var rotated: [String: ClosedRange<Int>] = [:]
        var endedAt: ContinuousClock.Instant?
        let startedAt: ContinuousClock.Instant
    }

    let podsRoot: String
    let settings: KubeletSimulator.Settings
    var pods: [Pod] = []
    var report = KubeletSimulator.Report()
    var gzips: [(process: Process, path: String)] = []
    var nextPodIndex: Int
    var batch: [UInt8] = []
    var clockCounter: UInt64 = 0
    var cachedSecond: time_t = 0
    var cachedPrefix = ""

    init(podsRoot: String, settings: KubeletSimulator.Settings) {
        self.podsRoot = podsRoot
        self.settings = settings
        nextPodIndex = settings.pods
    }

    mutating func run(shouldStop: (KubeletSimulator.Progress) -> Bool) -> KubeletSimulator.Report {
        let start = ContinuousClock.now
        for index in 0..<settings.pods {
            let docker = index % max(1, settings.dockerEvery) == 0
            startPod(index, namespace: "ns-\(index % 3)", name: "app-\(index)", container: "app", docker: docker)
            if docker { report.dockerPods.insert(index) }
        }
        var nextShortLived = start
        var written = 0
        var writingEnded: ContinuousClock.Instant?
        while !shouldStop(.init(messages: written, rotations: report.rotations)) {
            let now = ContinuousClock.now
            let owed =
                min(settings.maxMessages, Int(Double(settings.messagesPerSecond) * seconds(now - start))) - written
            if owed > 0 {
                let longLived = pods.indices.filter { !pods[$0].shortLived }
                for (position, index) in longLived.enumerated() {
                    let share = owed / longLived.count + (position < owed % longLived.count ? 1 : 0)
                    emit(index, messages: share, now: now)
                }
                written += owed
                if written >= settings.maxMessages { writingEnded = writingEnded ?? now }
            }
            if let interval = settings.shortLivedPodInterval, now >= nextShortLived {
                let index = nextPodIndex
                nextPodIndex += 1
                startPod(index, namespace: "jobs", name: "job-\(index)", container: "main", docker: false)
                report.shortLivedPods.insert(index)
                nextShortLived = now + interval
            }
            for index in pods.indices.reversed() where pods[index].shortLived {
                tendShortLived(index, now: now)
            }
            for index in pods.indices
            where !pods[index].shortLived && now - pods[index].lastCheck >= settings.rotationCheckInterval {
                pods[index].lastCheck = now
                if pods[index].fileBytes >= settings.rotateBytes { pods[index].rotationDueSince = now }
            }
            reapGzips(wait: false)
            usleep(5_000)
        }
        // Finish split messages, so every message written is whole.
        for index in pods.indices where pods[index].pendingSeq != nil {
            emit(index, messages: 0, now: .now)
        }
        report.elapsed = (writingEnded ?? .now) - start
        for pod in pods {
            if pod.descriptor >= 0 { close(pod.descriptor) }
            report.messages[pod.index] = pod.nextSeq
        }
        reapGzips(wait: true)
        return report
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private mutating func startPod(_ index: Int, namespace: String, name: String, container: String, docker: Bool) {
        let uid = UUID().uuidString.lowercased()
        let directory = "\(podsRoot)/\(namespace)_\(name)_\(uid)"
        let containerDirectory = "\(directory)/\(container)"
        try! FileManager.default.createDirectory(atPath: containerDirectory, withIntermediateDirectories: true)
        var pod = Pod(
            index: index, directory: directory, containerDirectory: containerDirectory, format: docker ? .docker : .cri,
            shortLived: index >= settings.pods,
            // The first checks are spread over the first second, as the kubelet's pass over many containers is.
            lastCheck: .now - settings.rotationCheckInterval + .milliseconds(200 + 100 * (index % 8)), startedAt: .now)
        pod.descriptor = openLive(containerDirectory)
        pods.append(pod)
    }

    private func openLive(_ containerDirectory: String) -> Int32 {
        let descriptor = open("\(containerDirectory)/0.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        precondition(descriptor >= 0, "cannot create \(containerDirectory)/0.log: errno \(errno)")
        return descriptor
    }

    /// A short-lived pod writes its messages spread over its lifetime, ends, and is removed a while later.
    private mutating func tendShortLived(_ index: Int, now: ContinuousClock.Instant) {
        let pod = pods[index]
        if let endedAt = pod.endedAt {
            guard now - endedAt >= settings.removeAfter else { return }
            try? FileManager.default.removeItem(atPath: pod.directory)
            if pod.nextSeq > 0 {
                report.gone.append(.init(pod: pod.index, seqs: 0...(pod.nextSeq - 1), reason: .podRemoved, at: now))
            }
            report.messages[pod.index] = pod.nextSeq
            pods.remove(at: index)
            return
        }
        let lifetime = seconds(settings.shortLivedLifetime)
        let due =
            lifetime <= 0
            ? settings.shortLivedMessages
            : min(
                settings.shortLivedMessages,
                1 + Int(Double(settings.shortLivedMessages - 1) * seconds(now - pod.startedAt) / lifetime))
        if due > pod.nextSeq { emit(index, messages: due - pod.nextSeq, now: now) }
        if pods[index].nextSeq >= settings.shortLivedMessages {
            close(pods[index].descriptor)
            pods[index].descriptor = -1
            pods[index].endedAt = now
        }
    }

    /// Writes `messages` new messages (and what is left of a split one) to the pod's live file in one write; a
    /// rotation that is due happens right after a partial piece when one comes (pods with an even index), else
    /// after the batch.
    private mutating func emit(_ index: Int, messages: Int, now: ContinuousClock.Instant) {
        var remaining = messages
        batch.removeAll(keepingCapacity: true)
        while remaining > 0 || pods[index].pendingSeq != nil {
            let pod = pods[index]
            let seq: Int
            var part: Int?
            var last = true
            if let pending = pod.pendingSeq {
                seq = pending
                part = pod.nextPart
                last = pod.nextPart == settings.splitPieces - 1
                pods[index].nextPart += 1
                if last { pods[index].pendingSeq = nil }
            } else {
                seq = pod.nextSeq
                pods[index].nextSeq += 1
                remaining -= 1
                if !pod.shortLived && seq % settings.splitEvery == settings.splitEvery - 1 {
                    part = 0
                    last = false
                    pods[index].pendingSeq = seq
                    pods[index].nextPart = 1
                }
            }
            let stderr = part == nil && seq % 7 == 3
            appendLine(pod: pod.index, seq: seq, part: part, last: last, stderr: stderr, format: pod.format)
            // Pods with an even index rotate between two pieces of a message when one comes soon; the others
            // between two messages.
            if !last, pods[index].rotationDueSince != nil, pod.index % 2 == 0 {
                flush(index)
                if rotate(index, now: now) { report.rotationsInsideAMessage += 1 }
            }
        }
        flush(index)
        if let due = pods[index].rotationDueSince, pods[index].pendingSeq == nil,
            pods[index].index % 2 == 1 || now - due >= .milliseconds(50)
        {
            _ = rotate(index, now: now)
        }
    }

    private mutating func flush(_ index: Int) {
        guard !batch.isEmpty else { return }
        let descriptor = pods[index].descriptor
        batch.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 && errno == EINTR { continue }
                precondition(count > 0, "write failed: errno \(errno)")
                offset += count
            }
        }
        pods[index].fileBytes += batch.count
        report.bytes += batch.count
        batch.removeAll(keepingCapacity: true)
    }

    private mutating func appendLine(pod: Int, seq: Int, part: Int?, last: Bool, stderr: Bool, format: Format) {
        let text = KubeletSimulator.text(pod: pod, seq: seq, part: part, bytes: settings.messageBytes)
        let stream = stderr ? "stderr" : "stdout"
        let time = timestamp()
        switch format {
        case .cri:
            batch.append(contentsOf: "\(time) \(stream) \(last ? "F" : "P") \(text)\n".utf8)
        case .docker:
            batch.append(
                contentsOf: "{\"log\":\"\(text)\(last ? "\\n" : "")\",\"stream\":\"\(stream)\",\"time\":\"\(time)\"}\n"
                    .utf8)
        }
        report.rawLines += 1
    }

    /// An RFC 3339 time with nanoseconds and `Z`, as containerd writes it; the nanoseconds count the lines written, so
    /// no two lines share a time (and no two files a first line).
    private mutating func timestamp() -> String {
        clockCounter += 1
        let now = time(nil)
        if now != cachedSecond {
            var stamp = now
            var parts = tm()
            gmtime_r(&stamp, &parts)
            cachedSecond = now
            cachedPrefix = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d.", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                parts.tm_hour, parts.tm_min, parts.tm_sec)
        }
        let nanos = String(clockCounter % 1_000_000_000)
        return cachedPrefix + String(repeating: "0", count: 9 - nanos.count) + nanos + "Z"
    }

    /// The kubelet's `rotateLog`: remove the oldest rotated files past `maxFiles - 2`, gzip the rotated files but the
    /// newest, rename the live file and open a new one. Returns false (and stays due) when the rotated name is taken.
    private mutating func rotate(_ index: Int, now: ContinuousClock.Instant) -> Bool {
        let directory = pods[index].containerDirectory
        var stamp = time(nil)
        var parts = tm()
        gmtime_r(&stamp, &parts)
        let name = String(
            format: "0.log.%04d%02d%02d-%02d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
        let rotatedPath = "\(directory)/\(name)"
        guard access(rotatedPath, F_OK) != 0, access(rotatedPath + ".gz", F_OK) != 0 else { return false }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var rotated = entries.filter { $0.hasPrefix("0.log.") && !$0.hasSuffix(".tmp") }.sorted()
        while rotated.count > max(0, settings.maxFiles - 2) {
            let oldest = rotated.removeFirst()
            let path = "\(directory)/\(oldest)"
            if let seqs = pods[index].rotated.removeValue(forKey: path) {
                report.gone.append(.init(pod: pods[index].index, seqs: seqs, reason: .deleted, at: now))
            }
            unlink(path)
        }
        let gzipping = Set(gzips.map(\.path))
        for file in rotated.dropLast() where !file.hasSuffix(".gz") {
            let path = "\(directory)/\(file)"
            guard !gzipping.contains(path) else { continue }
            let gzip = Process()
            gzip.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
            gzip.arguments = ["-1", "-n", path]
            guard (try? gzip.run()) != nil else { continue }
            gzips.append((gzip, path))
            if let seqs = pods[index].rotated.removeValue(forKey: path) {
                report.gone.append(.init(pod: pods[index].index, seqs: seqs, reason: .gzipped, at: now))
            }
        }
        let pod = pods[index]
        let lastSeq = pod.pendingSeq ?? (pod.nextSeq - 1)
        precondition(rename("\(directory)/0.log", rotatedPath) == 0, "rename failed: errno \(errno)")
        close(pod.descriptor)
        pods[index].descriptor = openLive(directory)
        if lastSeq >= pod.fileFirstSeq { pods[index].rotated[rotatedPath] = pod.fileFirstSeq...lastSeq }
        pods[index].fileFirstSeq = pod.pendingSeq ?? pod.nextSeq
        pods[index].fileBytes = 0
        pods[index].rotationDueSince = nil
        report.rotations += 1
        return true
    }

    private mutating func reapGzips(wait: Bool) {
        if wait { for gzip in gzips { gzip.process.waitUntilExit() } }
        gzips.removeAll { !$0.process.isRunning }
    }
}
