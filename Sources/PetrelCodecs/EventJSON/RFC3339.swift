/// Formats Unix timestamps as RFC 3339 UTC text with nanoseconds, without Foundation.
public enum RFC3339 {
    /// `2026-11-27T02:13:01.123456789Z`.
    public static func format(nanoseconds: Int64) -> String {
        String(unsafeUninitializedCapacity: length, initializingUTF8With: { write(nanoseconds: nanoseconds, into: $0) })
    }

    /// Calls `body` with the text of `format(nanoseconds:)` in a stack buffer: no allocation per timestamp.
    public static func withFormatted<R>(nanoseconds: Int64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { buffer in
            let count = write(nanoseconds: nanoseconds, into: buffer)
            return body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[..<count])))
        }
    }

    /// Every Int64 of nanoseconds falls in the years 1677–2262, so the text is always this long.
    private static let length = 30

    private static func write(nanoseconds: Int64, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let seconds = nanoseconds.quotientAndRemainderFlooring(dividingBy: 1_000_000_000)
        let days = seconds.quotient.quotientAndRemainderFlooring(dividingBy: 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days.quotient)
        let secondOfDay = days.remainder
        var index = 0
        func digits(_ value: Int64, _ width: Int, then separator: UInt8) {
            var rest = value
            for position in stride(from: index + width - 1, through: index, by: -1) {
                buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            buffer[index + width] = separator
            index += width + 1
        }
        digits(year, 4, then: UInt8(ascii: "-"))
        digits(month, 2, then: UInt8(ascii: "-"))
        digits(day, 2, then: UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2, then: UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2, then: UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2, then: UInt8(ascii: "."))
        digits(seconds.remainder, 9, then: UInt8(ascii: "Z"))
        return index
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil_from_days).
    public static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    fileprivate func quotientAndRemainderFlooring(dividingBy divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        if remainder < 0 {
            quotient -= 1
            remainder += divisor
        }
        return (quotient, remainder)
    }
}
