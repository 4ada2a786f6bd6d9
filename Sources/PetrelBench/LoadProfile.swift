import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import SwiftProtobuf

/// What a benchmark sends: a ring of ready-made request bodies, built once from a seed so that every run (and every
/// agent in a side-by-side comparison) gets the same series and values, and building them costs the load nothing while
/// it runs. Sample timestamps are the only thing that depends on when the ring is built.
public struct LoadProfile: Sendable {
    /// Request bodies, sent in turn.
    public let bodies: [ByteBuffer]
    /// Events (samples, spans or log records) in each body, in the same order.
    public let events: [Int]
    public let headers: HTTPHeaders
    /// What one event is, for the summary.
    public let unit: String

    /// Bodies are built until they take this much memory at most.
    static let maxPoolBytes = 64 << 20

    public struct RemoteWrite: Sendable {
        /// Distinct series per scrape round.
        public var series = 10_000
        /// Labels per series, `__name__` included (at least 3: `__name__`, `job`, `instance`).
        public var labelsPerSeries = 10
        public var seriesPerRequest = 1000
        public var samplesPerSeries = 1
        /// Fraction (0...1) of the series replaced by new ones at each scrape round.
        public var churn = 0.0
        public var seed: UInt64 = 1
        public var version = 1

        public init() {}
    }

