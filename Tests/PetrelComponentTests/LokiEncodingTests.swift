import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Synchronization
import Testing

@testable import PetrelSinks

/// The `loki` sink's request building: streams from rendered labels, entries in time order, `max_streams`, and the
/// bytes on the wire read back by the test receiver's decoder (written from Loki's schema, not from the encoder).
@Suite struct LokiEncodingTests {
    private static func config(
        labels: [(String, String)] = [("namespace", "{{ resource.k8s.namespace.name }}"), ("app", "{{ fields.app }}")],
        metadata: [(String, String)] = [("pod", "{{ resource.k8s.pod.name }}")], maxStreams: Int = 1000
    ) throws -> LokiSinkConfig {
        var config = LokiSinkConfig(
            endpoint: try HTTPEndpoint.parse("http://loki:3100").get(),
            labels: try labels.map { LokiSinkConfig.Label(name: $0.0, value: try LogTemplate.parse($0.1).get()) })
        config.structuredMetadata = try metadata.map {
            LokiSinkConfig.Label(name: $0.0, value: try LogTemplate.parse($0.1).get())
        }
        config.maxStreams = maxStreams
        return config
    }

    private static func record(_ time: Int64, _ message: String, namespace: String?, app: String?, pod: String = "p-1")
        -> LogRecord
    {
        var resource = [Attribute("k8s.pod.name", .string(pod))]
        if let namespace { resource.append(Attribute("k8s.namespace.name", .string(namespace))) }
        return LogRecord(
            timestamp: time, message: message, fields: app.map { ["app": .string($0)] } ?? [:], resource: resource)
    }

    private static func batcher(_ config: LokiSinkConfig) -> LokiBatcher {
        LokiBatcher(
            config: config, labelsNotRendered: config.labels.map { _ in TelemetryRegistry().counter("x", help: "") })
    }

    private static func envelope(_ records: [LogRecord], acknowledgement: Acknowledgement = .none) -> Envelope {
        Envelope(.logs(LogBatch(records: records)), acknowledgement: acknowledgement)
    }

