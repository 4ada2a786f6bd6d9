import PetrelCodecs
import PetrelCore
import Testing

@Suite struct ExpositionParserTests {
    static let scrapeTime: Int64 = 1_700_000_000_000

    /// A node-exporter-like exposition: help, types, escapes, a histogram, a summary, special values, timestamps.
    static let text = """
        # HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
        # TYPE node_cpu_seconds_total counter
        node_cpu_seconds_total{cpu="0",mode="idle"} 12345.67
        node_cpu_seconds_total{mode="user",cpu="0"} 89
        # TYPE http_request_duration_seconds histogram
        http_request_duration_seconds_bucket{le="0.1"} 3
        http_request_duration_seconds_bucket{le="+Inf"} 5
        http_request_duration_seconds_sum 1.5e-1
        http_request_duration_seconds_count 5
        # TYPE rpc_seconds summary
        rpc_seconds{quantile="0.99"} NaN
        rpc_seconds_sum +Inf
        rpc_seconds_count -Inf
        escaped{path="C:\\\\dir\\"x\\"\\nend",Zone="a"} 1 1699999999000
        untyped_metric 42
        with_trailing_comma{a="1",} 2\t 17

        """

    static func parse(_ text: String, format: ExpositionFormat = .prometheusText, honorTimestamps: Bool = true)
        throws(ExpositionParseError) -> MetricBatch
    {
        try ExpositionParser(format: format, defaultTimestamp: scrapeTime, honorTimestamps: honorTimestamps)
            .parse(Array(text.utf8))
    }

    static func describe(_ batch: MetricBatch) -> [String] {
        batch.series.indices.map { index in
            let labels = batch.labelPairs(of: index).map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            let sample = batch.samples(of: index).first!
            return "\(labels) \(sample.value) @\(sample.timestamp) \(batch.series[index].type)"
        }
    }

