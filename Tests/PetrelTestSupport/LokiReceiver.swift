import Foundation
import PetrelCodecs
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Loki's push endpoint (`POST /loki/api/v1/push`) on a loopback port, written from Loki's published API and its
/// validation rules, for testing a client without a Loki server (none is packaged here).
///
/// Strict where Loki is: a body it cannot decode (protobuf that is not snappy, JSON timestamps that are not strings)
/// is a 400; per stream, label text its parser refuses, no labels, duplicate names, too many labels or names/values
/// too long refuse the whole stream; per entry, timestamps older than `rejectOldSamplesMaxAge` or further ahead than
/// `creationGracePeriod`, lines over `maxLineSize` and (the ingester's unordered writes) entries more than
/// `outOfOrderWindow` behind the stream's newest are refused. As Loki does, it stores every valid entry of the push and
/// answers 400 naming the refused ones (in Loki's own wording, which clients parse), 204 when none was refused; a
/// stream without entries is skipped, and an entry equal to a stored one (time and line) is dropped silently. What
/// Loki hides, the receiver counts for the test: empty streams, silently dropped duplicates, streams whose entries
/// were not in time order. Scripted answers (429, 5xx) stand in for rate limits and failures; they store nothing.
public final class LokiReceiver: Sendable {
    /// Loki's limits (its defaults unless a test lowers one).
    public struct Limits: Sendable {
        public var rejectOldSamplesMaxAge: Duration = .seconds(168 * 3600)
        public var creationGracePeriod: Duration = .seconds(600)
        public var maxLineSize = 256 * 1024
        public var maxLabelNamesPerSeries = 15
        public var maxLabelNameLength = 1024
        public var maxLabelValueLength = 2048
        /// Half the ingester's `max_chunk_age` (2 h).
        public var outOfOrderWindow: Duration = .seconds(3600)
        /// The `X-Scope-OrgID` every push must carry (Loki with `auth_enabled`); nil accepts any or none.
        public var tenant: String?

        public init() {}
    }

    /// A scripted answer, given instead of processing the push.
    public struct ScriptedAnswer: Sendable {
        public var status: Int
        public var body: String
        public var retryAfter: String?

        public init(status: Int, body: String = "", retryAfter: String? = nil) {
            self.status = status
            self.body = body
            self.retryAfter = retryAfter
        }
    }

    /// An entry Loki stored.
    public struct StoredEntry: Sendable, Hashable {
        public var labels: [String: String]
        public var timestamp: Int64
        public var line: String
        public var structuredMetadata: [String: String]
    }

    /// One request and what was answered.
    public struct Push: Sendable {
        public var contentType: String?
        public var contentEncoding: String?
        public var tenant: String?
        public var status: Int
        public var answer: String
        /// Entries in the request (0 when it did not decode).
        public var entries: Int
    }

    private struct StreamState {
        var newest: Int64 = .min
        var stored: Set<String> = []
    }

    private struct State {
        var listener: Int32 = -1
        var connections: Set<Int32> = []
        var stopped = false
        var script: [ScriptedAnswer] = []
        var stored: [StoredEntry] = []
        var streams: [String: StreamState] = [:]
        var pushes: [Push] = []
        var refused: [(line: String, reason: String)] = []
        var emptyStreams = 0
        var duplicatesDropped = 0
        var unsortedStreams = 0
    }

    public let port: Int
    public let limits: Limits
    private let state = Mutex(State())
    private let threads = DispatchGroup()

