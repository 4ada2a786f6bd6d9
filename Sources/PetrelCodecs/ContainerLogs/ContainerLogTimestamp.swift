/// Reads the RFC 3339 times container runtimes write (`RFC3339Nano`), without Foundation.
///
/// containerd and Docker write UTC with `Z`; CRI-O may write the node's offset (`+02:00`). Go drops trailing zeros
/// of the fraction, so it has zero to nine digits.
enum ContainerLogTimestamp {
    /// Nanoseconds since the Unix epoch, or `nil` when `text` is not such a time or lies outside Int64 nanoseconds.
    static func parse(_ text: UnsafeRawBufferPointer) -> Int64? {
        // The shortest form: 2024-01-01T00:00:00Z.
        guard text.count >= 20 else { return nil }
        guard let year = digits(text, 0, 4), text[4] == UInt8(ascii: "-"),
            let month = digits(text, 5, 2), text[7] == UInt8(ascii: "-"),
            let day = digits(text, 8, 2), text[10] | 0x20 == UInt8(ascii: "t"),
            let hour = digits(text, 11, 2), text[13] == UInt8(ascii: ":"),
            let minute = digits(text, 14, 2), text[16] == UInt8(ascii: ":"),
            let second = digits(text, 17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23,
            minute <= 59, second <= 59
        else { return nil }
        var index = 19
        var fraction: Int64 = 0
        if text[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < text.count, index - start < 10, let digit = digit(text[index]) {
                fraction = fraction * 10 + digit
                index += 1
            }
            let count = index - start
            guard count >= 1, count <= 9 else { return nil }
            for _ in count..<9 { fraction *= 10 }
        }
        guard index < text.count else { return nil }
        var offsetSeconds: Int64 = 0
        let zone = text[index]
        if zone | 0x20 == UInt8(ascii: "z") {
            index += 1
        } else if zone == UInt8(ascii: "+") || zone == UInt8(ascii: "-") {
            guard index + 6 == text.count, let hours = digits(text, index + 1, 2), text[index + 3] == UInt8(ascii: ":"),
                let minutes = digits(text, index + 4, 2), hours <= 23, minutes <= 59
            else { return nil }
            offsetSeconds = (zone == UInt8(ascii: "+") ? 1 : -1) * (hours * 3600 + minutes * 60)
            index += 6
        }
        guard index == text.count else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        let (scaled, overflowed) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflowedSum) = scaled.addingReportingOverflow(fraction)
        guard !overflowed, !overflowedSum else { return nil }
        return total
    }

    @inline(__always)
    private static func digit(_ byte: UInt8) -> Int64? {
        byte &- UInt8(ascii: "0") < 10 ? Int64(byte &- UInt8(ascii: "0")) : nil
    }

    @inline(__always)
    private static func digits(_ text: UnsafeRawBufferPointer, _ start: Int, _ count: Int) -> Int64? {
        var value: Int64 = 0
        for index in start..<start + count {
            guard let digit = digit(text[index]) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// A proleptic Gregorian date to days since 1970-01-01 (Howard Hinnant's days_from_civil).
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let year = month <= 2 ? year - 1 : year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