    @Test func readsTheTextFormat() throws {
        let batch = try Self.parse(Self.text)
        let now = Self.scrapeTime
        #expect(
            Self.describe(batch) == [
                "__name__=node_cpu_seconds_total,cpu=0,mode=idle 12345.67 @\(now) counter",
                "__name__=node_cpu_seconds_total,cpu=0,mode=user 89.0 @\(now) counter",
                "__name__=http_request_duration_seconds_bucket,le=0.1 3.0 @\(now) histogram",
                "__name__=http_request_duration_seconds_bucket,le=+Inf 5.0 @\(now) histogram",
                "__name__=http_request_duration_seconds_sum 0.15 @\(now) histogram",
                "__name__=http_request_duration_seconds_count 5.0 @\(now) histogram",
                "__name__=rpc_seconds,quantile=0.99 nan(0x1) @\(now) summary",
                "__name__=rpc_seconds_sum inf @\(now) summary",
                "__name__=rpc_seconds_count -inf @\(now) summary",
                // Labels sorted by bytes: upper case before `_`.
                "Zone=a,__name__=escaped,path=C:\\dir\"x\"\nend 1.0 @1699999999000 unknown",
                "__name__=untyped_metric 42.0 @\(now) unknown",
                "__name__=with_trailing_comma,a=1 2.0 @17 unknown",
            ])
        // NaN is Prometheus' own NaN, not the stale marker.
        #expect(batch.samples[6].value.bitPattern == ExpositionParser.nanBits)
    }

    @Test func timestampsAreDroppedUnlessHonoured() throws {
        let batch = try Self.parse("a 1 1234\n", honorTimestamps: false)
        #expect(batch.samples == [Sample(timestamp: Self.scrapeTime, value: 1)])
    }

    @Test func readsOpenMetrics() throws {
        let text = """
            # TYPE requests counter
            # HELP requests Requests served.
            requests_total{code="200"} 10 1700000000.5 # {trace_id="abc"} 1 1700000000.1
            requests_created{code="200"} 1699990000
            # TYPE build info
            build_info{version="1.2"} 1
            # UNIT latency_seconds seconds
            # TYPE latency_seconds gaugehistogram
            latency_seconds_bucket{le="1"} 2
            latency_seconds_gcount 2
            # EOF

            """
        let batch = try Self.parse(text, format: .openMetrics)
        let now = Self.scrapeTime
        #expect(
            Self.describe(batch) == [
                "__name__=requests_total,code=200 10.0 @1700000000500 counter",
                "__name__=requests_created,code=200 1699990000.0 @\(now) counter",
                "__name__=build_info,version=1.2 1.0 @\(now) info",
                "__name__=latency_seconds_bucket,le=1 2.0 @\(now) gaugeHistogram",
                "__name__=latency_seconds_gcount 2.0 @\(now) gaugeHistogram",
            ])
    }

    @Test func openMetricsNeedsEOFAndNothingAfterIt() {
        #expect(throws: ExpositionParseError.missingEOF) { try Self.parse("a 1\n", format: .openMetrics) }
        #expect(throws: ExpositionParseError.textAfterEOF) { try Self.parse("# EOF\na 1\n", format: .openMetrics) }
    }

    @Test func formatIsToldByContentType() {
        #expect(
            ExpositionFormat(contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8") == .openMetrics)
        #expect(ExpositionFormat(contentType: "text/plain; version=0.0.4; charset=utf-8") == .prometheusText)
        #expect(ExpositionFormat(contentType: nil) == .prometheusText)
    }

    @Test func malformedLinesNameTheLineAndTheText() {
        let cases: [(String, ExpositionParseError, String)] = [
            ("ok 1\n9bad 1\n", .invalidMetricName, "line 2: invalid metric name: \"9bad 1\""),
            ("a{1x=\"v\"} 1\n", .invalidLabelName, #"line 1: invalid label name: "1x="v"} 1""#),
            ("a{x \"v\"} 1\n", .invalidLabelSyntax, "line 1: invalid label syntax: expected = after label name \"x\""),
            (
                "a{x=v} 1\n", .invalidLabelSyntax,
                "line 1: invalid label syntax: expected \" to open the value of label \"x\""
            ),
            ("a{x=\"v} 1\n", .invalidLabelSyntax, "line 1: invalid label syntax: unterminated value of label \"x\""),
            (
                "a{x=\"v\" y=\"w\"} 1\n", .invalidLabelSyntax,
                "line 1: invalid label syntax: expected , or } after the value of label \"x\""
            ),
            (
                "a{x=\"1\",x=\"2\"} 1\n", .duplicateLabelName,
                #"line 1: duplicate label name: "x" in "a{x="1",x="2"} 1""#
            ),
            ("a one\n", .invalidValue, "line 1: invalid sample value: \"one\""),
            ("a\n", .invalidValue, "line 1: invalid sample value: \"\""),
            ("a 1 12.5\n", .invalidTimestamp, "line 1: invalid timestamp: \"12.5\""),
            ("a 1 2 3\n", .unexpectedText, "line 1: unexpected text: \"3\""),
            ("# TYPE a countr\n", .invalidType, "line 1: invalid metric type: \"countr\""),
            ("a nan(1)\n", .invalidValue, "line 1: invalid sample value: \"nan(1)\""),
        ]
        for (text, expected, message) in cases {
            do {
                _ = try Self.parse(text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(error == expected, "\(text)")
                #expect(error.description == message)
            }
        }
        let invalidUTF8: [UInt8] = Array("a{x=\"".utf8) + [0xff, 0xfe] + Array("\"} 1\n".utf8)
        #expect(throws: ExpositionParseError.invalidLabelValue) {
            try ExpositionParser(format: .prometheusText, defaultTimestamp: 0).parse(invalidUTF8)
        }
    }

    /// Every prefix of a valid body, and every body with one byte changed, parses or throws: never traps or hangs.
    /// A prefix cut at a line's end parses to exactly the series of the lines before the cut.
    @Test func everyPrefixAndEveryByteChangeParsesOrThrows() throws {
        let bytes = Array(Self.text.utf8)
        let full = try Self.parse(Self.text)
        var completeLines = 0
        for length in 0...bytes.count {
            let prefix = Array(bytes[..<length])
            if length > 0 && bytes[length - 1] == 0x0A { completeLines += 1 }
            let result = Result { () throws(ExpositionParseError) in
                try ExpositionParser(format: .prometheusText, defaultTimestamp: Self.scrapeTime).parse(prefix)
            }
            switch result {
            case .success(let batch):
                #expect(batch.seriesCount <= full.seriesCount)
                if length > 0 && bytes[length - 1] == 0x0A {
                    #expect(Self.describe(batch) == Array(Self.describe(full).prefix(batch.seriesCount)))
                }
            case .failure(let error):
                #expect(error.line >= 1 && error.line <= completeLines + 1)
            }
        }
        for index in bytes.indices {
            for replacement: UInt8 in [0x00, 0x0A, 0x22, 0x7B, 0x7D, 0x5C, 0x20, 0xFF, 0x23] {
                var changed = bytes
                changed[index] = replacement
                _ = Result { () throws(ExpositionParseError) in
                    try ExpositionParser(format: .openMetrics, defaultTimestamp: 0).parse(changed)
                }
                _ = Result { () throws(ExpositionParseError) in
                    try ExpositionParser(format: .prometheusText, defaultTimestamp: 0).parse(changed)
                }
            }
        }
    }

    @Test func labelsPointIntoTheBody() throws {
        let body = Array("metric{a=\"plain\",b=\"es\\\"c\"} 1\n".utf8)
        let batch = try ExpositionParser(format: .prometheusText, defaultTimestamp: 0).parse(body)
        // The body is the arena's start; `__name__` and the one escaped value follow it.
        #expect(Array(batch.arena[..<body.count]) == body)
        #expect(batch.arena.count == body.count + "__name__".utf8.count + "es\"c".utf8.count)
        #expect(batch.labelPairs(of: 0).map(\.value) == ["metric", "plain", "es\"c"])
    }
}
