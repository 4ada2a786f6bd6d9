/// Parses Prometheus-style durations: `250ms`, `30s`, `5m`, `1h30m`, `1d`, or a plain number of seconds.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        if let seconds = Double(text) {
            // Beyond Int64 nanoseconds (about 292 years) is no duration anyone means.
            guard seconds >= 0, seconds < 9.2e9 else { return nil }
            return .nanoseconds(Int64(seconds * 1e9))
        }
        var total: Int64 = 0
        var number: Int64? = nil
        var scalars = Array(text.unicodeScalars)[...]
        guard !scalars.isEmpty else { return nil }
        while let scalar = scalars.first {
            if ("0"..."9").contains(scalar) {
                let (shifted, overflowed) = (number ?? 0).multipliedReportingOverflow(by: 10)
                guard !overflowed, shifted <= Int64.max - 9 else { return nil }
                number = shifted + Int64(scalar.value - 48)
                scalars.removeFirst()
                continue
            }
            guard let value = number else { return nil }
            let unit: Int64
            if scalars.starts(with: "ms".unicodeScalars) {
                unit = 1_000_000
                scalars.removeFirst(2)
            } else if scalars.starts(with: "us".unicodeScalars) || scalars.starts(with: "µs".unicodeScalars) {
                unit = 1_000
                scalars.removeFirst(2)
            } else if scalars.starts(with: "ns".unicodeScalars) {
                unit = 1
                scalars.removeFirst(2)
            } else {
                switch scalar {
                case "s": unit = 1_000_000_000
                case "m": unit = 60_000_000_000
                case "h": unit = 3_600_000_000_000
                case "d": unit = 86_400_000_000_000
                case "w": unit = 604_800_000_000_000
                default: return nil
                }
                scalars.removeFirst()
            }
            let (product, overflowed) = value.multipliedReportingOverflow(by: unit)
            let (sum, overflowedSum) = total.addingReportingOverflow(product)
            guard !overflowed, !overflowedSum else { return nil }
            total = sum
            number = nil
        }
        guard number == nil else { return nil }
        return .nanoseconds(total)
    }
}

/// Parses sizes: `4096`, `512KiB`, `32MiB`, `10GiB`, `1TiB`, and decimal `KB`, `MB`, `GB`.
public enum ByteSizeParser {
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces
        guard let number = Double(digits), number >= 0 else { return nil }
        let multiplier: Double
        switch unit.lowercased() {
        case "", "b": multiplier = 1
        case "kb", "k": multiplier = 1e3
        case "mb", "m": multiplier = 1e6
        case "gb", "g": multiplier = 1e9
        case "tb", "t": multiplier = 1e12
        case "kib", "ki": multiplier = 1024
        case "mib", "mi": multiplier = 1024 * 1024
        case "gib", "gi": multiplier = 1024 * 1024 * 1024
        case "tib", "ti": multiplier = 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = number * multiplier
        guard bytes < Double(Int.max) else { return nil }
        return Int(bytes)
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
