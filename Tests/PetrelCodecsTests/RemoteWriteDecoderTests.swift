import PetrelCodecs
import PetrelCore
import Testing

@Suite struct RemoteWriteDecoderTests {
    typealias Proto = RemoteWriteFixtures.Proto

    private let decoder = RemoteWriteDecoder()

    // MARK: Hand-written requests

    /// `WriteRequest{timeseries: [{labels: [{__name__, up}, {job, x}], samples: [{1.0, 1000}]}]}`, byte by byte.
    static let upV1: [UInt8] =
        [0x0A, 0x28]  // field 1 (timeseries), length-delimited, 40 bytes
        + [0x0A, 0x0E]  // field 1 (labels), 14 bytes
        + [0x0A, 0x08] + Array("__name__".utf8)  // Label.name
        + [0x12, 0x02] + Array("up".utf8)  // Label.value
        + [0x0A, 0x08]  // field 1 (labels), 8 bytes
        + [0x0A, 0x03] + Array("job".utf8)
        + [0x12, 0x01] + Array("x".utf8)
        + [0x12, 0x0C]  // field 2 (samples), 12 bytes
        + [0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F]  // Sample.value, fixed64: 1.0 little-endian
        + [0x10, 0xE8, 0x07]  // Sample.timestamp, varint: 1000

    /// The same series as a 2.0 `Request` with metadata type GAUGE, byte by byte.
    static let upV2: [UInt8] =
        [0x22, 0x00]  // field 4 (symbols): ""
        + [0x22, 0x08] + Array("__name__".utf8)  // 1
        + [0x22, 0x02] + Array("up".utf8)  // 2
        + [0x22, 0x03] + Array("job".utf8)  // 3
        + [0x22, 0x01] + Array("x".utf8)  // 4
        + [0x2A, 0x18]  // field 5 (timeseries), 24 bytes
        + [0x0A, 0x04, 0x01, 0x02, 0x03, 0x04]  // labels_refs, packed
        + [0x12, 0x0C, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F, 0x10, 0xE8, 0x07]  // one sample
        + [0x2A, 0x02, 0x08, 0x02]  // metadata{type: GAUGE}

    @Test func decodesHandWrittenV1Request() throws {
        let batch = try decoder.decodeV1(Self.upV1)
        #expect(batch.seriesCount == 1)
        #expect(batch.labelPairs(of: 0).map { "\($0.name)=\($0.value)" } == ["__name__=up", "job=x"])
        #expect(Array(batch.samples(of: 0)) == [Sample(timestamp: 1000, value: 1.0)])
        #expect(batch.series[0].type == .unknown)
        // Labels point into the request itself: the arena is the request, not a copy of its strings.
        #expect(batch.arena == Self.upV1)
        #expect(batch.labels[0].nameOffset == 6 && batch.labels[0].valueOffset == 16)
    }

    @Test func decodesHandWrittenV2Request() throws {
        let batch = try decoder.decodeV2(Self.upV2)
        #expect(batch.seriesCount == 1)
        #expect(batch.labelPairs(of: 0).map { "\($0.name)=\($0.value)" } == ["__name__=up", "job=x"])
        #expect(Array(batch.samples(of: 0)) == [Sample(timestamp: 1000, value: 1.0)])
        #expect(batch.series[0].type == .gauge)
        // Labels point at the symbols' bytes.
        #expect(batch.arena == Self.upV2)
        #expect(batch.labels[0].nameOffset == 4 && batch.labels[0].valueOffset == 14)
    }

    @Test func encoderWritesTheHandWrittenBytes() throws {
        var encoder = RemoteWriteEncoder()
        #expect(encoder.encodeV1(try decoder.decodeV1(Self.upV1)) == Self.upV1)
        #expect(encoder.encodeV2(try decoder.decodeV2(Self.upV2)) == Self.upV2)
    }

    @Test func emptyRequestsDecodeToEmptyBatches() throws {
        #expect(try decoder.decodeV1([]).seriesCount == 0)
        #expect(try decoder.decodeV2([]).seriesCount == 0)
    }