    @Test func recordsGroupIntoStreamsBySortedLabels() throws {
        var batcher = Self.batcher(try Self.config())
        let now = ContinuousClock.now
        #expect(
            batcher.add(
                Self.envelope([
                    Self.record(30, "c", namespace: "shop", app: "cart"),
                    Self.record(10, "a", namespace: "shop", app: "cart"),
                    Self.record(20, "b", namespace: "db", app: "pg"),
                    Self.record(10, "a2", namespace: "shop", app: "cart"),
                ]), now: now
            ).isEmpty)
        var push = try #require(batcher.flushAll().first)
        push.sortEntries()
        #expect(push.streams.map(\.labelText) == [#"{app="cart", namespace="shop"}"#, #"{app="pg", namespace="db"}"#])
        #expect(push.streams[0].entries.map(\.line) == ["a", "a2", "c"], "time order; equal times keep their order")
        #expect(push.streams[0].entries[0].structuredMetadata == [LokiLabelPair(name: "pod", value: "p-1")])
        #expect(push.eventCount == 4)
    }

    /// Vector's behaviour: a label whose template renders nothing is left out; no label at all gives `agent`.
    @Test func missingLabelValuesAreLeftOut() throws {
        var batcher = Self.batcher(try Self.config())
        _ = batcher.add(
            Self.envelope([
                Self.record(1, "no app", namespace: "shop", app: nil),
                Self.record(2, "nothing", namespace: nil, app: nil),
                Self.record(3, "empty app", namespace: "shop", app: ""),
            ]), now: .now)
        let push = try #require(batcher.flushAll().first)
        #expect(push.streams.map(\.labelText) == [#"{namespace="shop"}"#, #"{agent="petrel"}"#])
        #expect(push.streams[0].entries.map(\.line) == ["no app", "empty app"])
    }

    @Test func maxStreamsStartsTheNextRequestAndSplitsTheAcknowledgement() throws {
        var batcher = Self.batcher(try Self.config(maxStreams: 2))
        let acknowledged = AcknowledgedFlag()
        let acknowledgement = Acknowledgement { acknowledged.set() }
        let ready = batcher.add(
            Self.envelope(
                (0..<5).map { Self.record(Int64($0), "l\($0)", namespace: "ns-\($0)", app: "a") },
                acknowledgement: acknowledgement), now: .now)
        #expect(ready.map(\.streams.count) == [2, 2])
        let last = batcher.flushAll()
        #expect(last.map(\.streams.count) == [1])
        for push in ready + last.dropLast() { push.acknowledge() }
        #expect(!acknowledged.isSet, "held until every request is done")
        last.last?.acknowledge()
        #expect(acknowledged.isSet)
    }

    @Test func batchesAreBoundedByEventsAndAge() throws {
        var config = try Self.config()
        config.request.maxEvents = 3
        config.request.maxAge = .seconds(1)
        var batcher = Self.batcher(config)
        let start = ContinuousClock.now
        let ready = batcher.add(
            Self.envelope((0..<7).map { Self.record(Int64($0), "l\($0)", namespace: "a", app: "b") }), now: start)
        #expect(ready.map(\.eventCount) == [3, 3])
        #expect(batcher.deadline == start + .seconds(1))
        #expect(batcher.flushExpired(now: start + .milliseconds(999)).isEmpty)
        #expect(batcher.flushExpired(now: start + .seconds(1)).map(\.eventCount) == [1])
        #expect(batcher.deadline == nil)
    }

    @Test func protobufReadsBackThroughLokisSchema() throws {
        let streams = [
            LokiStream(
                labels: [LokiLabelPair(name: "app", value: "a \"quoted\"\\ value\n")],
                labelText: LokiLabelText.format([LokiLabelPair(name: "app", value: "a \"quoted\"\\ value\n")]),
                entries: [
                    LokiEntry(
                        timestamp: 1_765_000_000_123_456_789, line: "héllo wörld",
                        structuredMetadata: [LokiLabelPair(name: "trace_id", value: "abc")]),
                    LokiEntry(timestamp: 1_765_000_001_000_000_000, line: "", structuredMetadata: []),
                    LokiEntry(timestamp: -1, line: String(repeating: "x", count: 300), structuredMetadata: []),
                ]),
            LokiStream(
                labels: [], labelText: #"{agent="petrel"}"#,
                entries: [LokiEntry(timestamp: 0, line: "z", structuredMetadata: [])]),
        ]
        let raw = LokiPushEncoder.protobuf(streams)
        let decoded = try LokiPushFormat.decodeProtobuf(snappy: Snappy.compress(raw))
        #expect(decoded.map(\.labels) == streams.map(\.labelText))
        #expect(decoded[0].entries.map(\.timestamp) == [1_765_000_000_123_456_789, 1_765_000_001_000_000_000, -1])
        #expect(decoded[0].entries.map(\.line) == ["héllo wörld", "", String(repeating: "x", count: 300)])
        #expect(decoded[0].entries[0].structuredMetadata == [["trace_id", "abc"]])
        #expect(decoded[1].entries.map(\.timestamp) == [0])
        // The labels text parses back, as Loki's parser reads it, to the value sent.
        let labels = try LokiLabelSet.parse(decoded[0].labels).get()
        #expect(labels.map(\.name) == ["app"] && labels.map(\.value) == ["a \"quoted\"\\ value\n"])
        // Byte-level: field 1 (streams), length-delimited; inside it field 1 (labels) first.
        #expect(raw[0] == 0x0A)
        let lengthEnd = try #require(raw[1...].firstIndex { $0 < 0x80 })
        #expect(raw[lengthEnd + 1] == 0x0A)
    }

    /// A snappy block as Loki reads it (`snappy.Decode`, no framing): the uncompressed length as a varint, then
    /// elements; not the framed stream format (which starts `ff 06 00 00 73 4e 61 50 70 59`).
    @Test func theBodyIsASnappyBlockNotAFramedStream() throws {
        let push = LokiPush(
            streams: [
                LokiStream(
                    labels: [], labelText: #"{a="b"}"#,
                    entries: (0..<50).map {
                        LokiEntry(timestamp: Int64($0), line: "line \($0)", structuredMetadata: [])
                    })
            ], acknowledgements: [])
        var config = try Self.config()
        config.encoding = .protobuf
        let body = LokiPusher.encode(push, config: config)
        let raw = LokiPushEncoder.protobuf(push.streams)
        var length = 0
        var shift = 0
        var index = 0
        while true {
            length |= Int(body[index] & 0x7F) << shift
            shift += 7
            index += 1
            if body[index - 1] < 0x80 { break }
        }
        #expect(length == raw.count)
        #expect(body.count < raw.count, "50 similar lines compress")
        #expect(Array(body.prefix(4)) != [0xFF, 0x06, 0x00, 0x00])
        #expect(try Snappy.decompress(body, maxDecompressedLength: 1 << 20) == raw)
    }

    @Test func jsonReadsBackAsLokisJSONForm() throws {
        let streams = [
            LokiStream(
                labels: [LokiLabelPair(name: "app", value: "shop"), LokiLabelPair(name: "namespace", value: "prod")],
                labelText: "",
                entries: [
                    LokiEntry(timestamp: 1_765_000_000_000_000_001, line: "a \"b\"\n", structuredMetadata: []),
                    LokiEntry(
                        timestamp: 1_765_000_000_000_000_002, line: "c",
                        structuredMetadata: [LokiLabelPair(name: "pod", value: "p-1")]),
                ])
        ]
        let json = LokiPushEncoder.json(streams)
        #expect(
            String(decoding: json, as: UTF8.self)
                == #"{"streams":[{"stream":{"app":"shop","namespace":"prod"},"values":[["1765000000000000001","a \"b\"\n"],["1765000000000000002","c",{"pod":"p-1"}]]}]}"#
        )
        let decoded = try LokiPushFormat.decodeJSON(json)
        #expect(decoded.first?.labels == #"{app="shop", namespace="prod"}"#)
        #expect(decoded.first?.entries.map(\.line) == ["a \"b\"\n", "c"])
        #expect(decoded.first?.entries.last?.metadata == ["pod": "p-1"])
    }

    /// Bytes on the wire for 10,000 pod log lines in 12 streams, each encoding (printed: the figures in the docs).
    @Test func wireSizesOfEachEncoding() throws {
        var config = try Self.config()
        config.request.maxBytes = 64 << 20
        config.request.maxEvents = 10_000
        var batcher = Self.batcher(config)
        let base: Int64 = 1_765_000_000_000_000_000
        let records = (0..<10_000).map { index in
            Self.record(
                base + Int64(index) * 1_000_000,
                #"{"level":"info","ts":"2026-12-07T02:00:00Z","msg":"GET /api/cart/\#(index) 200","duration_ms":\#(index % 97)}"#,
                namespace: "ns-\(index % 3)", app: "app-\(index % 4)", pod: "app-\(index % 4)-7d9f8b-x2k4q")
        }
        let pushes = batcher.add(Self.envelope(records), now: .now) + batcher.flushAll()
        #expect(pushes.map(\.eventCount) == [10_000])
        let push = try #require(pushes.first)
        #expect(push.streams.count == 12)
        let started = ContinuousClock.now
        let protobuf = LokiPushEncoder.protobuf(push.streams)
        let snappy = Snappy.compress(protobuf)
        let encoded = ContinuousClock.now - started
        let json = LokiPushEncoder.json(push.streams)
        let gzip = Zlib.compress(json, format: .gzip)
        print(
            "loki push of 10000 entries: protobuf \(protobuf.count) B, snappy \(snappy.count) B (encoded and compressed "
                + "in \(encoded), debug build); json \(json.count) B, gzip \(gzip.count) B")
        #expect(snappy.count < json.count / 2)
    }

    @Test func labelTextEscapesAsGoQuotes() {
        let pairs = [
            LokiLabelPair(name: "a", value: "plain"), LokiLabelPair(name: "b", value: "q\"b\\s\tt\u{1}"),
            LokiLabelPair(name: "c", value: "ünï"),
        ]
        let text = LokiLabelText.format(pairs)
        #expect(text == #"{a="plain", b="q\"b\\s\tt\x01", c="ünï"}"#)
        let parsed = try? LokiLabelSet.parse(text).get()
        #expect(parsed?.map(\.value) == pairs.map(\.value))
    }

    /// Loki's own wording (distributor and ingester), as its tests pin it.
    @Test func rejectionsAreCountedByLokisReason() {
        let body = """
            entry for stream '{app="a"}' has timestamp too old: 2026-11-28T10:00:00Z, oldest acceptable timestamp is: 2026-11-30T10:00:00Z
            entry for stream '{app="a"}' has timestamp too old: 2026-11-28T10:00:01Z, oldest acceptable timestamp is: 2026-11-30T10:00:00Z
            entry for stream '{app="a"}' has timestamp too new: 2026-12-28T10:00:00Z
            Max entry size '256' bytes exceeded for stream '{app="a"}' while adding an entry with length '300' bytes
            Error parsing labels '{app="b}' with error: unterminated value
            entry with timestamp 2026-12-07 01:00:00 +0000 UTC ignored, reason: 'entry too far behind, entry timestamp is: 2026-12-07T01:00:00Z, oldest acceptable timestamp is: 2026-12-07T02:00:00Z',
            user 'fake', total ignored: 4 out of 10 for stream: {app="c"}
            entry with timestamp 1970-01-01 00:00:00 +0000 UTC ignored, reason: 'entry out of order' for stream: {foo="bar"},
            total ignored: 1 out of 3
            stream '{app="d", app="e"}' has duplicate label name: 'app'
            entry for series '{a="1", b="2"}' has 2 label names; limit 1
            """
        let rejections = LokiRejections(body: body) { labels in
            [#"{app="b}"#: 7, #"{app="d", app="e"}"#: 2, #"{a="1", b="2"}"#: 3][labels]
        }
        #expect(
            rejections.byReason == [
                "too_old": 2, "too_far_in_future": 1, "line_too_long": 1, "invalid_labels": 12, "too_far_behind": 4,
                "out_of_order": 1,
            ])
        #expect(rejections.total == 21)
        #expect(LokiRejections(body: "rate limited", entriesOfStream: { _ in nil }).total == 0)
    }
}

/// Set once by an acknowledgement callback.
private final class AcknowledgedFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}
