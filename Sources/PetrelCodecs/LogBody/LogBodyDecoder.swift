import PetrelCore

/// Turns a request body of log lines or JSON into log records: the codec of the `http_server` source.
///
/// - `ndjson`: one JSON value per line; blank lines are skipped.
/// - `json`: one JSON value for the whole body, or an array of them (Falco posts one object, most shippers an array).
/// - `text`: one record per line, the line (without `\n` or `\r\n`) its message; blank lines are skipped.
///
/// A JSON object becomes one record: its `message` key (a string) the message, its `timestamp` key the time (RFC 3339
/// text, or a number of seconds, milliseconds, microseconds or nanoseconds since the epoch, told apart by size), its
/// `severity` key (a string) the severity, every other key a field; the key names are settings. A JSON string is a
/// record with that message. An object in the shape Petrel's sinks write (`"kind": "log"` and only the keys of
/// `EventJSONEncoder`'s log lines) is read back as the record it was written from. Records without a time get
/// `receivedAt`.
///
/// A body is all or nothing: the first value that is not JSON, or not an object or a string, fails the whole body
/// with its line number.
public struct LogBodyDecoder: Sendable {
    /// How the body is framed and what each frame is.
    public enum Codec: String, Sendable, CaseIterable {
        case ndjson
        case json
        case text
    }

    /// Which keys of a JSON object are the record's message, time and severity.
    public struct Keys: Sendable, Equatable {
        public var message = "message"
        public var timestamp = "timestamp"
        public var severity = "severity"

        public init() {}
    }

    public var codec: Codec
    public var keys: Keys

    public init(codec: Codec, keys: Keys = Keys()) {
        self.codec = codec
        self.keys = keys
    }

    /// The records of `body`, in order.
    public func decode(_ body: UnsafeRawBufferPointer, receivedAt: Int64) throws(LogBodyDecodingError) -> [LogRecord] {
        var records: [LogRecord] = []
        switch codec {
        case .text:
            forEachLine(body) { line, _ in
                let message = String(decoding: line, as: UTF8.self)
                if !message.isEmpty { records.append(LogRecord(timestamp: receivedAt, message: message)) }
            }
        case .ndjson:
            var failure: LogBodyDecodingError?
            forEachLine(body) { line, number in
                guard failure == nil, line.contains(where: { !Self.isWhitespace($0) }) else { return }
                var parser = JSONValueParser(line)
                do throws(JSONValueParser.Failure) {
                    let value = try parser.parseValue()
                    guard parser.atEnd else {
                        throw JSONValueParser.Failure(offset: parser.index, reason: "unexpected data after the value")
                    }
                    records.append(try record(from: value, receivedAt: receivedAt, offset: 0))
                } catch {
                    failure = LogBodyDecodingError(line: number, reason: error.reason)
                }
            }
            if let failure { throw failure }
        case .json:
            do throws(JSONValueParser.Failure) {
                try decodeJSON(body, receivedAt: receivedAt, into: &records)
            } catch {
                throw LogBodyDecodingError(line: Self.line(of: error.offset, in: body), reason: error.reason)
            }
        }
        return records
    }

