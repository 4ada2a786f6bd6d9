/// Timestamps: RFC 3339 text, and `strftime` formats (chrono's specifiers) compiled once for `parse_timestamp` and
/// `format_timestamp`. Time zones are UTC or fixed offsets (`+02:00`); named zones are not known.
enum RemapTime {
    static let nanosPerSecond: Int64 = 1_000_000_000

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day since 1970-01-01.
    static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Broken-down time in a fixed offset.
    struct Fields {
        var year: Int64 = 1970
        var month: Int64 = 1
        var day: Int64 = 1
        var hour: Int64 = 0
        var minute: Int64 = 0
        var second: Int64 = 0
        var nanosecond: Int64 = 0
        /// Seconds east of UTC.
        var offset: Int64 = 0

        init() {}

        init(nanoseconds: Int64, offset: Int64) {
            var seconds = nanoseconds / RemapTime.nanosPerSecond
            var nanos = nanoseconds % RemapTime.nanosPerSecond
            if nanos < 0 {
                nanos += RemapTime.nanosPerSecond
                seconds -= 1
            }
            seconds += offset
            var days = seconds / 86_400
            var secondOfDay = seconds % 86_400
            if secondOfDay < 0 {
                secondOfDay += 86_400
                days -= 1
            }
            (year, month, day) = RemapTime.civil(days: days)
            hour = secondOfDay / 3600
            minute = secondOfDay / 60 % 60
            second = secondOfDay % 60
            nanosecond = nanos
            self.offset = offset
        }

        var nanoseconds: Int64 {
            let days = RemapTime.days(year: year, month: month, day: day)
            let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
            return seconds * RemapTime.nanosPerSecond + nanosecond
        }

        var weekday: Int64 {
            let days = RemapTime.days(year: year, month: month, day: day)
            return ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4); Sunday is 0.
        }

