import Foundation
import PetrelCodecs
import PetrelCore
import Testing

/// The JSON lines the console sink prints: one line per sample, histogram sample, log record or span.
@Suite struct EventJSONEncoderTests {
    // MARK: Helpers

    /// The output split into lines; every line, the last included, must end with a newline.
    private func lines(_ bytes: [UInt8]) -> [String] {
        let text = String(decoding: bytes, as: UTF8.self)
        if !text.isEmpty { #expect(text.hasSuffix("\n"), "every line ends with a newline") }
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    private func encode(_ batch: EventBatch) -> [String] {
        var encoder = EventJSONEncoder()
        return lines(encoder.encode(batch))
    }

    /// Every line parsed by Foundation, which must accept each one as a JSON object.
    private func objects(_ batch: EventBatch) throws -> [[String: Any]] {
        try encode(batch).map { line in
            let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(parsed as? [String: Any], "not an object: \(line)")
        }
    }

    private func number(_ value: Any?) -> NSNumber? { value as? NSNumber }

    // MARK: Metrics

    private func metricBatch() -> MetricBatch {
        var batch = MetricBatch()
        batch.appendSeries(
            labels: [("job", "api"), ("__name__", "up")],
            samples: [Sample(timestamp: 1000, value: 1), Sample(timestamp: 2000, value: 0)], type: .gauge)
        batch.appendSeries(
            labels: [("__name__", "http_requests_total"), ("code", "200")],
            samples: [Sample(timestamp: -1500, value: 2.5)], type: .counter)
        return batch
    }

    @Test func oneLinePerSampleWithSortedLabels() {
        #expect(
            encode(.metrics(metricBatch())) == [
                #"{"kind":"metric","labels":{"__name__":"up","job":"api"},"timestamp":1000,"value":1.0}"#,
                #"{"kind":"metric","labels":{"__name__":"up","job":"api"},"timestamp":2000,"value":0.0}"#,
                #"{"kind":"metric","labels":{"__name__":"http_requests_total","code":"200"},"#
                    + #""timestamp":-1500,"value":2.5}"#,
            ])
    }

    @Test func metricLinesParseWithTheirValues() throws {
        let parsed = try objects(.metrics(metricBatch()))
        try #require(parsed.count == 3)
        #expect(parsed.map { $0["kind"] as? String } == ["metric", "metric", "metric"])
        #expect(parsed[0]["labels"] as? [String: String] == ["__name__": "up", "job": "api"])
        #expect(parsed[2]["labels"] as? [String: String] == ["__name__": "http_requests_total", "code": "200"])
        #expect(parsed.map { number($0["timestamp"])?.int64Value } == [1000, 2000, -1500])
        #expect(parsed.map { number($0["value"])?.doubleValue } == [1, 0, 2.5])
    }

    @Test(arguments: [0.1, -0.0, 1e-5, 123_456_789.125, 1.7976931348623157e308, Double.leastNonzeroMagnitude, -42])
    func finiteValuesReadBackExactly(value: Double) throws {
        var batch = MetricBatch()
        batch.appendSeries(labels: [("__name__", "x")], samples: [Sample(timestamp: 0, value: value)])
        let parsed = try objects(.metrics(batch))
        let read = try #require(number(parsed.first?["value"])).doubleValue
        #expect(read == value)
        #expect(read.sign == value.sign)
    }

    @Test func nonFiniteValuesAreStrings() throws {
        var batch = MetricBatch()
        for value in [Double.nan, .infinity, -.infinity] {
            batch.appendSeries(labels: [("__name__", "x")], samples: [Sample(timestamp: 0, value: value)])
        }
        let parsed = try objects(.metrics(batch))
        #expect(parsed.map { $0["value"] as? String } == ["NaN", "+Inf", "-Inf"])
    }

    @Test func labelValuesAreEscaped() throws {
        let awkward = "say \"hi\"\\ \n\ttab é 😀 \u{1}"
        var batch = MetricBatch()
        batch.appendSeries(labels: [("__name__", "x"), ("note", awkward)], samples: [Sample(timestamp: 0, value: 1)])
        #expect(encode(.metrics(batch)).count == 1, "a newline in a value does not break the line")
        let parsed = try objects(.metrics(batch))
        #expect((parsed.first?["labels"] as? [String: String])?["note"] == awkward)
    }

    @Test func invalidUTF8InALabelBecomesAReplacementCharacter() throws {
        var batch = MetricBatch()
        let name = batch.appendToArena("path")
        let value = [UInt8(ascii: "a"), 0xFF, UInt8(ascii: "b")].withUnsafeBytes { batch.appendToArena($0) }
        batch.labels.append(
            LabelRef(
                nameOffset: name.offset, nameLength: name.length, valueOffset: value.offset, valueLength: value.length))
        batch.samples.append(Sample(timestamp: 0, value: 1))
        batch.series.append(Series(labelStart: 0, labelCount: 1, sampleStart: 0, sampleCount: 1))
        let parsed = try objects(.metrics(batch))
        #expect((parsed.first?["labels"] as? [String: String])?["path"] == "a\u{FFFD}b")
    }

    @Test func histogramSamplesHaveTheirOwnLines() throws {
        var batch = MetricBatch()
        batch.appendSeries(labels: [("__name__", "latency_seconds")], samples: [Sample(timestamp: 5, value: 9)])
        var integer = NativeHistogram()
        integer.count = .int(12)
        integer.sum = 3.5
        integer.schema = 3
        integer.timestamp = 1000
        var float = NativeHistogram()
        float.count = .float(2.5)
        float.sum = -1
        float.schema = -4
        float.timestamp = 2000
        batch.histograms = [integer, float]
        batch.series[0].histogramStart = 0
        batch.series[0].histogramCount = 2
        #expect(
            encode(.metrics(batch)) == [
                #"{"kind":"metric","labels":{"__name__":"latency_seconds"},"timestamp":5,"value":9.0}"#,
                #"{"kind":"histogram","labels":{"__name__":"latency_seconds"},"#
                    + #""timestamp":1000,"count":12,"sum":3.5,"schema":3}"#,
                #"{"kind":"histogram","labels":{"__name__":"latency_seconds"},"#
                    + #""timestamp":2000,"count":2.5,"sum":-1.0,"schema":-4}"#,
            ])
        #expect(try objects(.metrics(batch)).count == 3)
    }

