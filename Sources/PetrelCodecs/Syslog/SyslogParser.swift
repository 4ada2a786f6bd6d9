import PetrelCore

/// Which grammar a syslog message was read with.
public enum SyslogFormat: Sendable, Equatable {
    case rfc5424
    case rfc3164
    /// Neither: no valid PRI, or an RFC 5424 header that breaks its grammar. The raw text is the message.
    case unparsed
}

/// Reads one syslog message (RFC 5424, or the BSD format RFC 3164 describes) into a log record, working on bytes.
///
/// The record's `message` is MSG (a UTF-8 BOM and trailing line ends removed), `severity` the keyword of PRI's
/// severity (`err`, `info`...), `timestamp` the message's time (the time received when it has none), and `fields`
/// hold `facility`, `hostname`, `appname`, `procid`, `msgid` (each only when present) and `structured_data`
/// (`{SD-ID: {PARAM-NAME: value}}`). RFC 3164 times carry neither year nor zone: they are read in the zone
/// `utcOffset` describes, in the year that puts them no more than a month after the time received.
public struct SyslogParser: Sendable {
    /// Seconds east of UTC of the zone RFC 3164 times are written in, at a UTC time in seconds since the epoch.
    public typealias UTCOffset = @Sendable (Int64) -> Int64

    private let utcOffset: UTCOffset

    public init(utcOffset: @escaping UTCOffset = { _ in 0 }) {
        self.utcOffset = utcOffset
    }

    /// The record for `frame`, received at `receivedAt` (nanoseconds since the epoch), and how it was read.
    public func parse(_ frame: UnsafeRawBufferPointer, receivedAt: Int64) -> (record: LogRecord, format: SyslogFormat) {
        var cursor = SyslogCursor(frame)
        if let pri = cursor.readPRI() {
            if cursor.startsWithVersion() {
                if let record = parse5424(&cursor, pri: pri, receivedAt: receivedAt) { return (record, .rfc5424) }
            } else {
                return (parse3164(&cursor, pri: pri, receivedAt: receivedAt), .rfc3164)
            }
        }
        var raw = SyslogCursor(frame)
        return (LogRecord(timestamp: receivedAt, message: raw.messageText()), .unparsed)
    }

    private static func severity(_ pri: Int) -> String { SyslogNames.severities[pri & 7] }

    /// Room for every field from the start: growing the dictionary as fields arrive was 7 % of a relay's CPU.
    private static func fields(_ pri: Int) -> [String: AnyValue] {
        var fields = [String: AnyValue](minimumCapacity: 6)
        fields["facility"] = .string(SyslogNames.facilities[pri >> 3])
        return fields
    }

    // MARK: RFC 5424

    private func parse5424(_ cursor: inout SyslogCursor, pri: Int, receivedAt: Int64) -> LogRecord? {
        cursor.skipVersion()
        guard let time = cursor.readToken() else { return nil }
        var timestamp = receivedAt
        if !Self.isNil(time) {
            guard let parsed = ContainerLogTimestamp.parse(time) else { return nil }
            timestamp = parsed
        }
        let severity = Self.severity(pri)
        var fields = Self.fields(pri)
        for name in ["hostname", "appname", "procid", "msgid"] {
            guard let token = cursor.readToken() else {
                // A header cut short after its time: what is there is kept, the message is empty.
                guard name != "hostname" else { return nil }
                return LogRecord(timestamp: timestamp, message: "", severity: severity, fields: fields)
            }
            if !Self.isNil(token) { fields[name] = .string(String(decoding: token, as: UTF8.self)) }
        }
        if !cursor.atEnd {
            if cursor.peek == UInt8(ascii: "-") {
                cursor.advance()
            } else {
                guard let data = cursor.readStructuredData() else { return nil }
                fields["structured_data"] = .object(data)
            }
            guard cursor.atEnd || cursor.peek == UInt8(ascii: " ") else { return nil }
            cursor.advance()
        }
        return LogRecord(timestamp: timestamp, message: cursor.messageText(), severity: severity, fields: fields)
    }

    private static func isNil(_ token: UnsafeRawBufferPointer) -> Bool {
        token.count == 1 && token[0] == UInt8(ascii: "-")
    }

    // MARK: RFC 3164

