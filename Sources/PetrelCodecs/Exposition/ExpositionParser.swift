import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a Prometheus text (0.0.4) or OpenMetrics 1.0 exposition into one metric batch, a series per sample line.
///
/// The body becomes the batch's arena: metric names, label names and unescaped label values point at the bytes the
/// target wrote; only escaped values (and the one `__name__`) are appended. Histograms and summaries arrive as the
/// series Prometheus makes of them (`_bucket{le=…}`, `_sum`, `_count`, quantiles), typed by their `# TYPE`.
/// Exemplars are read past, not kept.
public struct ExpositionParser: Sendable {
    public var format: ExpositionFormat
    /// The time given to samples that carry none, or whose own is not honoured: the scrape's, in milliseconds.
    public var defaultTimestamp: Int64
    /// Whether a timestamp written in the exposition is kept (Prometheus' `honor_timestamps`).
    public var honorTimestamps: Bool

    public init(format: ExpositionFormat, defaultTimestamp: Int64, honorTimestamps: Bool = true) {
        self.format = format
        self.defaultTimestamp = defaultTimestamp
        self.honorTimestamps = honorTimestamps
    }

    /// Prometheus' NaN (Go's `math.NaN()`), told apart from the stale marker by its bits.
    public static let nanBits: UInt64 = 0x7ff8_0000_0000_0001
    /// Prometheus' staleness marker: a NaN that says the series ended.
    public static let staleNaNBits: UInt64 = 0x7ff0_0000_0000_0002

    /// Parses a whole body; the batch keeps the body as its arena.
    public func parse(_ body: consuming [UInt8]) throws(ExpositionParseError) -> MetricBatch {
        var arena = body
        guard arena.count < Int(UInt32.max) - (1 << 24) else {
            throw ExpositionParseError.bodyTooLarge.at(line: 0, "\(arena.count) bytes")
        }
        let parsing: ExpositionParsing = try Self.withBytes(arena) { (input) throws(ExpositionParseError) in
            var parsing = ExpositionParsing(input: input, parser: self)
            try parsing.parseAll()
            return parsing
        }
        arena.append(contentsOf: parsing.extra)
        var batch = MetricBatch(arena: arena)
        batch.labels = parsing.labels
        batch.series = parsing.series
        batch.samples = parsing.samples
        return batch
    }

    // withUnsafeBytes is rethrows, which erases typed throws; this keeps ExpositionParseError in the signature.
    private static func withBytes<R>(
        _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ExpositionParseError) -> R
    ) throws(ExpositionParseError) -> R {
        let result: Result<R, ExpositionParseError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(ExpositionParseError) in try body(buffer) }
        }
        return try result.get()
    }
}

/// The state of one parse: where it is in the body and what it has built so far.
struct ExpositionParsing {
    let input: UnsafeRawBufferPointer
    let format: ExpositionFormat
    let defaultTimestamp: Int64
    let honorTimestamps: Bool

    /// Bytes that follow the body in the arena: `__name__`, then unescaped label values.
    var extra: [UInt8] = Array("__name__".utf8)
    var labels: [LabelRef] = []
    var series: [Series] = []
    var samples: [Sample] = []

    /// The family of the last `# TYPE` line and its type, which the samples that follow it take.
    private var familyStart = 0
    private var familyLength = 0
    private var familyType = MetricType.unknown
    private var sawEOF = false
    private var line = 0

    private static let nameLabelLength: UInt32 = 8
    private var nameLabelOffset: UInt32 { UInt32(input.count) }

    init(input: UnsafeRawBufferPointer, parser: ExpositionParser) {
        self.input = input
        self.format = parser.format
        self.defaultTimestamp = parser.defaultTimestamp
        self.honorTimestamps = parser.honorTimestamps
        // About one series per 60 bytes of a typical exposition, so the arrays rarely grow more than once.
        let estimate = input.count / 60 + 16
        series.reserveCapacity(estimate)
        samples.reserveCapacity(estimate)
        labels.reserveCapacity(estimate * 4)
    }