    /// Listens on a free port of 127.0.0.1 at once.
    public init(limits: Limits = Limits()) throws {
        self.limits = limits
        port = freePort()
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestSupportError("socket() failed: errno \(errno)") }
        var reuse: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw TestSupportError("cannot listen on 127.0.0.1:\(port): errno \(errno)")
        }
        state.withLock { $0.listener = listener }
        spawn { self.acceptLoop(listener) }
    }

    /// `http://127.0.0.1:<port>`, the base URL a client is configured with.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The next pushes get these answers, in order, and are not processed.
    public func script(_ answers: [ScriptedAnswer]) {
        state.withLock { $0.script.append(contentsOf: answers) }
    }

    public var stored: [StoredEntry] { state.withLock { $0.stored } }
    public var pushes: [Push] { state.withLock { $0.pushes } }
    /// Entries refused with 400: their line and Loki's message.
    public var refused: [(line: String, reason: String)] { state.withLock { $0.refused } }
    public var emptyStreams: Int { state.withLock { $0.emptyStreams } }
    public var duplicatesDropped: Int { state.withLock { $0.duplicatesDropped } }
    public var unsortedStreams: Int { state.withLock { $0.unsortedStreams } }

    /// Waits until `condition` holds, checking every 50 ms, for at most `timeout`; returns whether it held.
    public func wait(for timeout: Duration = .seconds(60), until condition: @Sendable (LokiReceiver) -> Bool) async
        -> Bool
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition(self)
    }

    /// Stops listening and closes every connection; returns once every thread has ended.
    public func stop() async {
        let sockets = state.withLock { state -> [Int32] in
            guard !state.stopped else { return [] }
            state.stopped = true
            return [state.listener] + Array(state.connections)
        }
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
        await offload { self.threads.wait() }
    }

    // MARK: Loki's handling of a push

    /// Handles one request as Loki's push handler does: status, body and headers of the answer. Public so a test can
    /// feed it a payload a published client sent, without a connection.
    public func handle(method: String, path: String, headers: [String: String], body: [UInt8]) -> (
        status: Int, body: String, headers: [String: String]
    ) {
        let contentType = headers["content-type"]
        let encoding = headers["content-encoding"]
        let tenant = headers["x-scope-orgid"]
        func record(_ status: Int, _ answer: String, entries: Int = 0) -> (Int, String, [String: String]) {
            state.withLock {
                $0.pushes.append(
                    Push(
                        contentType: contentType, contentEncoding: encoding, tenant: tenant, status: status,
                        answer: answer, entries: entries))
            }
            return (status, answer, [:])
        }
        guard method == "POST", path == "/loki/api/v1/push" else { return record(404, "404 page not found\n") }
        if let scripted = state.withLock({ $0.script.isEmpty ? nil : $0.script.removeFirst() }) {
            _ = record(scripted.status, scripted.body)
            return (scripted.status, scripted.body, scripted.retryAfter.map { ["Retry-After": $0] } ?? [:])
        }
        if let required = limits.tenant, tenant != required { return record(401, "no org id\n") }
        var payload = body
        switch encoding {
        case nil, "", "snappy": break
        case "gzip":
            guard let inflated = try? Zlib.decompress(body, format: .gzip, maxDecompressedLength: 64 << 20) else {
                return record(400, "gzip: invalid data\n")
            }
            payload = inflated
        default: return record(415, "Content-Encoding \"\(encoding!)\" not supported\n")
        }
        let streams: [LokiPushedStream]
        do {
            let mediaType = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
            // No Content-Type, or any other than JSON, is read as snappy protobuf, as Loki does.
            streams =
                mediaType == "application/json"
                ? try LokiPushFormat.decodeJSON(payload) : try LokiPushFormat.decodeProtobuf(snappy: payload)
        } catch {
            return record(400, "\(error)\n")
        }
        let errors = store(streams, now: Int64(Date().timeIntervalSince1970 * 1e9))
        let entries = streams.reduce(0) { $0 + $1.entries.count }
        if errors.isEmpty { return record(204, "", entries: entries) }
        return record(400, errors.joined(separator: "\n") + "\n", entries: entries)
    }

    /// Validates and stores the streams' entries; returns Loki's error lines for what it refused.
    private func store(_ streams: [LokiPushedStream], now: Int64) -> [String] {
        var errors: [String] = []
        let oldest = now - Self.nanoseconds(limits.rejectOldSamplesMaxAge)
        let newest = now + Self.nanoseconds(limits.creationGracePeriod)
        for stream in streams {
            if stream.entries.isEmpty {
                state.withLock { $0.emptyStreams += 1 }
                continue
            }
            if zip(stream.entries, stream.entries.dropFirst()).contains(where: { $0.timestamp > $1.timestamp }) {
                state.withLock { $0.unsortedStreams += 1 }
            }
            func refuseStream(_ message: String) {
                errors.append(message)
                state.withLock { state in
                    for entry in stream.entries { state.refused.append((entry.line, message)) }
                }
            }
            let pairs: [(name: String, value: String)]
            switch LokiLabelSet.parse(stream.labels) {
            case .success(let parsed): pairs = parsed
            case .failure(let problem):
                refuseStream("Error parsing labels '\(stream.labels)' with error: \(problem)")
                continue
            }
            if pairs.isEmpty {
                refuseStream("error at least one label pair is required per stream")
                continue
            }
            let sorted = pairs.sorted { $0.name < $1.name }
            let key = LokiLabelSet.text(sorted.map { ($0.name, $0.value) })
            if let duplicate = zip(sorted, sorted.dropFirst()).first(where: { $0.name == $1.name }) {
                refuseStream("stream '\(key)' has duplicate label name: '\(duplicate.0.name)'")
                continue
            }
            if pairs.count > limits.maxLabelNamesPerSeries {
                refuseStream(
                    "entry for series '\(key)' has \(pairs.count) label names; limit \(limits.maxLabelNamesPerSeries)")
                continue
            }
            if let long = pairs.first(where: { $0.name.utf8.count > limits.maxLabelNameLength }) {
                refuseStream("stream '\(key)' has label name too long: '\(long.name)'")
                continue
            }
            if let long = pairs.first(where: { $0.value.utf8.count > limits.maxLabelValueLength }) {
                refuseStream("stream '\(key)' has label value too long: '\(long.value)'")
                continue
            }
            let labels = Dictionary(pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            var ingesterErrors: [String] = []
            for entry in stream.entries {
                var refusal: String?
                if entry.timestamp < oldest {
                    refusal =
                        "entry for stream '\(key)' has timestamp too old: \(Self.time(entry.timestamp)), "
                        + "oldest acceptable timestamp is: \(Self.time(oldest))"
                } else if entry.timestamp > newest {
                    refusal = "entry for stream '\(key)' has timestamp too new: \(Self.time(entry.timestamp))"
                } else if entry.line.utf8.count > limits.maxLineSize {
                    refusal =
                        "Max entry size '\(limits.maxLineSize)' bytes exceeded for stream '\(key)' while adding an "
                        + "entry with length '\(entry.line.utf8.count)' bytes"
                }
                if let refusal {
                    errors.append(refusal)
                    state.withLock { $0.refused.append((entry.line, refusal)) }
                    continue
                }
                let window = Self.nanoseconds(limits.outOfOrderWindow)
                let ingesterRefusal = state.withLock { state -> String? in
                    // The stream's state is changed in place: a copy of its set of entries per entry would make a
                    // push quadratic, and the lock is held meanwhile.
                    let newest = state.streams[key]?.newest ?? .min
                    if newest != .min, entry.timestamp < newest - window {
                        let reason =
                            "entry too far behind, entry timestamp is: \(Self.time(entry.timestamp)), oldest "
                            + "acceptable timestamp is: \(Self.time(newest - window))"
                        state.refused.append((entry.line, reason))
                        return "entry with timestamp \(Self.time(entry.timestamp)) ignored, reason: '\(reason)',"
                    }
                    guard
                        state.streams[key, default: StreamState()].stored.insert("\(entry.timestamp) \(entry.line)")
                            .inserted
                    else {
                        state.duplicatesDropped += 1
                        return nil
                    }
                    state.streams[key, default: StreamState()].newest = max(newest, entry.timestamp)
                    state.stored.append(
                        StoredEntry(
                            labels: labels, timestamp: entry.timestamp, line: entry.line,
                            structuredMetadata: entry.metadata))
                    return nil
                }
                if let ingesterRefusal { ingesterErrors.append(ingesterRefusal) }
            }
            if !ingesterErrors.isEmpty {
                errors.append(
                    contentsOf: ingesterErrors + [
                        "user 'fake', total ignored: \(ingesterErrors.count) out of \(stream.entries.count) for stream: \(key)"
                    ])
            }
        }
        return errors
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    private static func time(_ nanoseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(nanoseconds) / 1e9))
    }

    // MARK: HTTP/1.1 over blocking sockets, one thread per connection

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        threads.enter()
        let thread = Thread { [threads] in
            body()
            threads.leave()
        }
        thread.start()
    }

    private func acceptLoop(_ listener: Int32) {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections.insert(connection)
                return true
            }
            guard admitted else {
                close(connection)
                return
            }
            spawn { self.serve(connection) }
        }
    }

    private func serve(_ connection: Int32) {
        defer {
            _ = state.withLock { $0.connections.remove(connection) }
            close(connection)
        }
        var buffer: [UInt8] = []
        while let request = readRequest(connection, buffer: &buffer) {
            let (status, body, extra) = handle(
                method: request.method, path: request.path, headers: request.headers, body: request.body)
            var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Length: \(body.utf8.count)\r\n"
            if !body.isEmpty { head += "Content-Type: text/plain; charset=utf-8\r\n" }
            for (name, value) in extra { head += "\(name): \(value)\r\n" }
            guard writeAll(connection, Array((head + "\r\n" + body).utf8)) else { return }
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }

    private struct Request {
        var method: String
        var path: String
        var headers: [String: String]
        var body: [UInt8]
    }

    /// Reads one request (head and `Content-Length` body); nil once the connection ends.
    private func readRequest(_ connection: Int32, buffer: inout [UInt8]) -> Request? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        var head: (end: Int, method: String, path: String, headers: [String: String])?
        while true {
            if head == nil, let end = Self.endOfHead(buffer) {
                let lines = String(decoding: buffer[..<end], as: UTF8.self).split(separator: "\r\n")
                let requestLine = lines.first?.split(separator: " ") ?? []
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                        .trimmingCharacters(in: .whitespaces)
                }
                let target = requestLine.count > 1 ? String(requestLine[1]) : ""
                head = (
                    end, requestLine.first.map(String.init) ?? "", String(target.prefix { $0 != "?" }), headers
                )
            }
            if let head {
                let length = Int(head.headers["content-length"] ?? "0") ?? 0
                if buffer.count >= head.end + length {
                    let body = Array(buffer[head.end..<head.end + length])
                    buffer.removeFirst(head.end + length)
                    return Request(method: head.method, path: head.path, headers: head.headers, body: body)
                }
            }
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    private static func endOfHead(_ buffer: [UInt8]) -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    private func writeAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }
}