    /// Remote-write requests: `series` series spread over requests of `seriesPerRequest`, one round after another,
    /// each round replacing `churn` of them and moving the timestamps on by 15 s.
    public static func remoteWrite(_ options: RemoteWrite) -> LoadProfile {
        var random = SplitMix64(seed: options.seed)
        let extraLabels = max(0, options.labelsPerSeries - 3)
        // Each slot's fixed label values; a churned slot gets a new `series_id`.
        let values = (0..<options.series).map { _ in (0..<extraLabels).map { _ in random.hex(8) } }
        var generation = Array(repeating: 0, count: options.series)
        var bodies: [ByteBuffer] = []
        var events: [Int] = []
        var poolBytes = 0
        var encoder = RemoteWriteEncoder()
        // Rounds 15 s apart ending now: receivers that refuse old samples (Prometheus in agent mode) take them.
        let now = WallClock.nowNanoseconds() / 1_000_000
        var round = 0
        while poolBytes < maxPoolBytes && round < 16 {
            for start in stride(from: 0, to: options.series, by: options.seriesPerRequest) {
                var batch = MetricBatch()
                for slot in start..<min(start + options.seriesPerRequest, options.series) {
                    var labels: [(String, String)] = [
                        ("__name__", "bench_metric_\(slot % 200)"), ("job", "bench"),
                        ("instance", "10.0.\(slot % 250).\(slot % 7):9100"),
                    ]
                    if extraLabels > 0 { labels.append(("series_id", "\(slot)-\(generation[slot])")) }
                    for (index, value) in values[slot].dropFirst().enumerated() {
                        labels.append(("label_\(index)", value))
                    }
                    let samples = (0..<options.samplesPerSeries).map { sample in
                        Sample(
                            timestamp: now - 16 * 15_000 + Int64(round * 15_000 + sample * 1000),
                            value: Double(random.next() % 1_000_000) / 10)
                    }
                    batch.appendSeries(labels: labels, samples: samples)
                }
                let encoded = options.version == 2 ? encoder.encodeV2(batch) : encoder.encodeV1(batch)
                let body = ByteBuffer(bytes: Snappy.compress(encoded))
                poolBytes += body.readableBytes
                bodies.append(body)
                events.append(batch.seriesCount * options.samplesPerSeries)
            }
            round += 1
            guard options.churn > 0 else { break }
            for slot in generation.indices where Double(random.next() % 1_000_000) / 1_000_000 < options.churn {
                generation[slot] += 1
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Encoding", value: "snappy")
        if options.version == 2 {
            headers.add(name: "Content-Type", value: "application/x-protobuf;proto=io.prometheus.write.v2.Request")
            headers.add(name: "X-Prometheus-Remote-Write-Version", value: "2.0.0")
        } else {
            headers.add(name: "Content-Type", value: "application/x-protobuf")
            headers.add(name: "X-Prometheus-Remote-Write-Version", value: "0.1.0")
        }
        return LoadProfile(bodies: bodies, events: events, headers: headers, unit: "samples")
    }

    public struct OTLP: Sendable {
        /// Spans or log records per request.
        public var eventsPerRequest = 1000
        /// Attributes per span or record.
        public var attributes = 8
        public var seed: UInt64 = 1

        public init() {}
    }

    /// OTLP/HTTP protobuf `ExportTraceServiceRequest`s: twenty services of HTTP server spans.
    public static func otlpTraces(_ options: OTLP) -> LoadProfile {
        var random = SplitMix64(seed: options.seed)
        var bodies: [ByteBuffer] = []
        for _ in 0..<32 {
            var batch = SpanBatch()
            let services = max(1, min(20, options.eventsPerRequest / 10))
            for service in 0..<services {
                var scope = ScopeSpans(scope: InstrumentationScope(name: "bench", version: "1.0"))
                let count =
                    options.eventsPerRequest / services + (service < options.eventsPerRequest % services ? 1 : 0)
                for _ in 0..<count {
                    let start = 1_764_000_000_000_000_000 + random.next() % 1_000_000_000_000
                    scope.spans.append(
                        Span(
                            traceID: TraceID(high: random.next(), low: random.next()),
                            spanID: SpanID(random.next() | 1),
                            name: "GET /api/v1/items/{id}", kind: .server, startTimeUnixNano: start,
                            endTimeUnixNano: start + random.next() % 50_000_000,
                            attributes: attributes(options.attributes, &random)))
                }
                batch.resourceSpans.append(
                    ResourceSpans(
                        resource: Resource(attributes: [Attribute("service.name", .string("service-\(service)"))]),
                        scopeSpans: [scope]))
            }
            bodies.append(ByteBuffer(bytes: try! OTLPTraceConversion.request(from: batch).serializedBytes() as [UInt8]))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-protobuf")
        return LoadProfile(
            bodies: bodies, events: Array(repeating: options.eventsPerRequest, count: bodies.count), headers: headers,
            unit: "spans")
    }

    /// OTLP/HTTP protobuf `ExportLogsServiceRequest`s of application log lines.
    public static func otlpLogs(_ options: OTLP) -> LoadProfile {
        var random = SplitMix64(seed: options.seed)
        var bodies: [ByteBuffer] = []
        for _ in 0..<32 {
            let records = (0..<options.eventsPerRequest).map { _ in
                LogRecord(
                    timestamp: 1_764_000_000_000_000_000 + Int64(random.next() % 1_000_000_000_000),
                    message: "GET /api/v1/items/\(random.next() % 100_000) 200 \(random.next() % 900) ms "
                        + "user=\(random.hex(12)) trace=\(random.hex(32))",
                    severity: "INFO",
                    fields: Dictionary(
                        uniqueKeysWithValues: attributes(options.attributes, &random).map { ($0.key, $0.value) }),
                    resource: [Attribute("service.name", .string("service-\(random.next() % 20)"))])
            }
            let request = OTLPLogConversion.request(from: LogBatch(records: records))
            bodies.append(ByteBuffer(bytes: try! request.serializedBytes() as [UInt8]))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-protobuf")
        return LoadProfile(
            bodies: bodies, events: Array(repeating: options.eventsPerRequest, count: bodies.count), headers: headers,
            unit: "log records")
    }

    private static func attributes(_ count: Int, _ random: inout SplitMix64) -> [Attribute] {
        (0..<count).map { index in
            index % 3 == 0
                ? Attribute("bench.int_\(index)", .int(Int64(random.next() % 1000)))
                : Attribute("bench.attribute_\(index)", .string(random.hex(12)))
        }
    }
}

extension SplitMix64 {
    /// `count` lower-case hex digits.
    mutating func hex(_ count: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: (0..<count).map { _ in digits[Int(next() & 15)] }, as: UTF8.self)
    }
}