    mutating func parseAll() throws(ExpositionParseError) {
        var position = 0
        let count = input.count
        while position < count {
            line += 1
            var end = position
            if let found = memchr(input.baseAddress! + position, 0x0A, count - position) {
                end = input.baseAddress!.distance(to: UnsafeRawPointer(found))
            } else {
                end = count
            }
            var lineEnd = end
            if lineEnd > position && input[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if sawEOF {
                throw ExpositionParseError.textAfterEOF.at(line: line, quote(position, end))
            }
            try parseLine(position, lineEnd)
            position = end + 1
        }
        if format == .openMetrics && !sawEOF {
            throw ExpositionParseError.missingEOF.at(line: line, "the body ends without it")
        }
    }

    // MARK: Lines

    private mutating func parseLine(_ start: Int, _ end: Int) throws(ExpositionParseError) {
        var position = skipBlanks(start, end)
        guard position < end else { return }
        if input[position] == UInt8(ascii: "#") {
            try parseComment(position + 1, end)
            return
        }
        // The metric name.
        let nameStart = position
        guard Self.isMetricNameStart(input[position]) else {
            throw ExpositionParseError.invalidMetricName.at(line: line, quote(start, end))
        }
        position += 1
        while position < end && Self.isMetricNameContinuation(input[position]) { position += 1 }
        let nameLength = position - nameStart
        let labelStart = labels.count
        labels.append(
            LabelRef(
                nameOffset: nameLabelOffset, nameLength: Self.nameLabelLength, valueOffset: UInt32(nameStart),
                valueLength: UInt32(nameLength)))
        position = skipBlanks(position, end)
        if position < end && input[position] == UInt8(ascii: "{") {
            position = try parseLabels(position + 1, end, lineStart: start)
        }
        try sortAndCheckLabels(from: labelStart, lineStart: start, lineEnd: end)
        // The value.
        position = skipBlanks(position, end)
        let valueStart = position
        while position < end && !Self.isBlank(input[position]) { position += 1 }
        guard let value = parseDouble(valueStart, position) else {
            throw ExpositionParseError.invalidValue.at(line: line, quote(valueStart, position))
        }
        // The timestamp, and in OpenMetrics an exemplar after `#`.
        var timestamp = defaultTimestamp
        position = skipBlanks(position, end)
        if position < end && input[position] != UInt8(ascii: "#") {
            let timestampStart = position
            while position < end && !Self.isBlank(input[position]) { position += 1 }
            guard let written = parseTimestamp(timestampStart, position) else {
                throw ExpositionParseError.invalidTimestamp.at(line: line, quote(timestampStart, position))
            }
            if honorTimestamps { timestamp = written }
            position = skipBlanks(position, end)
        }
        if position < end {
            guard format == .openMetrics && input[position] == UInt8(ascii: "#") else {
                throw ExpositionParseError.unexpectedText.at(line: line, quote(position, end))
            }
        }
        samples.append(Sample(timestamp: timestamp, value: value))
        series.append(
            Series(
                labelStart: UInt32(labelStart), labelCount: UInt32(labels.count - labelStart),
                sampleStart: UInt32(samples.count - 1), sampleCount: 1, type: type(ofName: nameStart, nameLength)))
    }

    /// `# HELP`, `# TYPE`, `# UNIT`, `# EOF`; any other comment is skipped, as Prometheus skips it.
    private mutating func parseComment(_ start: Int, _ end: Int) throws(ExpositionParseError) {
        var position = skipBlanks(start, end)
        let wordStart = position
        while position < end && !Self.isBlank(input[position]) { position += 1 }
        let word = UnsafeRawBufferPointer(rebasing: input[wordStart..<position])
        if format == .openMetrics && Self.equals(word, "EOF") && skipBlanks(position, end) == end {
            sawEOF = true
            return
        }
        guard Self.equals(word, "TYPE") else { return }
        position = skipBlanks(position, end)
        let nameStart = position
        while position < end && Self.isMetricNameContinuation(input[position]) { position += 1 }
        guard position > nameStart, Self.isMetricNameStart(input[nameStart]) else {
            throw ExpositionParseError.invalidMetricName.at(line: line, quote(start - 1, end))
        }
        let nameEnd = position
        position = skipBlanks(position, end)
        let typeStart = position
        while position < end && !Self.isBlank(input[position]) { position += 1 }
        let typeWord = UnsafeRawBufferPointer(rebasing: input[typeStart..<position])
        guard skipBlanks(position, end) == end, let type = metricType(typeWord) else {
            throw ExpositionParseError.invalidType.at(line: line, quote(typeStart, end))
        }
        familyStart = nameStart
        familyLength = nameEnd - nameStart
        familyType = type
    }

    private static let textTypes: [(String, MetricType)] = [
        ("counter", .counter), ("gauge", .gauge), ("histogram", .histogram), ("summary", .summary),
        ("untyped", .unknown),
    ]
    private static let openMetricsTypes: [(String, MetricType)] = [
        ("counter", .counter), ("gauge", .gauge), ("histogram", .histogram), ("summary", .summary),
        ("unknown", .unknown), ("gaugehistogram", .gaugeHistogram), ("info", .info), ("stateset", .stateset),
    ]
    /// The suffixes of a family's series: histogram and summary parts, OpenMetrics' counters and infos.
    private static let familySuffixes = [
        "_bucket", "_sum", "_count", "_total", "_created", "_info", "_gcount", "_gsum",
    ]

    private func metricType(_ word: UnsafeRawBufferPointer) -> MetricType? {
        let types = format == .prometheusText ? Self.textTypes : Self.openMetricsTypes
        return types.first { Self.equals(word, $0.0) }?.1
    }

    /// The type of the last `# TYPE` family when the sample belongs to it: its name, or its name and a suffix.
    private func type(ofName start: Int, _ length: Int) -> MetricType {
        guard familyLength > 0, length >= familyLength,
            memcmp(input.baseAddress! + start, input.baseAddress! + familyStart, familyLength) == 0
        else { return .unknown }
        if length == familyLength { return familyType }
        let suffix = UnsafeRawBufferPointer(rebasing: input[(start + familyLength)..<(start + length)])
        for known in Self.familySuffixes where Self.equals(suffix, known) {
            return familyType
        }
        return .unknown
    }

    // MARK: Labels

    /// Reads `name="value",...}` from just after the `{`; returns the position after the `}`.
    private mutating func parseLabels(_ start: Int, _ end: Int, lineStart: Int) throws(ExpositionParseError) -> Int {
        var position = start
        while true {
            position = skipBlanks(position, end)
            guard position < end else {
                throw ExpositionParseError.invalidLabelSyntax.at(line: line, "no closing } in " + quote(lineStart, end))
            }
            if input[position] == UInt8(ascii: "}") { return position + 1 }
            let nameStart = position
            guard PrometheusLabelName.isStart(input[position]) else {
                throw ExpositionParseError.invalidLabelName.at(line: line, quote(position, end))
            }
            position += 1
            while position < end && PrometheusLabelName.isContinuation(input[position]) { position += 1 }
            let nameEnd = position
            position = skipBlanks(position, end)
            guard position < end, input[position] == UInt8(ascii: "=") else {
                throw ExpositionParseError.invalidLabelSyntax.at(
                    line: line, "expected = after label name " + quote(nameStart, nameEnd))
            }
            position = skipBlanks(position + 1, end)
            guard position < end, input[position] == UInt8(ascii: "\"") else {
                throw ExpositionParseError.invalidLabelSyntax.at(
                    line: line, "expected \" to open the value of label " + quote(nameStart, nameEnd))
            }
            position += 1
            let valueStart = position
            var escaped = false
            var highBytes = false
            while position < end && input[position] != UInt8(ascii: "\"") {
                let byte = input[position]
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    position += 1
                } else if byte >= 0x80 {
                    highBytes = true
                }
                position += 1
            }
            guard position < end else {
                throw ExpositionParseError.invalidLabelSyntax.at(
                    line: line, "unterminated value of label " + quote(nameStart, nameEnd))
            }
            let valueEnd = position
            position += 1
            if highBytes && !Self.isValidUTF8(UnsafeRawBufferPointer(rebasing: input[valueStart..<valueEnd])) {
                throw ExpositionParseError.invalidLabelValue.at(
                    line: line, "the value of label \(quote(nameStart, nameEnd)) is not valid UTF-8")
            }
            // An empty value is no label, as in Prometheus.
            if valueEnd > valueStart {
                var label = LabelRef(
                    nameOffset: UInt32(nameStart), nameLength: UInt32(nameEnd - nameStart),
                    valueOffset: UInt32(valueStart), valueLength: UInt32(valueEnd - valueStart))
                if escaped {
                    let offset = input.count + extra.count
                    unescape(valueStart, valueEnd)
                    label.valueOffset = UInt32(offset)
                    label.valueLength = UInt32(input.count + extra.count - offset)
                }
                labels.append(label)
            }
            position = skipBlanks(position, end)
            guard position < end else {
                throw ExpositionParseError.invalidLabelSyntax.at(line: line, "no closing } in " + quote(lineStart, end))
            }
            if input[position] == UInt8(ascii: ",") {
                position += 1
            } else if input[position] != UInt8(ascii: "}") {
                throw ExpositionParseError.invalidLabelSyntax.at(
                    line: line, "expected , or } after the value of label " + quote(nameStart, nameEnd))
            }
        }
    }