    private func parse3164(_ cursor: inout SyslogCursor, pri: Int, receivedAt: Int64) -> LogRecord {
        let severity = Self.severity(pri)
        var fields = Self.fields(pri)
        guard let timestamp = readBSDTimestamp(&cursor, receivedAt: receivedAt) else {
            // No time: RFC 3164 takes everything after PRI as the message.
            return LogRecord(timestamp: receivedAt, message: cursor.messageText(), severity: severity, fields: fields)
        }
        // HOSTNAME is often left out: a first word that reads as a tag (`name:`, `name[pid]:`) is the tag.
        let afterTime = cursor
        if let first = cursor.readToken() {
            if let tag = Self.tag(first) {
                Self.add(tag, to: &fields)
            } else {
                fields["hostname"] = .string(String(decoding: first, as: UTF8.self))
                let afterHost = cursor
                if let second = cursor.readToken(), let tag = Self.tag(second) {
                    Self.add(tag, to: &fields)
                } else {
                    cursor = afterHost
                }
            }
        } else {
            cursor = afterTime
        }
        return LogRecord(timestamp: timestamp, message: cursor.messageText(), severity: severity, fields: fields)
    }

    private static func add(
        _ tag: (name: UnsafeRawBufferPointer, pid: UnsafeRawBufferPointer?), to fields: inout [String: AnyValue]
    ) {
        if !tag.name.isEmpty { fields["appname"] = .string(String(decoding: tag.name, as: UTF8.self)) }
        if let pid = tag.pid, !pid.isEmpty { fields["procid"] = .string(String(decoding: pid, as: UTF8.self)) }
    }

    /// `name:`, `name[pid]:` or `name[pid]` split into name and pid; nil when `token` is not a tag.
    private static func tag(_ token: UnsafeRawBufferPointer) -> (
        name: UnsafeRawBufferPointer, pid: UnsafeRawBufferPointer?
    )? {
        var body = token
        if body.count > 1, body[body.count - 1] == UInt8(ascii: ":") {
            body = UnsafeRawBufferPointer(rebasing: body[..<(body.count - 1)])
            if body.last != UInt8(ascii: "]") { return (body, nil) }
        }
        guard body.last == UInt8(ascii: "]"), let open = body.firstIndex(of: UInt8(ascii: "[")), open > 0 else {
            return nil
        }
        return (
            UnsafeRawBufferPointer(rebasing: body[..<open]),
            UnsafeRawBufferPointer(rebasing: body[(open + 1)..<(body.count - 1)])
        )
    }

    private static let months: [UInt32] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ].map { name in name.utf8.reduce(UInt32(0)) { $0 << 8 | UInt32($1 | 0x20) } }

    /// `Mmm dd hh:mm:ss` (day space- or zero-padded) in the configured zone, or an RFC 3339 time (rsyslog's
    /// forwarding format); the cursor moves past it and the space after it. Nil, cursor unmoved, for neither.
    private func readBSDTimestamp(_ cursor: inout SyslogCursor, receivedAt: Int64) -> Int64? {
        let start = cursor
        if let token = cursor.readToken(), let parsed = ContainerLogTimestamp.parse(token) { return parsed }
        cursor = start
        guard let text = cursor.take(15), cursor.atEnd || cursor.peek == UInt8(ascii: " ") else {
            cursor = start
            return nil
        }
        let code = UInt32(text[0] | 0x20) << 16 | UInt32(text[1] | 0x20) << 8 | UInt32(text[2] | 0x20)
        guard let monthIndex = Self.months.firstIndex(of: code), text[3] == UInt8(ascii: " "),
            let day = Self.number(text[4] == UInt8(ascii: " ") ? UInt8(ascii: "0") : text[4], text[5]),
            text[6] == UInt8(ascii: " "), let hour = Self.number(text[7], text[8]), text[9] == UInt8(ascii: ":"),
            let minute = Self.number(text[10], text[11]), text[12] == UInt8(ascii: ":"),
            let second = Self.number(text[13], text[14]), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else {
            cursor = start
            return nil
        }
        if !cursor.atEnd { cursor.advance() }
        let nowSeconds = receivedAt / 1_000_000_000
        let localNow = nowSeconds + utcOffset(nowSeconds)
        var (year, _, _) = RFC3339.civilDate(daysSinceEpoch: localNow / 86_400)
        func local(_ year: Int64) -> Int64 {
            ContainerLogTimestamp.daysSinceEpoch(year: year, month: Int64(monthIndex + 1), day: day) * 86_400
                + hour * 3600 + minute * 60 + second
        }
        // Sent last December, received this January: the year before.
        if local(year) - localNow > 31 * 86_400 { year -= 1 }
        let localTime = local(year)
        let utc = localTime - utcOffset(localTime - utcOffset(localTime))
        return utc * 1_000_000_000
    }

    private static func number(_ tens: UInt8, _ units: UInt8) -> Int64? {
        guard tens &- UInt8(ascii: "0") < 10, units &- UInt8(ascii: "0") < 10 else { return nil }
        return Int64(tens &- UInt8(ascii: "0")) * 10 + Int64(units &- UInt8(ascii: "0"))
    }
}