    /// Decodes `body`; see the raw-buffer overload.
    public func decode(_ body: [UInt8], receivedAt: Int64) throws(LogBodyDecodingError) -> [LogRecord] {
        let result: Result<[LogRecord], LogBodyDecodingError> = body.withUnsafeBytes { bytes in
            do throws(LogBodyDecodingError) {
                return .success(try decode(bytes, receivedAt: receivedAt))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func decodeJSON(
        _ body: UnsafeRawBufferPointer, receivedAt: Int64, into records: inout [LogRecord]
    ) throws(JSONValueParser.Failure) {
        var parser = JSONValueParser(body)
        // An empty body is no records, as an empty array is.
        if parser.atEnd { return }
        if body[parser.index] == UInt8(ascii: "[") {
            try parser.beginArray()
            var first = true
            while let element = try parser.nextElement(first: first) {
                first = false
                records.append(try record(from: element.value, receivedAt: receivedAt, offset: element.offset))
            }
        } else {
            let start = parser.index
            records.append(try record(from: try parser.parseValue(), receivedAt: receivedAt, offset: start))
        }
        guard parser.atEnd else {
            throw JSONValueParser.Failure(offset: parser.index, reason: "unexpected data after the value")
        }
    }

    /// The record of one JSON value; `offset` is where it starts, for the error of a value of the wrong kind.
    private func record(from value: AnyValue, receivedAt: Int64, offset: Int) throws(JSONValueParser.Failure)
        -> LogRecord
    {
        switch value {
        case .string(let message):
            return LogRecord(timestamp: receivedAt, message: message)
        case .object(let object):
            if let written = Self.writtenRecord(object, receivedAt: receivedAt) { return written }
            var fields = object
            var record = LogRecord(timestamp: receivedAt, message: "")
            if case .string(let message)? = fields[keys.message] {
                record.message = message
                fields[keys.message] = nil
            }
            if let time = fields[keys.timestamp], let nanoseconds = Self.nanoseconds(time) {
                record.timestamp = nanoseconds
                fields[keys.timestamp] = nil
            }
            if case .string(let severity)? = fields[keys.severity] {
                record.severity = severity
                fields[keys.severity] = nil
            }
            record.fields = fields
            return record
        default:
            throw JSONValueParser.Failure(offset: offset, reason: "expected a JSON object or string")
        }
    }

    /// The keys of a log line `EventJSONEncoder` writes.
    private static let writtenKeys: Set<String> = [
        "kind", "timestamp", "message", "severity", "fields", "metadata", "resource",
    ]

    /// The record a Petrel sink wrote as `object`, or nil when `object` is not in that shape.
    ///
    /// Resource attributes come back in key order: a JSON object keeps no order.
    private static func writtenRecord(_ object: [String: AnyValue], receivedAt: Int64) -> LogRecord? {
        guard case .string("log")? = object["kind"], case .string(let message)? = object["message"],
            object.keys.allSatisfy(writtenKeys.contains)
        else { return nil }
        var record = LogRecord(timestamp: receivedAt, message: message)
        if let time = object["timestamp"] {
            guard let nanoseconds = nanoseconds(time) else { return nil }
            record.timestamp = nanoseconds
        }
        switch object["severity"] {
        case nil: break
        case .string(let severity)?: record.severity = severity
        default: return nil
        }
        switch object["fields"] {
        case nil: break
        case .object(let fields)?: record.fields = fields
        default: return nil
        }
        switch object["metadata"] {
        case nil: break
        case .object(let metadata)?:
            for (key, value) in metadata {
                guard case .string(let text) = value else { return nil }
                record.metadata[key] = text
            }
        default: return nil
        }
        switch object["resource"] {
        case nil: break
        case .object(let resource)?: record.resource = resource.keys.sorted().map { Attribute($0, resource[$0]!) }
        default: return nil
        }
        return record
    }

    /// Nanoseconds since the epoch of RFC 3339 text or a number; nil for anything else.
    ///
    /// A number's unit is told by its size, as a time between 1973 and 5138 reads: under 10^11 seconds, under 10^14
    /// milliseconds, under 10^17 microseconds, else nanoseconds.
    public static func nanoseconds(_ value: AnyValue) -> Int64? {
        switch value {
        case .string(let text):
            var text = text
            return text.withUTF8 { ContainerLogTimestamp.parse(UnsafeRawBufferPointer($0)) }
        case .int(let number):
            let magnitude = number.magnitude
            let scale: Int64 =
                magnitude < 100_000_000_000
                ? 1_000_000_000
                : magnitude < 100_000_000_000_000 ? 1_000_000 : magnitude < 100_000_000_000_000_000 ? 1_000 : 1
            let (scaled, overflow) = number.multipliedReportingOverflow(by: scale)
            return overflow ? nil : scaled
        case .double(let number):
            let magnitude = number.magnitude
            let scale: Double =
                magnitude < 1e11 ? 1e9 : magnitude < 1e14 ? 1e6 : magnitude < 1e17 ? 1e3 : 1
            // Whole and fractional parts apart: at 10^18 a double is only good to 256 ns.
            let whole = number.rounded(.towardZero)
            let fraction = ((number - whole) * scale).rounded()
            guard (whole * scale).magnitude < 9.2e18 else { return nil }
            let (total, overflow) = (Int64(whole) * Int64(scale)).addingReportingOverflow(Int64(fraction))
            return overflow ? nil : total
        default:
            return nil
        }
    }

    /// Calls `body` with each line (without `\n` or `\r\n`) and its number, from 1; a last line without `\n` counts.
    private func forEachLine(
        _ body: UnsafeRawBufferPointer, _ handle: (UnsafeRawBufferPointer, Int) -> Void
    ) {
        var start = 0
        var number = 1
        while start < body.count {
            let newline = body[start...].firstIndex(of: 0x0A) ?? body.count
            var end = newline
            if end > start, body[end - 1] == 0x0D { end -= 1 }
            handle(UnsafeRawBufferPointer(rebasing: body[start..<end]), number)
            start = newline + 1
            number += 1
        }
    }

    /// The 1-based line of the byte at `offset`.
    static func line(of offset: Int, in body: UnsafeRawBufferPointer) -> Int {
        1 + body[..<min(offset, body.count)].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }
}

/// Why a body could not be decoded: the line of the first bad value and what was wrong with it.
public struct LogBodyDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number in the body.
    public let line: Int
    public let reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { "line \(line): \(reason)" }
}