    /// `\\`, `\"` and `\n` become what they stand for; any other escape stays as written, as in Prometheus.
    private mutating func unescape(_ start: Int, _ end: Int) {
        var position = start
        while position < end {
            let byte = input[position]
            if byte == UInt8(ascii: "\\") && position + 1 < end {
                let next = input[position + 1]
                switch next {
                case UInt8(ascii: "\\"), UInt8(ascii: "\""): extra.append(next)
                case UInt8(ascii: "n"): extra.append(0x0A)
                default:
                    extra.append(byte)
                    extra.append(next)
                }
                position += 2
            } else {
                extra.append(byte)
                position += 1
            }
        }
    }

    /// Sorts the labels from `start` by name (exporters usually write them sorted, so this is one pass) and rejects
    /// a name written twice.
    private mutating func sortAndCheckLabels(from start: Int, lineStart: Int, lineEnd: Int)
        throws(ExpositionParseError)
    {
        let end = labels.count
        guard end - start > 1 else { return }
        let input = input
        let nameLabelOffset = nameLabelOffset
        for index in (start + 1)..<end {
            let moving = labels[index]
            var slot = index
            while slot > start
                && Self.compareNames(input, nameLabelOffset: nameLabelOffset, labels[slot - 1], moving) > 0
            {
                labels[slot] = labels[slot - 1]
                slot -= 1
            }
            labels[slot] = moving
        }
        for index in (start + 1)..<end
        where Self.compareNames(input, nameLabelOffset: nameLabelOffset, labels[index - 1], labels[index]) == 0 {
            let label = labels[index]
            throw ExpositionParseError.duplicateLabelName.at(
                line: line,
                quote(Int(label.nameOffset), Int(label.nameOffset + label.nameLength)) + " in "
                    + quote(lineStart, lineEnd))
        }
    }