    @Test func decodesMetadata() throws {
        var request = Proto()
        request.message(3) {
            $0.varint(1, 1)
            $0.string(2, "http_requests_total")
            $0.string(4, "Requests served.")
            $0.string(5, "requests")
        }
        request.message(3) { $0.varint(1, 99) }  // an enum value this code does not know
        let batch = try decoder.decodeV1(request.bytes)
        #expect(
            batch.metadata == [
                MetricMetadata(
                    type: .counter, familyName: "http_requests_total", help: "Requests served.", unit: "requests"),
                MetricMetadata(type: .unknown, familyName: ""),
            ])
    }

    @Test func decodesEveryHistogramField() throws {
        var request = Proto()
        request.message(1) { series in
            RemoteWriteFixtures.v1Label("__name__", "h", into: &series)
            series.message(4) {
                $0.varint(1, 12)  // count_int
                $0.double(3, 5.5)  // sum
                $0.varint(4, Proto.zigZag(-2))  // schema, sint32
                $0.double(5, 0.001)  // zero_threshold
                $0.varint(6, 3)  // zero_count_int
                $0.message(8) {  // negative_spans
                    $0.varint(1, Proto.zigZag(-1))
                    $0.varint(2, 2)
                }
                $0.packedVarints(9, [Proto.zigZag(4), Proto.zigZag(-3)])  // negative_deltas, packed
                $0.message(11) { $0.varint(2, 1) }  // positive_spans
                $0.varint(12, Proto.zigZag(-9))  // positive_deltas, one unpacked element
                $0.varint(12, Proto.zigZag(2))  // and another
                $0.varint(14, 2)  // reset_hint NO
                $0.int64(15, -1000)  // timestamp
                $0.packedDoubles(16, [0.5, 1])  // custom_values
            }
            series.message(4) {
                $0.double(2, 7.5)  // count_float
                $0.double(7, 0.5)  // zero_count_float
                $0.packedDoubles(10, [1.5])  // negative_counts, packed
                $0.double(13, 2.5)  // positive_counts, unpacked
                $0.double(13, 3.5)
                $0.varint(14, 3)  // GAUGE
            }
        }
        let batch = try decoder.decodeV1(request.bytes)
        let histograms = Array(batch.histograms[batch.series[0].histogramRange])
        var integer = NativeHistogram()
        integer.count = .int(12)
        integer.sum = 5.5
        integer.schema = -2
        integer.zeroThreshold = 0.001
        integer.zeroCount = .int(3)
        integer.negativeSpans = [BucketSpan(offset: -1, length: 2)]
        integer.negativeDeltas = [4, -3]
        integer.positiveSpans = [BucketSpan(offset: 0, length: 1)]
        integer.positiveDeltas = [-9, 2]
        integer.resetHint = .no
        integer.timestamp = -1000
        integer.customValues = [0.5, 1]
        var float = NativeHistogram()
        float.count = .float(7.5)
        float.zeroCount = .float(0.5)
        float.negativeCounts = [1.5]
        float.positiveCounts = [2.5, 3.5]
        float.resetHint = .gauge
        #expect(histograms == [integer, float])
    }

    @Test func v2SymbolsMayFollowTheSeries() throws {
        let series: [(labels: [(String, String)], samples: [(Double, Int64)])] = [
            (labels: [("__name__", "a"), ("job", "x")], samples: [(1, 10)]),
            (labels: [("__name__", "b"), ("job", "x")], samples: [(2, 20), (3, 30)]),
        ]
        let first = try decoder.decodeV2(RemoteWriteFixtures.v2Request(series))
        let last = try decoder.decodeV2(RemoteWriteFixtures.v2Request(series, symbolsLast: true))
        let twin = try decoder.decodeV1(RemoteWriteFixtures.v1Request(series))
        #expect(RemoteWriteFixtures.snapshot(first) == RemoteWriteFixtures.snapshot(last))
        #expect(RemoteWriteFixtures.snapshot(first) == RemoteWriteFixtures.snapshot(twin))
    }

    @Test func v2AcceptsUnpackedRefsAndExemplarRefs() throws {
        let request = RemoteWriteFixtures.v2Request(symbols: ["", "__name__", "up", "trace_id", "abc"]) { series in
            series.varint(1, 1)
            series.varint(1, 2)
            series.message(4) {
                $0.packedVarints(1, [3])
                $0.varint(1, 4)  // the value ref of the same pair, unpacked
                $0.double(2, 0.5)
                $0.int64(3, 77)
            }
            series.message(5) {
                $0.varint(1, 1)
                $0.varint(3, 0)
                $0.varint(4, 2)
            }
        }
        let batch = try decoder.decodeV2(request)
        #expect(batch.labelPairs(of: 0).map(\.name) == ["__name__"])
        let exemplar = batch.exemplars[0]
        #expect(exemplar.value == 0.5 && exemplar.timestamp == 77 && exemplar.labelCount == 1)
        #expect(batch.name(batch.labels[Int(exemplar.labelStart)]) == "trace_id")
        #expect(batch.value(batch.labels[Int(exemplar.labelStart)]) == "abc")
        #expect(batch.series[0].type == .counter)
    }

    @Test func v1ExemplarLabelsBetweenSeriesLabelsStayOutOfTheSeries() throws {
        var request = Proto()
        request.message(1) { series in
            RemoteWriteFixtures.v1Label("job", "x", into: &series)
            series.message(3) {
                RemoteWriteFixtures.v1Label("trace_id", "t1", into: &$0)
                $0.double(2, 1.5)
                $0.int64(3, 5)
            }
            RemoteWriteFixtures.v1Label("__name__", "up", into: &series)
        }
        let batch = try decoder.decodeV1(request.bytes)
        #expect(batch.labelPairs(of: 0).map(\.name) == ["__name__", "job"])
        let exemplar = batch.exemplars[Int(batch.series[0].exemplarStart)]
        #expect(exemplar.labelCount == 1 && exemplar.value == 1.5 && exemplar.timestamp == 5)
        #expect(batch.name(batch.labels[Int(exemplar.labelStart)]) == "trace_id")
    }

    // MARK: Unknown fields and label order

    @Test func skipsUnknownFieldsOfEveryWireTypeAtEveryLevel() throws {
        var v1 = Proto()
        v1.unknownFields()
        v1.varint(2, 1)  // reserved in WriteRequest: unknown to us
        v1.message(1) { series in
            series.unknownFields()
            series.message(1) {
                $0.unknownFields()
                $0.string(1, "__name__")
                $0.unknownFields()
                $0.string(2, "up")
            }
            series.message(2) {
                $0.unknownFields()
                $0.double(1, 1)
                $0.int64(2, 1000)
                $0.varint(3, 5)  // start_timestamp is not part of 1.0
            }
            series.message(3) {
                $0.unknownFields()
                $0.double(2, 2)
            }
            series.message(4) {
                $0.unknownFields()
                $0.varint(1, 1)
                $0.message(11) {
                    $0.unknownFields()
                    $0.varint(2, 1)
                }
            }
        }
        v1.message(3) {
            $0.unknownFields()
            $0.string(2, "up")
        }
        v1.unknownFields()
        let batch = try decoder.decodeV1(v1.bytes)
        #expect(batch.labelPairs(of: 0).map { "\($0.name)=\($0.value)" } == ["__name__=up"])
        #expect(Array(batch.samples(of: 0)) == [Sample(timestamp: 1000, value: 1)])
        #expect(batch.exemplars.map(\.value) == [2])
        #expect(batch.histograms.map(\.count) == [.int(1)])
        #expect(batch.histograms[0].positiveSpans == [BucketSpan(offset: 0, length: 1)])
        #expect(batch.metadata.map(\.familyName) == ["up"])

        var v2 = Proto()
        v2.unknownFields()
        v2.message(1) { $0.unknownFields() }  // 1.0's timeseries field is reserved in 2.0
        v2.string(4, "")
        v2.string(4, "__name__")
        v2.unknownFields()
        v2.string(4, "up")
        v2.message(5) { series in
            series.unknownFields()
            series.packedVarints(1, [1, 2])
            series.message(2) {
                $0.unknownFields()
                $0.double(1, 1)
                $0.int64(2, 1000)
                $0.int64(3, 900)  // start_timestamp
            }
            series.message(3) {
                $0.unknownFields()
                $0.varint(1, 1)
                $0.int64(17, 900)  // start_timestamp
            }
            series.message(4) {
                $0.unknownFields()
                $0.double(2, 2)
            }
            series.message(5) {
                $0.unknownFields()
                $0.varint(1, 2)
            }
            series.varint(6, 1)  // reserved
        }
        let batch2 = try decoder.decodeV2(v2.bytes)
        #expect(batch2.labelPairs(of: 0).map { "\($0.name)=\($0.value)" } == ["__name__=up"])
        #expect(Array(batch2.samples(of: 0)) == [Sample(timestamp: 1000, value: 1)])
        #expect(batch2.exemplars.map(\.value) == [2])
        #expect(batch2.histograms.map(\.count) == [.int(1)])
        #expect(batch2.series[0].type == .gauge)
    }

    @Test func unsortedLabelsComeOutSorted() throws {
        let labels = [("zone", "a"), ("__name__", "up"), ("job", "x"), ("Job", "y"), ("a", "1"), ("ä", "2")]
        let expected = ["Job=y", "__name__=up", "a=1", "job=x", "zone=a", "ä=2"]
        let series: [(labels: [(String, String)], samples: [(Double, Int64)])] = [
            (labels: labels, samples: [(1, 1)]),
            (labels: [("b", "2"), ("a", "1")], samples: []),
        ]
        for batch in [
            try decoder.decodeV1(RemoteWriteFixtures.v1Request(series)),
            try decoder.decodeV2(RemoteWriteFixtures.v2Request(series)),
        ] {
            #expect(batch.labelPairs(of: 0).map { "\($0.name)=\($0.value)" } == expected)
            #expect(batch.labelPairs(of: 1).map { "\($0.name)=\($0.value)" } == ["a=1", "b=2"])
        }
    }

    // MARK: Malformed wire format

    @Test func rejectsOverlongVarint() {
        let bytes: [UInt8] = [0x0A] + Array(repeating: 0x80, count: 11) + [0x01]
        #expect(throws: RemoteWriteDecodingError.malformedVarint) { try decoder.decodeV1(bytes) }
        #expect(throws: RemoteWriteDecodingError.malformedVarint) { try decoder.decodeV2(bytes) }
        let error = #expect(throws: RemoteWriteDecodingError.self) { try decoder.decodeV1(bytes) }
        #expect(error?.description == "cannot decode WriteRequest: varint longer than 10 bytes at byte 1")
    }

    @Test func rejectsTruncatedVarint() {
        let bytes: [UInt8] = [0x0A, 0x80]
        let error = #expect(throws: RemoteWriteDecodingError.truncated) { try decoder.decodeV1(bytes) }
        #expect(error?.description == "cannot decode WriteRequest: truncated varint at byte 1")
    }

    @Test func rejectsWrongWireTypeForKnownFields() {
        var sampleAsVarint = Proto()
        sampleAsVarint.message(1) { series in
            RemoteWriteFixtures.v1Label("__name__", "up", into: &series)
            series.message(2) { $0.varint(1, 1) }  // Sample.value must be fixed64
        }
        let error = #expect(throws: RemoteWriteDecodingError.wrongWireType) {
            try decoder.decodeV1(sampleAsVarint.bytes)
        }
        #expect(
            error?.description
                == "cannot decode WriteRequest: series 0: field 1 at byte 20 has wire type 0 (varint), "
                + "expected 1 (fixed64)")

        var seriesAsVarint = Proto()
        seriesAsVarint.varint(1, 5)
        #expect(throws: RemoteWriteDecodingError.wrongWireType) { try decoder.decodeV1(seriesAsVarint.bytes) }

        var symbolAsFixed = Proto()
        symbolAsFixed.fixed32(4, 0)
        #expect(throws: RemoteWriteDecodingError.wrongWireType) { try decoder.decodeV2(symbolAsFixed.bytes) }

        let refsAsFixed = RemoteWriteFixtures.v2Request(symbols: ["", "a"]) { $0.fixed64(1, 1) }
        #expect(throws: RemoteWriteDecodingError.wrongWireType) { try decoder.decodeV2(refsAsFixed) }

        let startAsFixed = RemoteWriteFixtures.v2Request(symbols: ["", "a"]) { series in
            series.packedVarints(1, [1, 1])
            series.message(2) { $0.fixed64(3, 0) }  // start_timestamp is a varint in 2.0
        }
        #expect(throws: RemoteWriteDecodingError.wrongWireType) { try decoder.decodeV2(startAsFixed) }
    }

    @Test func rejectsLengthPastTheEnd() {
        let outer: [UInt8] = [0x0A, 0x05, 0x0A, 0x00]
        let error = #expect(throws: RemoteWriteDecodingError.truncated) { try decoder.decodeV1(outer) }
        #expect(
            error?.description
                == "cannot decode WriteRequest: length-delimited field of 5 bytes at byte 1 runs past the end of its "
                + "message (2 bytes left)")
        // A label's length runs past its series, though not past the request.
        let nested: [UInt8] = [0x0A, 0x04, 0x0A, 0x07, 0x0A, 0x01] + Array(repeating: 0x61, count: 10)
        #expect(throws: RemoteWriteDecodingError.truncated) { try decoder.decodeV1(nested) }
        let huge: [UInt8] = [0x22] + Array(repeating: 0xFF, count: 9) + [0x01]
        #expect(throws: RemoteWriteDecodingError.truncated) { try decoder.decodeV2(huge) }
    }

    @Test func rejectsGroupWireTypes() {
        for wireType in [3, 4] {
            var topLevel = Proto()
            topLevel.key(7, wireType: wireType)
            #expect(throws: RemoteWriteDecodingError.groupWireType) { try decoder.decodeV1(topLevel.bytes) }
            #expect(throws: RemoteWriteDecodingError.groupWireType) { try decoder.decodeV2(topLevel.bytes) }

            var nested = Proto()
            nested.message(1) { series in
                RemoteWriteFixtures.v1Label("__name__", "up", into: &series)
                series.key(1, wireType: wireType)
            }
            #expect(throws: RemoteWriteDecodingError.groupWireType) { try decoder.decodeV1(nested.bytes) }
        }
        let error = #expect(throws: RemoteWriteDecodingError.self) { try decoder.decodeV1([0x0B, 0x0C]) }
        #expect(
            error?.description == "cannot decode WriteRequest: field 1 at byte 0 uses the deprecated group wire type 3")
    }

    @Test func rejectsInvalidFieldKeys() {
        for key: [UInt8] in [[0x00], [0x02], [0x0E], [0x0F], [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]] {
            #expect(throws: RemoteWriteDecodingError.invalidFieldKey) { try decoder.decodeV1(key + [0, 0]) }
        }
    }

    // MARK: Malformed series

    @Test func rejectsDuplicateLabels() {
        for labels in [[("job", "a"), ("job", "b")], [("zzz", "1"), ("job", "a"), ("job", "b")]] {
            let series: [(labels: [(String, String)], samples: [(Double, Int64)])] = [
                (labels: [("__name__", "ok")], samples: []), (labels: labels, samples: []),
            ]
            let v1 = #expect(throws: RemoteWriteDecodingError.duplicateLabelName) {
                try decoder.decodeV1(RemoteWriteFixtures.v1Request(series))
            }
            #expect(v1?.description == #"series 1 has duplicate label "job""#)
            #expect(throws: RemoteWriteDecodingError.duplicateLabelName) {
                try decoder.decodeV2(RemoteWriteFixtures.v2Request(series))
            }
        }
        // Two symbols with the same bytes are still the same name.
        let twice = RemoteWriteFixtures.v2Request(symbols: ["", "job", "job", "x"]) {
            $0.packedVarints(1, [1, 3, 2, 3])
        }
        #expect(throws: RemoteWriteDecodingError.duplicateLabelName) { try decoder.decodeV2(twice) }
    }

    @Test func rejectsEmptyLabelName() {
        let series: [(labels: [(String, String)], samples: [(Double, Int64)])] = [
            (labels: [("", "x"), ("job", "a")], samples: [])
        ]
        let error = #expect(throws: RemoteWriteDecodingError.emptyLabelName) {
            try decoder.decodeV1(RemoteWriteFixtures.v1Request(series))
        }
        #expect(error?.description == "series 0 has a label with an empty name")
        #expect(throws: RemoteWriteDecodingError.emptyLabelName) {
            try decoder.decodeV2(RemoteWriteFixtures.v2Request(series))
        }
        // A Label message without a name field has an empty name too.
        var missing = Proto()
        missing.message(1) { series in series.message(1) { $0.string(2, "x") } }
        #expect(throws: RemoteWriteDecodingError.emptyLabelName) { try decoder.decodeV1(missing.bytes) }
        // So has an exemplar label.
        var exemplar = Proto()
        exemplar.message(1) { series in
            RemoteWriteFixtures.v1Label("__name__", "up", into: &series)
            series.message(3) { RemoteWriteFixtures.v1Label("", "t", into: &$0) }
        }
        let exemplarError = #expect(throws: RemoteWriteDecodingError.emptyLabelName) {
            try decoder.decodeV1(exemplar.bytes)
        }
        #expect(exemplarError?.description == "series 0 exemplar 0 has a label with an empty name")
    }

    @Test func rejectsSeriesWithoutLabels() {
        var v1 = Proto()
        v1.message(1) { $0.message(2) { $0.double(1, 1) } }
        let error = #expect(throws: RemoteWriteDecodingError.noLabels) { try decoder.decodeV1(v1.bytes) }
        #expect(error?.description == "series 0 has no labels")
        let v2 = RemoteWriteFixtures.v2Request(symbols: [""]) { $0.message(2) { $0.double(1, 1) } }
        #expect(throws: RemoteWriteDecodingError.noLabels) { try decoder.decodeV2(v2) }
    }

    @Test func enforcesLabelLimits() {
        let limits = RemoteWriteDecoder.Limits(maxLabelsPerSeries: 3, maxLabelNameLength: 8, maxLabelValueLength: 5)
        let decoder = RemoteWriteDecoder(limits: limits)
        func request(_ labels: [(String, String)]) -> [(labels: [(String, String)], samples: [(Double, Int64)])] {
            [(labels: [("__name__", "ok")], samples: []), (labels: labels, samples: [])]
        }
        let cases: [([(String, String)], RemoteWriteDecodingError, String)] = [
            (
                [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")], .tooManyLabels,
                "series 1 has 4 labels; the limit is 3"
            ),
            (
                [("abcdefghi", "1")], .labelNameTooLong,
                #"series 1 has a label name of 9 bytes ("abcdefghi"); the limit is 8"#
            ),
            ([("job", "123456")], .labelValueTooLong, #"series 1 label "job" has a value of 6 bytes; the limit is 5"#),
        ]
        for (labels, expected, message) in cases {
            let v1 = #expect(throws: expected) { try decoder.decodeV1(RemoteWriteFixtures.v1Request(request(labels))) }
            #expect(v1?.description == message)
            let v2 = #expect(throws: expected) { try decoder.decodeV2(RemoteWriteFixtures.v2Request(request(labels))) }
            #expect(v2?.description == message)
        }
        // At the limits exactly, all is well.
        let fits = request([("abcdefgh", "12345"), ("b", ""), ("c", "")])
        #expect(throws: Never.self) { try decoder.decodeV1(RemoteWriteFixtures.v1Request(fits)) }
        #expect(throws: Never.self) { try decoder.decodeV2(RemoteWriteFixtures.v2Request(fits)) }
    }

    @Test func defaultLimits() {
        let limits = RemoteWriteDecoder.Limits()
        #expect(limits.maxLabelsPerSeries == 256)
        #expect(limits.maxLabelNameLength == 512)
        #expect(limits.maxLabelValueLength == 16_384)
        let labels = (0..<300).map { ("l\($0)", "v") }
        let error = #expect(throws: RemoteWriteDecodingError.tooManyLabels) {
            try RemoteWriteDecoder().decodeV1(RemoteWriteFixtures.v1Request([(labels: labels, samples: [])]))
        }
        #expect(error?.description == "series 0 has 300 labels; the limit is 256")
    }

    @Test func rejectsOutOfRangeSymbolRefs() {
        let symbols = ["", "__name__", "up"]
        let cases: [(String, (inout Proto) -> Void)] = [
            ("series 0: labels_refs index 99 out of range (symbols: 3)", { $0.packedVarints(1, [1, 99]) }),
            ("series 0: labels_refs index 3 out of range (symbols: 3)", { $0.packedVarints(1, [3, 2]) }),
            (
                "series 0: labels_refs index 1099511627776 out of range (symbols: 3)",
                { $0.packedVarints(1, [1, 1 << 40]) }
            ),
            (
                "series 0 exemplar 0: labels_refs index 7 out of range (symbols: 3)",
                { series in
                    series.packedVarints(1, [1, 2])
                    series.message(4) { $0.packedVarints(1, [1, 7]) }
                }
            ),
            (
                "series 0: help_ref index 3 out of range (symbols: 3)",
                { series in
                    series.packedVarints(1, [1, 2])
                    series.message(5) { $0.varint(3, 3) }
                }
            ),
            (
                "series 0: unit_ref index 10 out of range (symbols: 3)",
                { series in
                    series.packedVarints(1, [1, 2])
                    series.message(5) { $0.varint(4, 10) }
                }
            ),
        ]
        for (message, build) in cases {
            let error = #expect(throws: RemoteWriteDecodingError.symbolRefOutOfRange) {
                try decoder.decodeV2(RemoteWriteFixtures.v2Request(symbols: symbols, series: build))
            }
            #expect(error?.description == message)
        }
    }

    @Test func rejectsOddLabelRefs() {
        let series = RemoteWriteFixtures.v2Request(symbols: ["", "__name__", "up"]) { $0.packedVarints(1, [1, 2, 1]) }
        let error = #expect(throws: RemoteWriteDecodingError.oddLabelRefs) { try decoder.decodeV2(series) }
        #expect(error?.description == "series 0 has an odd number of labels_refs (3)")
        let exemplar = RemoteWriteFixtures.v2Request(symbols: ["", "__name__", "up"]) { series in
            series.packedVarints(1, [1, 2])
            series.message(4) { $0.packedVarints(1, [1]) }
        }
        #expect(throws: RemoteWriteDecodingError.oddLabelRefs) { try decoder.decodeV2(exemplar) }
    }

    @Test func rejectsLabelNamesThatAreNotUTF8() {
        let invalidNames: [[UInt8]] = [
            [0xFF], [0x61, 0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            Array("abcdefgh".utf8) + [0x80],
        ]
        for name in invalidNames {
            var v1 = Proto()
            v1.message(1) { series in series.message(1) { $0.bytes(1, name) } }
            #expect(throws: RemoteWriteDecodingError.invalidLabelName) { try decoder.decodeV1(v1.bytes) }

            var v2 = Proto()
            v2.string(4, "")
            v2.bytes(4, name)
            v2.message(5) { $0.packedVarints(1, [1, 0]) }
            #expect(throws: RemoteWriteDecodingError.invalidLabelName) { try decoder.decodeV2(v2.bytes) }
        }
        // Invalid UTF-8 in a value is passed through: only names are checked.
        var value = Proto()
        value.message(1) { series in
            series.message(1) {
                $0.string(1, "job")
                $0.bytes(2, [0xFF])
            }
        }
        #expect(throws: Never.self) { try decoder.decodeV1(value.bytes) }
        // Valid multi-byte names are fine.
        let unicode = RemoteWriteFixtures.v1Request([(labels: [("größe", "1"), ("名前", "2"), ("😀", "3")], samples: [])])
        #expect(throws: Never.self) { try decoder.decodeV1(unicode) }
    }

    @Test func errorsCompareByKind() {
        #expect(RemoteWriteDecodingError.truncated == .truncated)
        #expect(RemoteWriteDecodingError.truncated != .malformedVarint)
        #expect(RemoteWriteDecodingError.noLabels.description == "series without labels")
    }
}
