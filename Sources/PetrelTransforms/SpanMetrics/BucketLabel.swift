/// Bucket bounds as `le` label values, spelled as Tempo's metrics-generator spells them.
enum BucketLabel {
    /// Go's `strconv.FormatFloat(value, 'f', -1, 64)`, which Tempo (and the Collector's Prometheus translator)
    /// use for `le`: the shortest digits that read back as the same value, never an exponent (`0.002`, `1`,
    /// `0.00001`, `1000000`, `+Inf`). Dashboards match `le` as text, so `1.0` for `1` would be another bucket.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return "0" }
        // Swift's description holds the shortest round-tripping digits; only their layout differs from Go's.
        let text = value.magnitude.description
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1])! : 0
        let mantissa = parts[0].split(separator: ".", maxSplits: 1)
        var digits = Array(mantissa[0].utf8) + (mantissa.count == 2 ? Array(mantissa[1].utf8) : [])
        // The decimal point sits after `point` digits (negative: that many zeros come before the digits).
        var point = mantissa[0].utf8.count + exponent
        while digits.first == UInt8(ascii: "0") {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        let sign = value < 0 ? "-" : ""
        if point <= 0 {
            return sign + "0." + String(repeating: "0", count: -point) + String(decoding: digits, as: UTF8.self)
        }
        if point >= digits.count {
            return sign + String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: point - digits.count)
        }
        return sign + String(decoding: digits[..<point], as: UTF8.self) + "."
            + String(decoding: digits[point...], as: UTF8.self)
    }
}