    /// Name order of two labels; every name is in the body but `__name__`, which is in `extra`.
    ///
    /// Static, over the input alone: a method on `self` called from the mutating sort made Swift copy the whole
    /// parser (four arrays retained and released) for every comparison, 15 % of a scrape's CPU.
    private static func compareNames(
        _ input: UnsafeRawBufferPointer, nameLabelOffset: UInt32, _ left: LabelRef, _ right: LabelRef
    ) -> Int {
        let nameLabel: StaticString = "__name__"
        let name = UnsafeRawBufferPointer(start: nameLabel.utf8Start, count: nameLabel.utf8CodeUnitCount)
        let left =
            left.nameOffset == nameLabelOffset
            ? name
            : UnsafeRawBufferPointer(rebasing: input[Int(left.nameOffset)..<Int(left.nameOffset + left.nameLength)])
        let right =
            right.nameOffset == nameLabelOffset
            ? name
            : UnsafeRawBufferPointer(rebasing: input[Int(right.nameOffset)..<Int(right.nameOffset + right.nameLength)])
        let order = memcmp(left.baseAddress!, right.baseAddress!, min(left.count, right.count))
        return order != 0 ? Int(order) : left.count - right.count
    }

    // MARK: Numbers

    /// A sample value as Go's `strconv.ParseFloat` reads it (`NaN`, `+Inf`, exponents, hex); plain integers
    /// take a fast path.
    private func parseDouble(_ start: Int, _ end: Int) -> Double? {
        guard end > start else { return nil }
        if let integer = parseInteger(start, end), integer.magnitude < (1 << 53) {
            return Double(integer)
        }
        let count = end - start
        guard count < 256 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { text -> Double? in
            for index in 0..<count { text[index] = CChar(bitPattern: input[start + index]) }
            text[count] = 0
            // strtod also reads `nan(...)` and leading blanks, which Go does not; neither can reach here.
            if text[0] == CChar(UInt8(ascii: "n")) || text[0] == CChar(UInt8(ascii: "N")) {
                guard count == 3 else { return nil }
            }
            var stop: UnsafeMutablePointer<CChar>?
            let value = strtod(text.baseAddress!, &stop)
            guard stop == text.baseAddress! + count else { return nil }
            return value.isNaN ? Double(bitPattern: ExpositionParser.nanBits) : value
        }
    }

