import PetrelCore

/// The `Retry-After` header: delay-seconds or an HTTP-date in any of the three forms RFC 9110 §5.6.7 asks
/// recipients to accept (IMF-fixdate, RFC 850, asctime).
enum RetryAfter {
    /// The longest delay a receiver may ask for; a longer one (or a far-off date) is cut to this.
    static let longest = Duration.seconds(3_600)

    /// The delay it asks for, at most `longest`; nil when it cannot be read. A date in the past asks for no delay.
    static func parse(_ value: String, nowSeconds: Double = Double(WallClock.nowNanoseconds()) / 1e9) -> Duration? {
        let text = value.trimmingWhitespace
        if let seconds = Int(text) { return seconds >= 0 ? min(.seconds(seconds), longest) : nil }
        guard let date = httpDate(text, nowSeconds: nowSeconds) else { return nil }
        return min(.seconds(max(0, Double(date) - nowSeconds).rounded(.up)), longest)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Seconds since the epoch of `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT` or
    /// `Sun Nov  6 08:49:37 1994`.
    private static func httpDate(_ text: String, nowSeconds: Double) -> Int64? {
        let parts = text.split(separator: " ")
        switch parts.count {
        case 6 where parts[0].hasSuffix(",") && parts[5] == "GMT":  // IMF-fixdate
            guard let day = Int64(parts[1]), let year = Int64(parts[3]), parts[3].count == 4 else { return nil }
            return epochSeconds(year: year, month: parts[2], day: day, time: parts[4])
        case 4 where parts[0].hasSuffix(",") && parts[3] == "GMT":  // RFC 850, two-digit year
            let date = parts[1].split(separator: "-")
            guard date.count == 3, date[2].count == 2, let day = Int64(date[0]), let shortYear = Int64(date[2])
            else { return nil }
            // A year more than 50 years ahead is the most recent past year with those digits (RFC 9110).
            let thisYear = 1970 + Int64(nowSeconds / 31_556_952)
            var year = thisYear - thisYear % 100 + shortYear
            if year > thisYear + 50 { year -= 100 }
            return epochSeconds(year: year, month: date[1], day: day, time: parts[2])
        case 5 where !parts[0].hasSuffix(","):  // asctime
            guard let day = Int64(parts[2]), let year = Int64(parts[4]), parts[4].count == 4 else { return nil }
            return epochSeconds(year: year, month: parts[1], day: day, time: parts[3])
        default:
            return nil
        }
    }

    private static func epochSeconds(year: Int64, month name: Substring, day: Int64, time: Substring) -> Int64? {
        guard let monthIndex = months.firstIndex(of: String(name)) else { return nil }
        let clock = time.split(separator: ":").compactMap { Int64($0) }
        guard clock.count == 3, (1...31).contains(day), (0..<24).contains(clock[0]), (0..<60).contains(clock[1]),
            (0..<61).contains(clock[2])
        else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm), with March as the first month of the year.
        let month = Int64(monthIndex) + 1
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + clock[0] * 3_600 + clock[1] * 60 + clock[2]
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