/// A read position in one message.
struct SyslogCursor {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8 { bytes[index] }

    mutating func advance() { index += 1 }

    /// `<PRI>` with PRI 0 to 191 in one to three digits.
    mutating func readPRI() -> Int? {
        guard bytes.count >= 3, bytes[0] == UInt8(ascii: "<") else { return nil }
        var value = 0
        var position = 1
        while position < bytes.count, position <= 4, bytes[position] &- UInt8(ascii: "0") < 10 {
            value = value * 10 + Int(bytes[position] &- UInt8(ascii: "0"))
            position += 1
        }
        guard position > 1, position <= 4, position < bytes.count, bytes[position] == UInt8(ascii: ">"),
            value <= 191
        else { return nil }
        index = position + 1
        return value
    }

    /// Whether an RFC 5424 VERSION (one to three digits, not starting with 0) and a space follow.
    func startsWithVersion() -> Bool {
        var position = index
        while position < bytes.count, position - index < 4, bytes[position] &- UInt8(ascii: "0") < 10 {
            position += 1
        }
        let digits = position - index
        return digits >= 1 && digits <= 3 && bytes[index] != UInt8(ascii: "0") && position < bytes.count
            && bytes[position] == UInt8(ascii: " ")
    }

    mutating func skipVersion() {
        while bytes[index] != UInt8(ascii: " ") { index += 1 }
        index += 1
    }

    /// The bytes up to the next space (or the end), skipping that space; nil at the end or on an empty token.
    mutating func readToken() -> UnsafeRawBufferPointer? {
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: " ") { index += 1 }
        guard index > start else { return nil }
        let token = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        if index < bytes.count { index += 1 }
        return token
    }

    mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
        guard bytes.count - index >= count else { return nil }
        defer { index += count }
        return UnsafeRawBufferPointer(rebasing: bytes[index..<index + count])
    }

    /// The rest as MSG: without a leading UTF-8 BOM and trailing line ends (rsyslog's templates end in `\n`).
    mutating func messageText() -> String {
        var start = min(index, bytes.count)
        var end = bytes.count
        if end - start >= 3, bytes[start] == 0xEF, bytes[start + 1] == 0xBB, bytes[start + 2] == 0xBF { start += 3 }
        while end > start,
            bytes[end - 1] == UInt8(ascii: "\n") || bytes[end - 1] == UInt8(ascii: "\r") || bytes[end - 1] == 0
        {
            end -= 1
        }
        index = bytes.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// One or more `[SD-ID PARAM="value"...]`; values unescape `\"`, `\\` and `\]`. Nil when the grammar breaks.
    mutating func readStructuredData() -> [String: AnyValue]? {
        var data: [String: AnyValue] = [:]
        while !atEnd, peek == UInt8(ascii: "[") {
            index += 1
            guard let id = readName(), !atEnd else { return nil }
            var params = [String: AnyValue](minimumCapacity: 4)
            if case .object(let earlier) = data[id] { params = earlier }
            while !atEnd, peek == UInt8(ascii: " ") {
                index += 1
                guard let name = readName(), !atEnd, peek == UInt8(ascii: "="), index + 1 < bytes.count,
                    bytes[index + 1] == UInt8(ascii: "\"")
                else { return nil }
                index += 2
                guard let value = readParamValue() else { return nil }
                params[name] = .string(value)
            }
            guard !atEnd, peek == UInt8(ascii: "]") else { return nil }
            index += 1
            data[id] = .object(params)
        }
        return data
    }

    /// SD-NAME: printable ASCII but `=`, space, `]` and `"`.
    private mutating func readName() -> String? {
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte <= 32 || byte >= 127 || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "]")
                || byte == UInt8(ascii: "\"")
            {
                break
            }
            index += 1
        }
        guard index > start else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    /// A PARAM-VALUE after its opening quote, up to and past the closing one.
    private mutating func readParamValue() -> String? {
        let start = index
        var unescaped: [UInt8]?
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let value =
                    unescaped.map { String(decoding: $0, as: UTF8.self) }
                    ?? String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return value
            }
            if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                let next = bytes[index + 1]
                if next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") || next == UInt8(ascii: "]") {
                    if unescaped == nil { unescaped = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index])) }
                    unescaped!.append(next)
                    index += 2
                    continue
                }
            }
            unescaped?.append(byte)
            index += 1
        }
        return nil
    }
}