    /// A whole number of milliseconds (text format) or a number of seconds (OpenMetrics), as milliseconds.
    private func parseTimestamp(_ start: Int, _ end: Int) -> Int64? {
        switch format {
        case .prometheusText:
            return parseInteger(start, end)
        case .openMetrics:
            if let seconds = parseInteger(start, end), seconds.magnitude < Int64.max / 1000 { return seconds * 1000 }
            guard let seconds = parseDouble(start, end), seconds.isFinite, seconds.magnitude < 9e15 else {
                return nil
            }
            return Int64((seconds * 1000).rounded())
        }
    }

    /// An optionally signed run of ASCII digits that fits an `Int64`.
    private func parseInteger(_ start: Int, _ end: Int) -> Int64? {
        var position = start
        var negative = false
        if position < end && (input[position] == UInt8(ascii: "-") || input[position] == UInt8(ascii: "+")) {
            negative = input[position] == UInt8(ascii: "-")
            position += 1
        }
        guard position < end, end - position <= 18 else { return nil }
        var value: Int64 = 0
        while position < end {
            let digit = input[position] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
            position += 1
        }
        return negative ? -value : value
    }

    // MARK: Bytes

    @inline(__always)
    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    @inline(__always)
    private func skipBlanks(_ start: Int, _ end: Int) -> Int {
        var position = start
        while position < end && Self.isBlank(input[position]) { position += 1 }
        return position
    }

    @inline(__always)
    private static func isMetricNameStart(_ byte: UInt8) -> Bool {
        PrometheusLabelName.isStart(byte) || byte == UInt8(ascii: ":")
    }

    @inline(__always)
    private static func isMetricNameContinuation(_ byte: UInt8) -> Bool {
        PrometheusLabelName.isContinuation(byte) || byte == UInt8(ascii: ":")
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ word: String) -> Bool {
        bytes.elementsEqual(word.utf8)
    }

    private static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// Up to 80 bytes of the input, quoted, for an error message (cold path).
    @inline(never)
    private func quote(_ start: Int, _ end: Int) -> String {
        let cut = min(end, start + 80)
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: input[start..<max(start, cut)]), as: UTF8.self)
        return "\"" + text + (cut < end ? "…" : "") + "\""
    }
}
