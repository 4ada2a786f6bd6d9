import PetrelCore

/// Prometheus names for OpenTelemetry metrics and attributes, after the OpenTelemetry-to-Prometheus compatibility
/// specification and the Prometheus `otlptranslator` that the Collector's exporters use.
enum PrometheusNaming {
    /// The kinds of OTLP metric that name differently.
    enum Kind {
        case gauge
        case monotonicCounter
        case nonMonotonicCounter
        case histogram
        case summary
    }

    // MARK: Metric names

    /// UCUM units to Prometheus base-unit words.
    private static let units: [String: String] = [
        "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
        "ns": "nanoseconds",
        "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tebibytes",
        "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
        "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
        "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
    ]

    /// UCUM units after a `/`, in the singular of `bytes_per_second`.
    private static let perUnits: [String: String] = [
        "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year",
    ]

    /// The Prometheus name of a metric, or "" when no character of it is valid in one.
    ///
    /// Characters other than ASCII letters, digits and `:` separate words, so runs of them and of `_` become one
    /// `_`; with suffixes, the unit's words follow (unless the name already has them), then `total` for counters
    /// and `ratio` for gauges of unit `1`; a leading digit gets a `_` before it.
    static func metricName(_ name: String, unit: String, kind: Kind, addSuffixes: Bool) -> String {
        var words = name.unicodeScalars.split { !isMetricNameCharacter($0) }.map {
            String(String.UnicodeScalarView($0))
        }
        if addSuffixes {
            let (main, per) = unitSuffixes(unit)
            var mainWord = cleanUnit(main)
            var perWord = cleanUnit(per)
            if words.contains(mainWord) { mainWord = "" }
            if perWord == "per_" {
                perWord = ""
            } else {
                if perWord.hasSuffix("_") { perWord.removeLast() }
                if words.contains(perWord) { perWord = "" }
            }
            if !perWord.isEmpty && mainWord.hasSuffix("_") { mainWord.removeLast() }
            if !mainWord.isEmpty { words.append(mainWord) }
            if !perWord.isEmpty { words.append(perWord) }
            if kind == .monotonicCounter {
                words.removeAll { $0 == "total" }
                words.append("total")
            }
            if unit == "1" && kind == .gauge {
                words.removeAll { $0 == "ratio" }
                words.append("ratio")
            }
        }
        var result = words.joined(separator: "_")
        if let first = result.utf8.first, first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") {
            result = "_" + result
        }
        return result
    }

    /// The Prometheus unit of a UCUM unit (`seconds`, `bytes_per_second`), for metadata; "" for none.
    static func unitName(_ unit: String) -> String {
        let (main, per) = unitSuffixes(unit)
        let mainWord = cleanUnit(main)
        let perWord = cleanUnit(per)
        var name =
            !mainWord.isEmpty && !perWord.isEmpty ? mainWord + "_" + perWord : mainWord.isEmpty ? perWord : mainWord
        while name.hasPrefix("_") { name.removeFirst() }
        while name.hasSuffix("_") { name.removeLast() }
        return name
    }

    /// The words of a unit before and after its `/`, with annotations in braces (`{request}`) dropped.
    private static func unitSuffixes(_ unit: String) -> (main: String, per: String) {
        let parts = unit.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var main = ""
        var per = ""
        if let first = parts.first {
            let text = first.trimmingWhitespace()
            if !text.isEmpty && !text.contains(where: { $0 == "{" || $0 == "}" }) { main = units[text] ?? text }
        }
        if parts.count > 1 {
            let text = parts[1].trimmingWhitespace()
            if !text.isEmpty && !text.contains(where: { $0 == "{" || $0 == "}" }) {
                per = "per_" + (perUnits[text] ?? text)
            }
        }
        return (main, per)
    }

    /// A unit word with invalid characters as single `_`, and no leading `_`.
    private static func cleanUnit(_ unit: String) -> String {
        var result = ""
        var lastWasUnderscore = false
        for scalar in unit.unicodeScalars {
            if isMetricNameCharacter(scalar) {
                result.unicodeScalars.append(scalar)
                lastWasUnderscore = false
            } else if !lastWasUnderscore {
                result.append("_")
                lastWasUnderscore = true
            }
        }
        while result.hasPrefix("_") { result.removeFirst() }
        return result
    }

    private static func isMetricNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ":": true
        default: false
        }
    }

    // MARK: Label names

    /// The Prometheus label name of an attribute key: invalid characters become `_`, a leading digit gets `key_`
    /// before it and a single leading `_` gets `key`; nil when the key is empty or only underscores remain.
    static func labelName(_ key: String) -> String? {
        var name = ""
        name.unicodeScalars.reserveCapacity(key.unicodeScalars.count)
        for scalar in key.unicodeScalars {
            if PrometheusLabelName.isContinuation(scalar) {
                name.unicodeScalars.append(scalar)
            } else {
                name.append("_")
            }
        }
        guard let first = name.utf8.first else { return nil }
        // Only a digit can follow but not start a name.
        if !PrometheusLabelName.isStart(first) {
            name = "key_" + name
        } else if name.hasPrefix("_") && !name.hasPrefix("__") {
            name = "key" + name
        }
        return name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") }) ? nil : name
    }

    // MARK: Values

    /// A float as Go's `strconv.FormatFloat(value, 'f', -1, 64)` writes it (`0.005`, `10`, `+Inf`), for `le` and
    /// `quantile` labels.
    static func formatFloat(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        // Swift's description has the shortest digits that read back; only their layout changes here.
        var text = Substring(value.description)
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        var exponent = 0
        if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: marker)...]) ?? 0
            text = text[..<marker]
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var digits = Array(parts[0].utf8) + (parts.count > 1 ? Array(parts[1].utf8) : [])
        var point = parts[0].utf8.count + exponent
        while digits.count > 1 && digits.first == UInt8(ascii: "0") && point > 1 {
            digits.removeFirst()
            point -= 1
        }
        let zero = UInt8(ascii: "0")
        var integer: [UInt8]
        var fraction: [UInt8]
        if point <= 0 {
            integer = [zero]
            fraction = Array(repeating: zero, count: -point) + digits
        } else if point >= digits.count {
            integer = digits + Array(repeating: zero, count: point - digits.count)
            fraction = []
        } else {
            integer = Array(digits[..<point])
            fraction = Array(digits[point...])
        }
        while fraction.last == zero { fraction.removeLast() }
        while integer.count > 1 && integer.first == zero { integer.removeFirst() }
        var result = negative ? "-" : ""
        result += String(decoding: integer, as: UTF8.self)
        if !fraction.isEmpty { result += "." + String(decoding: fraction, as: UTF8.self) }
        return result
    }

    /// An attribute value as a label value, as the Collector's `pcommon.Value.AsString` writes it: strings as they
    /// are, numbers in decimal (exponent form below 1e-6 and from 1e21), bytes in base64, arrays and maps as JSON.
    static func labelValue(_ value: AnyValue) -> String {
        switch value {
        case .null: return ""
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .double(let number): return javaScriptNumber(number)
        case .bytes(let bytes): return Base64.encode(bytes)
        case .array, .object:
            var writer = JSONWriter()
            writeJSON(value, to: &writer)
            return String(decoding: writer.bytes, as: UTF8.self)
        }
    }

    private static func javaScriptNumber(_ number: Double) -> String {
        let magnitude = number.magnitude
        guard number.isFinite, magnitude != 0, magnitude < 1e-6 || magnitude >= 1e21 else {
            return formatFloat(number)
        }
        // Swift writes "1e-07" where JavaScript writes "1e-7".
        var text = number.description
        if let minus = text.range(of: "e-0") { text.replaceSubrange(minus, with: "e-") }
        return text
    }

    private static func writeJSON(_ value: AnyValue, to writer: inout JSONWriter) {
        switch value {
        case .null: writer.null()
        case .bool(let flag): writer.bool(flag)
        case .int(let number): writer.int(number)
        case .double(let number): writer.double(number)
        case .string(let text): writer.string(text)
        case .bytes(let bytes): writer.string(Base64.encode(bytes))
        case .array(let values):
            writer.beginArray()
            for element in values { writeJSON(element, to: &writer) }
            writer.endArray()
        case .object(let fields):
            writer.beginObject()
            for (key, field) in fields.sorted(by: { $0.key < $1.key }) {
                writer.key(key)
                writeJSON(field, to: &writer)
            }
            writer.endObject()
        }
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
