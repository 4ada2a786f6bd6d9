import Foundation
import Logging
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import Synchronization

/// VictoriaLogs' JSON stream API (`POST /insert/jsonline`) as its data-ingestion documentation describes it, for tests:
/// no VictoriaLogs server is packaged here.
///
/// What it checks is what VictoriaLogs does: the body may be gzipped (`Content-Encoding: gzip`); `_msg_field`,
/// `_time_field` and `_stream_fields` come as query args or `VL-Msg-Field`, `VL-Time-Field`, `VL-Stream-Fields` headers;
/// the tenant in `AccountID` / `ProjectID` headers must be 32-bit unsigned numbers (400 otherwise). Each line must be
/// a JSON object with a `_time` in RFC 3339 or a Unix timestamp (seconds to nanoseconds); a line that is not is
/// skipped and counted, as VictoriaLogs does, and the rest are stored. Nested objects are flattened with dots and
/// every value becomes a string. The stream is the stream fields' values.
public final class VictoriaLogsReceiver: Sendable {
    /// A stored log entry.
    public struct Entry: Sendable, Equatable {
        /// `AccountID:ProjectID`.
        public var tenant: String
        /// The stream fields and their values.
        public var stream: [String: String]
        public var message: String
        /// Nanoseconds since the epoch.
        public var time: Int64
        /// Every field but the message and the time, flattened.
        public var fields: [String: String]
    }

    private struct State {
        var script: [Int]
        var outage: Int?
        var entries: [Entry] = []
        var requests = 0
        var invalidLines: [String] = []
        var refusals: [String] = []
    }

    public let port = freePort()
    /// The state, shared with the server's handler.
    private final class Shared: Sendable {
        let state: Mutex<State>

        init(_ state: State) { self.state = Mutex(state) }
    }

    private let shared: Shared
    private let shutdown = ShutdownSignal()
    private let task: Task<Void, any Error>