    @Test func emptyBatchesPrintNothing() {
        var noSamples = MetricBatch()
        noSamples.appendSeries(labels: [("__name__", "x")], samples: [])
        #expect(encode(.metrics(MetricBatch())) == [])
        #expect(encode(.metrics(noSamples)) == [])
        #expect(encode(.logs(LogBatch())) == [])
        #expect(encode(.traces(SpanBatch())) == [])
    }

    // MARK: Logs

    @Test func logRecordWithEverything() {
        let record = LogRecord(
            timestamp: 1_795_746_221_405_538_317, message: "GET /x 500", severity: "ERROR",
            fields: ["status": .int(500), "method": .string("GET")], metadata: ["source": "demo", "file": "a.log"],
            resource: [Attribute("service.name", .string("shop")), Attribute("k8s.pod.name", .string("p-1"))])
        #expect(
            encode(.logs(LogBatch(records: [record]))) == [
                #"{"kind":"log","timestamp":"2026-11-27T02:23:41.405538317Z","message":"GET /x 500","#
                    + #""severity":"ERROR","fields":{"method":"GET","status":500},"#
                    + #""metadata":{"file":"a.log","source":"demo"},"#
                    + #""resource":{"service.name":"shop","k8s.pod.name":"p-1"}}"#
            ])
    }

    @Test func emptyPartsOfALogRecordAreLeftOut() {
        #expect(
            encode(.logs(LogBatch(records: [LogRecord(timestamp: 0, message: "hi")]))) == [
                #"{"kind":"log","timestamp":"1970-01-01T00:00:00.000000000Z","message":"hi"}"#
            ])
    }

    @Test func oneLinePerRecordAndEachParses() throws {
        let records = (0..<5).map { LogRecord(timestamp: Int64($0) * 1_000_000_001, message: "line\n\($0)") }
        let parsed = try objects(.logs(LogBatch(records: records)))
        #expect(parsed.count == 5)
        #expect(parsed.map { $0["message"] as? String } == records.map(\.message))
        #expect(parsed[3]["timestamp"] as? String == "1970-01-01T00:00:03.000000003Z")
    }

    @Test func fieldValuesOfEveryType() throws {
        let record = LogRecord(
            timestamp: 0, message: "",
            fields: [
                "null": .null, "yes": .bool(true), "no": .bool(false), "min": .int(.min), "max": .int(.max),
                "ratio": .double(0.25), "nan": .double(.nan), "text": .string("é"), "raw": .bytes([0xDE, 0xAD, 0xBE]),
                "list": .array([.int(1), .string("two"), .array([]), .object([:])]),
                "nested": .object(["b": .int(2), "a": .object(["c": .bool(false)])]),
            ])
        let line = try #require(encode(.logs(LogBatch(records: [record]))).first)
        #expect(
            line.contains(
                #""fields":{"list":[1,"two",[],{}],"max":9223372036854775807,"min":-9223372036854775808,"nan":"NaN","#
                    + #""nested":{"a":{"c":false},"b":2},"no":false,"null":null,"ratio":0.25,"raw":"3q2+","#
                    + #""text":"é","yes":true}"#), "keys sorted, values typed: \(line)")
        let parsed = try #require(try objects(.logs(LogBatch(records: [record]))).first)
        let fields = try #require(parsed["fields"] as? [String: Any])
        #expect(fields["null"] is NSNull)
        #expect(number(fields["min"])?.int64Value == .min)
        #expect(number(fields["max"])?.int64Value == .max)
        #expect(number(fields["ratio"])?.doubleValue == 0.25)
        #expect(fields["raw"] as? String == "3q2+")
        #expect(fields["text"] as? String == "é")
        #expect((fields["nested"] as? [String: Any])?["b"] as? Int == 2)
    }

    // MARK: Timestamps

    static let instants: [(Int64, String)] = [
        (0, "1970-01-01T00:00:00.000000000Z"),
        (1, "1970-01-01T00:00:00.000000001Z"),
        (1_000_000_000, "1970-01-01T00:00:01.000000000Z"),
        (1_795_746_221_405_538_317, "2026-11-27T02:23:41.405538317Z"),
        (-1, "1969-12-31T23:59:59.999999999Z"),
        (-1_000_000_000, "1969-12-31T23:59:59.000000000Z"),
        (-86_400_000_000_001, "1969-12-30T23:59:59.999999999Z"),
        (-31_536_000_000_000_000, "1969-01-01T00:00:00.000000000Z"),
        (5_097_600_000_000_000, "1970-03-01T00:00:00.000000000Z"),
        (951_782_400_000_000_000, "2000-02-29T00:00:00.000000000Z"),
        (1_709_164_800_123_000_000, "2024-02-29T00:00:00.123000000Z"),
        (4_107_542_400_000_000_000, "2100-03-01T00:00:00.000000000Z"),
        (-8_515_238_401_000_000_000, "1700-02-28T23:59:59.000000000Z"),
        (-8_515_238_400_000_000_000, "1700-03-01T00:00:00.000000000Z"),
        (.min, "1677-09-21T00:12:43.145224192Z"),
        (.max, "2262-04-11T23:47:16.854775807Z"),
    ]

    @Test(arguments: instants)
    func rfc3339WithNanoseconds(nanoseconds: Int64, expected: String) throws {
        #expect(RFC3339.format(nanoseconds: nanoseconds) == expected)
        let parsed = try objects(.logs(LogBatch(records: [LogRecord(timestamp: nanoseconds, message: "")])))
        #expect(parsed.first?["timestamp"] as? String == expected)
    }

    @Test func rfc3339AgreesWithFoundationAcrossTheWholeRange() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        // Seconds from 1677 to 2262, in steps that land on every time of day and both sides of 1970.
        var seconds: Int64 = -9_223_372_036
        while seconds < 9_223_372_036 {
            let ours = RFC3339.format(nanoseconds: seconds * 1_000_000_000)
            let theirs = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            if String(ours.prefix(19)) != String(theirs.prefix(19)) {
                Issue.record("\(seconds) s: \(ours) but Foundation says \(theirs)")
                return
            }
            seconds += 7_777_777
        }
    }

    // MARK: Spans

    private let traceID = TraceID(high: 0x0123_4567_89ab_cdef, low: 0xfedc_ba98_7654_3210)
    private let start: UInt64 = 1_795_746_221_405_538_317

    private func spanBatch() -> SpanBatch {
        let root = Span(
            traceID: traceID, spanID: SpanID(0xa), name: "GET /orders", kind: .server, startTimeUnixNano: start,
            endTimeUnixNano: start + 50_000_000,
            attributes: [Attribute("http.route", .string("/orders")), Attribute("http.status_code", .int(500))],
            events: [
                SpanEvent(
                    timeUnixNano: start + 1, name: "exception",
                    attributes: [Attribute("exception.type", .string("Timeout"))])
            ],
            links: [SpanLink(traceID: TraceID(high: 0, low: 1), spanID: SpanID(2))],
            status: SpanStatus(code: .error, message: "timed out"))
        let child = Span(
            traceID: traceID, spanID: SpanID(0xb), parentSpanID: SpanID(0xa), name: "SELECT", kind: .client,
            startTimeUnixNano: start + 1_000_000, endTimeUnixNano: start + 1_800_000)
        let job = Span(
            traceID: TraceID(high: 0, low: 0xabc), spanID: SpanID(.max), name: "job", kind: .internal,
            startTimeUnixNano: 0, endTimeUnixNano: 0, status: SpanStatus(code: .ok))
        return SpanBatch(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [Attribute("service.name", .string("shop"))]),
                scopeSpans: [ScopeSpans(scope: InstrumentationScope(name: "shop.http"), spans: [root, child])]),
            ResourceSpans(scopeSpans: [ScopeSpans(spans: [job])]),
        ])
    }

    @Test func oneLinePerSpan() {
        #expect(
            encode(.traces(spanBatch())) == [
                #"{"kind":"span","trace_id":"0123456789abcdeffedcba9876543210","span_id":"000000000000000a","#
                    + #""name":"GET /orders","span_kind":"server","start_time":"2026-11-27T02:23:41.405538317Z","#
                    + #""duration_ns":50000000,"status":"error","#
                    + #""attributes":{"http.route":"/orders","http.status_code":500},"#
                    + #""events":[{"name":"exception","time":"2026-11-27T02:23:41.405538318Z","#
                    + #""attributes":{"exception.type":"Timeout"}}],"#
                    + #""links":[{"trace_id":"00000000000000000000000000000001","span_id":"0000000000000002"}],"#
                    + #""scope":"shop.http","resource":{"service.name":"shop"}}"#,
                #"{"kind":"span","trace_id":"0123456789abcdeffedcba9876543210","span_id":"000000000000000b","#
                    + #""parent_span_id":"000000000000000a","name":"SELECT","span_kind":"client","#
                    + #""start_time":"2026-11-27T02:23:41.406538317Z","duration_ns":800000,"status":"unset","#
                    + #""scope":"shop.http","resource":{"service.name":"shop"}}"#,
                #"{"kind":"span","trace_id":"00000000000000000000000000000abc","span_id":"ffffffffffffffff","#
                    + #""name":"job","span_kind":"internal","start_time":"1970-01-01T00:00:00.000000000Z","#
                    + #""duration_ns":0,"status":"ok","scope":"","resource":{}}"#,
            ])
    }

    @Test func spanLinesParseWithTheirValues() throws {
        let parsed = try objects(.traces(spanBatch()))
        try #require(parsed.count == 3)
        let root = parsed[0]
        let child = parsed[1]
        #expect(root["trace_id"] as? String == "0123456789abcdeffedcba9876543210")
        #expect(root["parent_span_id"] == nil, "a root span has no parent")
        #expect(child["parent_span_id"] as? String == root["span_id"] as? String)
        #expect(number(root["duration_ns"])?.uint64Value == 50_000_000)
        #expect(root["status"] as? String == "error")
        #expect(number((root["attributes"] as? [String: Any])?["http.status_code"])?.intValue == 500)
        let events = try #require(root["events"] as? [[String: Any]])
        #expect(events.count == 1)
        #expect(events.first?["name"] as? String == "exception")
        let links = try #require(root["links"] as? [[String: Any]])
        #expect(links.first?["span_id"] as? String == "0000000000000002")
        #expect(child["attributes"] == nil && child["events"] == nil && child["links"] == nil)
        #expect(parsed[2]["resource"] as? [String: String] == [:])
    }

    // MARK: Bytes

    static let rfc4648Vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ]

    @Test(arguments: rfc4648Vectors)
    func base64MatchesRFC4648(input: String, expected: String) throws {
        #expect(Base64.encode(Array(input.utf8)) == expected)
        let record = LogRecord(timestamp: 0, message: "", fields: ["data": .bytes(Array(input.utf8))])
        let fields = try #require(try objects(.logs(LogBatch(records: [record]))).first?["fields"] as? [String: Any])
        #expect(fields["data"] as? String == expected)
    }

    @Test func base64OfEveryByteValueMatchesFoundation() {
        let all = (0...255).map(UInt8.init)
        for length in [0, 1, 2, 3, 62, 63, 64, 255, 256] {
            let bytes = Array(all.prefix(length).reversed())
            #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString(), "\(length) bytes")
        }
    }

    @Test func bytesInSpanAttributesAreBase64() throws {
        let span = Span(
            traceID: TraceID(high: 0, low: 1), spanID: SpanID(1), name: "s", startTimeUnixNano: 0, endTimeUnixNano: 0,
            attributes: [Attribute("payload", .bytes([0, 0xFF, 0x10]))])
        let batch = SpanBatch(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [span])])])
        let attributes = try #require(try objects(.traces(batch)).first?["attributes"] as? [String: Any])
        #expect(attributes["payload"] as? String == "AP8Q")
    }

    // MARK: Reuse

    @Test func reusedEncoderPrintsOnlyTheLatestBatch() {
        var encoder = EventJSONEncoder()
        _ = encoder.encode(.traces(spanBatch()))
        let second = encoder.encode(.metrics(metricBatch()))
        var fresh = EventJSONEncoder()
        #expect(second == fresh.encode(.metrics(metricBatch())))
        #expect(lines(second).count == 3)
    }
}