        var dayOfYear: Int64 {
            RemapTime.days(year: year, month: month, day: day) - RemapTime.days(year: year, month: 1, day: 1) + 1
        }
    }

    /// RFC 3339 in UTC with as many fraction digits as needed in groups of three (chrono's `AutoSi`).
    static func rfc3339(_ nanoseconds: Int64) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(30)
        rfc3339(nanoseconds, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// The same, written as bytes: encoders append it without making a text per part.
    static func rfc3339(_ nanoseconds: Int64, into output: inout [UInt8]) {
        let fields = Fields(nanoseconds: nanoseconds, offset: 0)
        if (0...9999).contains(fields.year) {
            appendDigits(fields.year, width: 4, to: &output)
        } else {
            output += pad(fields.year, 4).utf8
        }
        output.append(UInt8(ascii: "-"))
        appendDigits(fields.month, width: 2, to: &output)
        output.append(UInt8(ascii: "-"))
        appendDigits(fields.day, width: 2, to: &output)
        output.append(UInt8(ascii: "T"))
        appendDigits(fields.hour, width: 2, to: &output)
        output.append(UInt8(ascii: ":"))
        appendDigits(fields.minute, width: 2, to: &output)
        output.append(UInt8(ascii: ":"))
        appendDigits(fields.second, width: 2, to: &output)
        let nanosecond = fields.nanosecond
        if nanosecond != 0 {
            output.append(UInt8(ascii: "."))
            if nanosecond % 1_000_000 == 0 {
                appendDigits(nanosecond / 1_000_000, width: 3, to: &output)
            } else if nanosecond % 1000 == 0 {
                appendDigits(nanosecond / 1000, width: 6, to: &output)
            } else {
                appendDigits(nanosecond, width: 9, to: &output)
            }
        }
        output.append(UInt8(ascii: "Z"))
    }

    /// `value` (from 0 to 10^width - 1) as exactly `width` digits, zero-padded.
    private static func appendDigits(_ value: Int64, width: Int, to output: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            output.append(UInt8(truncatingIfNeeded: 48 + rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    static func pad(_ value: Int64, _ width: Int, with filler: Character = "0") -> String {
        let digits = String(abs(value))
        let padded = digits.count < width ? String(repeating: filler, count: width - digits.count) + digits : digits
        return value < 0 ? "-" + padded : padded
    }

    /// `.123`, `.123456` or `.123456789` (or nothing when `digits` is nil and the fraction is zero).
    static func fraction(_ nanosecond: Int64, digits: Int?) -> String {
        let width: Int
        if let digits {
            width = digits
        } else if nanosecond == 0 {
            return ""
        } else if nanosecond % 1_000_000 == 0 {
            width = 3
        } else if nanosecond % 1000 == 0 {
            width = 6
        } else {
            width = 9
        }
        let text = pad(nanosecond, 9)
        return "." + text.prefix(width)
    }

    /// Parses RFC 3339 (`2021-02-11T10:32:50.553955473Z`, `...+02:00`, a space for `T` allowed).
    static func parseRFC3339(_ text: String) -> Int64? {
        try? rfc3339Format?.parse(text.utf8.contains(32) ? text.replacingFirstSpace() : text, defaultOffset: 0)
    }

    private static let rfc3339Format = try? Format("%Y-%m-%dT%H:%M:%S%.f%:z")

    /// A fixed offset in seconds from a time zone name: `UTC`, `Z`, `+02:00`, `-0700`.
    static func offset(named name: String) -> Int64? {
        if ["UTC", "utc", "Z", "GMT", "Etc/UTC"].contains(name) { return 0 }
        var reader = Format.Reader(Array(name.utf8))
        guard let offset = reader.offset(), reader.atEnd else { return nil }
        return offset
    }

    static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
        "December",
    ]
    static let weekdayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    /// Why a format or a text could not be used.
    struct FormatError: Error {
        var message: String
    }

    /// A `strftime` format split into literal text and specifiers once, at load.
    struct Format: Sendable {
        enum Item: Sendable, Equatable {
            case literal([UInt8])
            case year
            case century
            case shortYear
            case month
            case monthName
            case monthAbbreviation
            case day
            case dayPadded
            case weekdayName
            case weekdayAbbreviation
            case dayOfYear
            case hour
            case hourPadded
            case hour12
            case hour12Padded
            case minute
            case second
            case ampm(upper: Bool)
            /// `%f`, `%3f`, `%.f`, `%.3f`: digits nil means as many as needed.
            case fraction(digits: Int?, dot: Bool)
            case offset(colon: Bool)
            case zoneName
            case unixSeconds
        }

        let items: [Item]

        init(_ format: String) throws(FormatError) {
            var items: [Item] = []
            var literal: [UInt8] = []
            let bytes = Array(format.utf8)
            var index = 0
            func flush() {
                if !literal.isEmpty { items.append(.literal(literal)) }
                literal = []
            }
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                guard byte == UInt8(ascii: "%") else {
                    literal.append(byte)
                    continue
                }
                guard index < bytes.count else { throw FormatError(message: "the format ends with a lone %") }
                var spec = bytes[index]
                index += 1
                var dot = false
                var digits: Int?
                if spec == UInt8(ascii: ".") {
                    dot = true
                    guard index < bytes.count else { throw FormatError(message: "the format ends inside %.") }
                    spec = bytes[index]
                    index += 1
                }
                if [UInt8(ascii: "3"), UInt8(ascii: "6"), UInt8(ascii: "9")].contains(spec) {
                    digits = Int(spec - UInt8(ascii: "0"))
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "f") else {
                        throw FormatError(message: "unknown specifier %\(Character(Unicode.Scalar(spec)))")
                    }
                    spec = bytes[index]
                    index += 1
                }
                var colon = false
                if spec == UInt8(ascii: ":") {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "z") else {
                        throw FormatError(message: "unknown specifier %:")
                    }
                    colon = true
                    spec = bytes[index]
                    index += 1
                }
                let item: [Item]
                switch Character(Unicode.Scalar(spec)) {
                case "Y": item = [.year]
                case "C": item = [.century]
                case "y": item = [.shortYear]
                case "m": item = [.month]
                case "B": item = [.monthName]
                case "b", "h": item = [.monthAbbreviation]
                case "d": item = [.dayPadded]
                case "e": item = [.day]
                case "A": item = [.weekdayName]
                case "a": item = [.weekdayAbbreviation]
                case "j": item = [.dayOfYear]
                case "H": item = [.hourPadded]
                case "k": item = [.hour]
                case "I": item = [.hour12Padded]
                case "l": item = [.hour12]
                case "M": item = [.minute]
                case "S": item = [.second]
                case "p": item = [.ampm(upper: true)]
                case "P": item = [.ampm(upper: false)]
                case "f": item = [.fraction(digits: dot ? digits : (digits ?? 9), dot: dot)]
                case "z": item = [.offset(colon: colon)]
                case "Z": item = [.zoneName]
                case "s": item = [.unixSeconds]
                case "T": item = [.hourPadded, .literal([58]), .minute, .literal([58]), .second]
                case "R": item = [.hourPadded, .literal([58]), .minute]
                case "F": item = [.year, .literal([45]), .month, .literal([45]), .dayPadded]
                case "v": item = [.day, .literal([45]), .monthAbbreviation, .literal([45]), .year]
                case "D": item = [.month, .literal([47]), .dayPadded, .literal([47]), .shortYear]
                case "+":
                    item = [
                        .year, .literal([45]), .month, .literal([45]), .dayPadded, .literal([84]), .hourPadded,
                        .literal([58]), .minute, .literal([58]), .second, .fraction(digits: nil, dot: true),
                        .offset(colon: true),
                    ]
                case "%": item = [.literal([37])]
                case "n": item = [.literal([10])]
                case "t": item = [.literal([9])]
                default: throw FormatError(message: "unknown specifier %\(Character(Unicode.Scalar(spec)))")
                }
                if dot, spec != UInt8(ascii: "f") { throw FormatError(message: "unknown specifier %.") }
                for part in item {
                    if case .literal(let bytes) = part {
                        literal += bytes
                    } else {
                        flush()
                        items.append(part)
                    }
                }
            }
            flush()
            self.items = items
        }

        func format(_ nanoseconds: Int64, offset: Int64) -> String {
            let fields = Fields(nanoseconds: nanoseconds, offset: offset)
            var output = ""
            for item in items {
                switch item {
                case .literal(let bytes): output += String(decoding: bytes, as: UTF8.self)
                case .year: output += RemapTime.pad(fields.year, 4)
                case .century: output += RemapTime.pad(fields.year / 100, 2)
                case .shortYear: output += RemapTime.pad(fields.year % 100, 2)
                case .month: output += RemapTime.pad(fields.month, 2)
                case .monthName: output += RemapTime.monthNames[Int(fields.month - 1)]
                case .monthAbbreviation: output += RemapTime.monthNames[Int(fields.month - 1)].prefix(3)
                case .dayPadded: output += RemapTime.pad(fields.day, 2)
                case .day: output += RemapTime.pad(fields.day, 2, with: " ")
                case .weekdayName: output += RemapTime.weekdayNames[Int(fields.weekday)]
                case .weekdayAbbreviation: output += RemapTime.weekdayNames[Int(fields.weekday)].prefix(3)
                case .dayOfYear: output += RemapTime.pad(fields.dayOfYear, 3)
                case .hourPadded: output += RemapTime.pad(fields.hour, 2)
                case .hour: output += RemapTime.pad(fields.hour, 2, with: " ")
                case .hour12Padded: output += RemapTime.pad((fields.hour + 11) % 12 + 1, 2)
                case .hour12: output += RemapTime.pad((fields.hour + 11) % 12 + 1, 2, with: " ")
                case .minute: output += RemapTime.pad(fields.minute, 2)
                case .second: output += RemapTime.pad(fields.second, 2)
                case .ampm(let upper): output += fields.hour < 12 ? (upper ? "AM" : "am") : (upper ? "PM" : "pm")
                case .fraction(let digits, let dot):
                    let text = RemapTime.fraction(fields.nanosecond, digits: digits)
                    output += dot ? text : String(text.dropFirst())
                case .offset(let colon):
                    let sign = offset < 0 ? "-" : "+"
                    let minutes = abs(offset) / 60
                    output +=
                        sign + RemapTime.pad(minutes / 60, 2) + (colon ? ":" : "") + RemapTime.pad(minutes % 60, 2)
                case .zoneName:
                    if offset == 0 {
                        output += "UTC"
                    } else {
                        let minutes = abs(offset) / 60
                        output +=
                            (offset < 0 ? "-" : "+") + RemapTime.pad(minutes / 60, 2) + ":"
                            + RemapTime.pad(minutes % 60, 2)
                    }
                case .unixSeconds:
                    var seconds = nanoseconds / RemapTime.nanosPerSecond
                    if nanoseconds % RemapTime.nanosPerSecond < 0 { seconds -= 1 }
                    output += String(seconds)
                }
            }
            return output
        }

        /// Reads `text` in this format; a text without an offset is in `defaultOffset`.
        func parse(_ text: String, defaultOffset: Int64) throws(FormatError) -> Int64 {
            var reader = Reader(Array(text.utf8))
            var fields = Fields()
            fields.offset = defaultOffset
            var pm: Bool?
            var hour12: Int64?
            var unixSeconds: Int64?
            // Made only when the text does not match: the message quotes the text, which costs an allocation.
            var fail: FormatError { FormatError(message: "input \"\(text)\" does not match the format") }
            for item in items {
                switch item {
                case .literal(let bytes):
                    for byte in bytes {
                        if byte == UInt8(ascii: " ") {
                            reader.skipSpaces()
                            continue
                        }
                        guard reader.take(byte) else { throw fail }
                    }
                case .year:
                    guard let value = reader.number(maxDigits: 4, signed: true) else { throw fail }
                    fields.year = value
                case .century:
                    guard let value = reader.number(maxDigits: 2) else { throw fail }
                    fields.year = value * 100 + fields.year % 100
                case .shortYear:
                    guard let value = reader.number(maxDigits: 2) else { throw fail }
                    fields.year = value < 70 ? 2000 + value : 1900 + value
                case .month:
                    guard let value = reader.number(maxDigits: 2), (1...12).contains(value) else { throw fail }
                    fields.month = value
                case .monthName, .monthAbbreviation:
                    guard let value = reader.name(RemapTime.monthNames) else { throw fail }
                    fields.month = Int64(value + 1)
                case .day, .dayPadded:
                    reader.skipSpaces()
                    guard let value = reader.number(maxDigits: 2), (1...31).contains(value) else { throw fail }
                    fields.day = value
                case .weekdayName, .weekdayAbbreviation:
                    guard reader.name(RemapTime.weekdayNames) != nil else { throw fail }
                case .dayOfYear:
                    guard let value = reader.number(maxDigits: 3) else { throw fail }
                    fields.month = 1
                    fields.day = value
                case .hour, .hourPadded:
                    reader.skipSpaces()
                    guard let value = reader.number(maxDigits: 2), value < 24 else { throw fail }
                    fields.hour = value
                case .hour12, .hour12Padded:
                    reader.skipSpaces()
                    guard let value = reader.number(maxDigits: 2), (1...12).contains(value) else { throw fail }
                    hour12 = value
                case .minute:
                    guard let value = reader.number(maxDigits: 2), value < 60 else { throw fail }
                    fields.minute = value
                case .second:
                    guard let value = reader.number(maxDigits: 2), value <= 60 else { throw fail }
                    fields.second = min(value, 59)
                case .ampm:
                    guard let value = reader.name(["AM", "PM"]) else { throw fail }
                    pm = value == 1
                case .fraction(_, let dot):
                    if dot {
                        guard reader.take(UInt8(ascii: ".")) else { continue }
                    }
                    let start = reader.index
                    guard let value = reader.number(maxDigits: 9) else { throw fail }
                    let count = reader.index - start
                    var scaled = value
                    for _ in count..<9 { scaled *= 10 }
                    fields.nanosecond = scaled
                    while reader.index < reader.bytes.count, (48...57).contains(reader.bytes[reader.index]) {
                        reader.index += 1
                    }
                case .offset:
                    guard let value = reader.offset() else { throw fail }
                    fields.offset = value
                case .zoneName:
                    if reader.take(Array("UTC".utf8)) || reader.take(Array("GMT".utf8)) {
                        fields.offset = 0
                    } else if let value = reader.offset() {
                        fields.offset = value
                    } else {
                        throw fail
                    }
                case .unixSeconds:
                    guard let value = reader.number(maxDigits: 19, signed: true) else { throw fail }
                    unixSeconds = value
                }
            }
            guard reader.atEnd else {
                throw FormatError(message: "input \"\(text)\" has trailing characters after the format")
            }
            if let unixSeconds { return unixSeconds * RemapTime.nanosPerSecond + fields.nanosecond }
            if let hour12 { fields.hour = hour12 % 12 + ((pm ?? false) ? 12 : 0) }
            return fields.nanoseconds
        }

        /// A cursor over the bytes of a text being parsed.
        struct Reader {
            let bytes: [UInt8]
            var index = 0

            init(_ bytes: [UInt8]) { self.bytes = bytes }

            var atEnd: Bool { index == bytes.count }

            mutating func take(_ byte: UInt8) -> Bool {
                guard index < bytes.count, bytes[index] == byte else { return false }
                index += 1
                return true
            }

            mutating func take(_ word: [UInt8]) -> Bool {
                guard index + word.count <= bytes.count, Array(bytes[index..<index + word.count]) == word else {
                    return false
                }
                index += word.count
                return true
            }

            mutating func skipSpaces() {
                while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
            }

            mutating func number(maxDigits: Int, signed: Bool = false) -> Int64? {
                var negative = false
                if signed, index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                    negative = bytes[index] == UInt8(ascii: "-")
                    index += 1
                }
                var value: Int64 = 0
                var count = 0
                while count < maxDigits, index < bytes.count, (48...57).contains(bytes[index]) {
                    value = value * 10 + Int64(bytes[index] - 48)
                    index += 1
                    count += 1
                }
                return count == 0 ? nil : (negative ? -value : value)
            }

            /// The index of the name (full or its first three letters) found here, case-insensitively.
            mutating func name(_ names: [String]) -> Int? {
                for (position, name) in names.enumerated() {
                    for candidate in [name, String(name.prefix(3))] {
                        let word = Array(candidate.lowercased().utf8)
                        guard index + word.count <= bytes.count else { continue }
                        let here = bytes[index..<index + word.count].map { $0 | 0x20 }
                        if here == word {
                            index += word.count
                            return position
                        }
                    }
                }
                return nil
            }

            /// `Z`, `+02:00`, `+0200` or `+02`, in seconds.
            mutating func offset() -> Int64? {
                if take(UInt8(ascii: "Z")) || take(UInt8(ascii: "z")) { return 0 }
                guard index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else {
                    return nil
                }
                let negative = bytes[index] == UInt8(ascii: "-")
                index += 1
                guard let hours = number(maxDigits: 2) else { return nil }
                _ = take(UInt8(ascii: ":"))
                let minutes = number(maxDigits: 2) ?? 0
                let seconds = hours * 3600 + minutes * 60
                return negative ? -seconds : seconds
            }
        }
    }
}

extension String {
    /// RFC 3339 allows a space for the `T` between date and time.
    fileprivate func replacingFirstSpace() -> String {
        guard let index = firstIndex(of: " ") else { return self }
        var text = self
        text.replaceSubrange(index...index, with: "T")
        return text
    }
}