    /// `script`: statuses answered (storing nothing) to the first requests, such as `[429]`; then 200.
    public init(script: [Int] = []) async throws {
        let shared = Shared(State(script: script))
        self.shared = shared
        let server = HTTPIngestServer(
            host: "127.0.0.1", port: port, maxBodySize: 64 << 20, logger: Logger(label: "victorialogs-receiver")
        ) { request in
            Self.handle(request, shared)
        }
        let ready = Atomic<Bool>(false)
        let shutdown = self.shutdown
        task = Task { try await server.run(shutdown: shutdown) { _ in ready.store(true, ordering: .relaxed) } }
        for _ in 0..<1500 where !ready.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(20)) }
        guard ready.load(ordering: .relaxed) else { throw TestSupportError("the VictoriaLogs receiver did not start") }
    }

    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }
    public var entries: [Entry] { shared.state.withLock { $0.entries } }
    public var requests: Int { shared.state.withLock { $0.requests } }
    /// Lines skipped as VictoriaLogs skips them, with why.
    public var invalidLines: [String] { shared.state.withLock { $0.invalidLines } }
    /// Requests refused (4xx), with why.
    public var refusals: [String] { shared.state.withLock { $0.refusals } }

    /// While set, every request is answered with this status and nothing is stored, as during an outage.
    public func setOutage(_ status: Int?) {
        shared.state.withLock { $0.outage = status }
    }

    public func stop() async throws {
        shutdown.trigger()
        try await task.value
    }

    private static func handle(_ request: HTTPIngestRequest, _ shared: Shared) -> HTTPIngestResponse {
        let scripted = shared.state.withLock { state -> Int? in
            state.requests += 1
            if let outage = state.outage { return outage }
            return state.script.isEmpty ? nil : state.script.removeFirst()
        }
        func refuse(_ status: HTTPResponseStatus, _ reason: String) -> HTTPIngestResponse {
            shared.state.withLock { $0.refusals.append(reason) }
            return .error(status, reason)
        }
        guard request.path == "/insert/jsonline" else { return refuse(.notFound, "unsupported path \(request.path)") }
        guard request.method == .POST else { return refuse(.methodNotAllowed, "expected POST") }
        if let scripted { return .error(HTTPResponseStatus(statusCode: scripted), "scripted answer") }
        let query = Self.query(request.query)
        var tenant: [UInt32] = []
        for header in ["AccountID", "ProjectID"] {
            let text = request.headers.first(name: header) ?? "0"
            guard let value = UInt32(text) else { return refuse(.badRequest, "cannot parse \(header)=\(text)") }
            tenant.append(value)
        }
        let raw = Array(request.body.readableBytesView)
        let body: [UInt8]
        switch request.headers.first(name: "Content-Encoding")?.lowercased() {
        case nil, "identity":
            body = raw
        case "gzip":
            guard let inflated = try? Zlib.decompress(raw, format: .gzip, maxDecompressedLength: 256 << 20) else {
                return refuse(.badRequest, "cannot decompress gzip body")
            }
            body = inflated
        case let other?:
            return refuse(.badRequest, "unsupported Content-Encoding \(other)")
        }
        let msgField = query["_msg_field"] ?? request.headers.first(name: "VL-Msg-Field") ?? "_msg"
        let timeField = query["_time_field"] ?? request.headers.first(name: "VL-Time-Field") ?? "_time"
        let streamFields = (query["_stream_fields"] ?? request.headers.first(name: "VL-Stream-Fields") ?? "")
            .split(separator: ",").map(String.init)
        var entries: [Entry] = []
        var invalid: [String] = []
        for line in body.split(separator: UInt8(ascii: "\n")) where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
            guard case .object(let object)? = JSONValue.parse(line) else {
                invalid.append("not a JSON object: \(String(decoding: line.prefix(200), as: UTF8.self))")
                continue
            }
            var fields: [String: String] = [:]
            Self.flatten(object, prefix: "", into: &fields)
            guard let time = Self.time(fields.removeValue(forKey: timeField)) else {
                invalid.append("cannot parse \(timeField) in \(String(decoding: line.prefix(200), as: UTF8.self))")
                continue
            }
            let message = fields.removeValue(forKey: msgField) ?? "missing _msg field"
            var stream: [String: String] = [:]
            for field in streamFields { if let value = fields[field], !value.isEmpty { stream[field] = value } }
            entries.append(
                Entry(
                    tenant: "\(tenant[0]):\(tenant[1])", stream: stream, message: message, time: time,
                    fields: fields))
        }
        shared.state.withLock {
            $0.entries.append(contentsOf: entries)
            $0.invalidLines.append(contentsOf: invalid)
        }
        return HTTPIngestResponse(status: .ok)
    }

    /// Nested objects flattened with dots; arrays, numbers and booleans as text; empty values dropped (VictoriaLogs
    /// treats an empty value as a missing one).
    private static func flatten(_ object: [String: JSONValue], prefix: String, into fields: inout [String: String]) {
        for (key, value) in object {
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if case .object(let nested) = value {
                flatten(nested, prefix: name, into: &fields)
            } else if !value.text.isEmpty {
                fields[name] = value.text
            }
        }
    }

    /// A missing time is the time of ingestion; text is RFC 3339 (or `"0"`, ingestion time), a number a Unix
    /// timestamp in seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude.
    private static func time(_ text: String?) -> Int64? {
        guard let text, text != "0" else { return WallClock.nowNanoseconds() }
        if let number = Int64(text) {
            switch number {
            case ..<100_000_000_000: return number * 1_000_000_000
            case ..<100_000_000_000_000: return number * 1_000_000
            case ..<100_000_000_000_000_000: return number * 1_000
            default: return number
            }
        }
        return RFC3339Parser.nanoseconds(text)
    }

    static func query(_ text: String) -> [String: String] {
        var pairs: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            pairs[key] = value
        }
        return pairs
    }
}

/// RFC 3339 timestamps (`2026-12-07T01:02:03.123456789Z`, or with an offset) to nanoseconds since the epoch.
enum RFC3339Parser {
    static func nanoseconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count, range.allSatisfy({ (48...57).contains(bytes[$0]) }) else {
                return nil
            }
            return range.reduce(Int64(0)) { $0 * 10 + Int64(bytes[$1] - 48) }
        }
        guard bytes.count >= 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 32,
            bytes[13] == 58, bytes[16] == 58,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month),
            (1...31).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction: Int64 = 0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var digits = 0
            while index < bytes.count, (48...57).contains(bytes[index]) {
                if digits < 9 { fraction = fraction * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { fraction *= 10 }
        }
        var offset: Int64 = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == 90 {  // Z
            index += 1
        } else if bytes[index] == 43 || bytes[index] == 45, let hours = number(index + 1..<index + 3),
            bytes.count > index + 3, bytes[index + 3] == 58, let minutes = number(index + 4..<index + 6)
        {
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == 43 ? 1 : -1)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        // Days from the civil date (Howard Hinnant's days_from_civil).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let days = era * 146_097 + yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear - 719_468
        return ((days * 86_400 + hour * 3600 + minute * 60 + second) - offset) * 1_000_000_000 + fraction
    }
}
