import Logging
import PetrelCore
import PetrelTransforms
import Synchronization
import Testing

/// The `span_metrics` transform: its settings, and the Tempo-compatible RED metrics it derives from spans.
@Suite struct SpanMetricsTransformTests {
    // MARK: Helpers

    private func build(_ node: ConfigNode) -> (transform: SpanMetricsTransform?, accepts: SignalSet?, errors: [String])
    {
        let outcome = buildComponent(SpanMetricsTransform.definition, at: "transforms.red", node)
        guard case .transform(let transform, let accepts)? = outcome.built else { return (nil, nil, outcome.errors) }
        return (transform as? SpanMetricsTransform, accepts, outcome.errors)
    }

    /// A transform built from its configuration, which must have no errors.
    private func transform(_ entries: KeyValuePairs<String, ComponentConfigValue> = [:]) throws
        -> SpanMetricsTransform
    {
        let result = build(componentConfig(entries))
        #expect(result.errors == [])
        return try #require(result.transform)
    }

    private func errors(_ entries: KeyValuePairs<String, ComponentConfigValue>) -> [String] {
        let result = build(componentConfig(entries))
        #expect(result.transform == nil)
        return result.errors
    }

    private let telemetry = componentTestTelemetry(id: "red", type: "span_metrics", kind: .transform)
    private let logs = LogCapture()

    private var context: TransformContext {
        let logs = self.logs
        return TransformContext(
            id: "red", telemetry: telemetry, logger: Logger(label: "test.span_metrics") { _ in LogCaptureHandler(logs) }
        )
    }

    private func span(
        _ name: String, kind: SpanKind = .server, status: SpanStatus.Code = .unset, nanoseconds: UInt64 = 1_000_000,
        attributes: [Attribute] = []
    ) -> Span {
        let start: UInt64 = 1_700_000_000_000_000_000
        return Span(
            traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), name: name, kind: kind, startTimeUnixNano: start,
            endTimeUnixNano: start + nanoseconds, attributes: attributes, status: SpanStatus(code: status))
    }

    /// Spans of one resource; `service: nil` leaves `service.name` out.
    private func resource(_ service: String?, _ spans: [Span], attributes: [Attribute] = []) -> ResourceSpans {
        let serviceAttribute = service.map { [Attribute("service.name", .string($0))] } ?? []
        return ResourceSpans(
            resource: Resource(attributes: serviceAttribute + attributes), scopeSpans: [ScopeSpans(spans: spans)])
    }

    private func traces(_ resources: ResourceSpans...) -> EventBatch {
        .traces(SpanBatch(resourceSpans: resources))
    }

    /// A series written as `name{label=value,...}` with its labels in name order.
    private static func id(_ name: String, _ labels: [String: String]) -> String {
        name + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
    }

    /// The value of one label in a series id.
    private static func label(_ name: String, of id: String) -> String? {
        let labels = id.drop { $0 != "{" }.dropFirst().dropLast().split(separator: ",")
        return labels.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// The intrinsic labels, as Tempo spells them.
    private static func labels(
        _ service: String, _ name: String, kind: String = "SPAN_KIND_SERVER", status: String = "STATUS_CODE_UNSET",
        _ extra: [String: String] = [:]
    ) -> [String: String] {
        ["service": service, "span_name": name, "span_kind": kind, "status_code": status].merging(extra) { $1 }
    }

    /// What one call of the transform gave: every series by id, in order.
    private struct Output {
        var ids: [String] = []
        var samples: [String: [Sample]] = [:]
        var types: [String: MetricType] = [:]
        var batch = MetricBatch()

        /// The latest value of a series.
        subscript(_ id: String) -> Double? { samples[id]?.last?.value }
    }

    private func output(_ result: EventBatch?) -> Output? {
        guard let result else { return nil }
        guard case .metrics(let metrics) = result else {
            Issue.record("span_metrics emitted \(result.signal)")
            return nil
        }
        var output = Output(batch: metrics)
        for index in metrics.series.indices {
            let pairs = metrics.labelPairs(of: index)
            let names = pairs.map { Array($0.name.utf8) }
            #expect(zip(names, names.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) }, "labels sorted")
            let name = pairs.first { $0.name == "__name__" }?.value ?? "?"
            var labels: [String: String] = [:]
            for pair in pairs where pair.name != "__name__" { labels[pair.name] = pair.value }
            let id = Self.id(name, labels)
            #expect(output.samples[id] == nil, "\(id) twice in one batch")
            output.ids.append(id)
            output.samples[id] = Array(metrics.samples(of: index))
            output.types[id] = metrics.series[index].type
        }
        return output
    }

    private static let calls = "traces_spanmetrics_calls_total"
    private static let bucket = "traces_spanmetrics_latency_bucket"
    private static let sum = "traces_spanmetrics_latency_sum"
    private static let count = "traces_spanmetrics_latency_count"

    // MARK: Configuration

    @Test func definitionTurnsTracesIntoMetrics() throws {
        #expect(SpanMetricsTransform.definition.type == "span_metrics")
        #expect(SpanMetricsTransform.definition.kind == .transform)
        let result = build(componentConfig([:]))
        #expect(result.errors == [])
        #expect(result.accepts == .traces)
        let transform = try #require(result.transform)
        #expect(transform.emits(from: .traces) == .metrics)
        #expect(SpanMetricsTransform(config: SpanMetricsTransformConfig()).emits(from: .traces) == .metrics)
        #expect(transform.emits(from: []) == [])
    }

    @Test func defaultsAreTempos() throws {
        let config = try transform().config
        #expect(
            config.buckets == [
                0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384,
            ])
        #expect(config.dimensions == [])
        #expect(config.maxSeries == 10_000)
        #expect(config == SpanMetricsTransformConfig())
    }

    @Test func settings() throws {
        let config = try transform([
            "buckets": [0.005, "250ms", 1, 10],
            "dimensions": ["http.method", "k8s.namespace.name", "2xx-rate", "tenant"],
            "max_series": 500,
        ]).config
        #expect(config.buckets == [0.005, 0.25, 1, 10])
        #expect(config.dimensions.map(\.attribute) == ["http.method", "k8s.namespace.name", "2xx-rate", "tenant"])
        #expect(config.dimensions.map(\.label) == ["http_method", "k8s_namespace_name", "_2xx_rate", "tenant"])
        #expect(config.maxSeries == 500)
    }

    static let badSettings: [(String, ComponentConfigValue, [String])] = [
        (
            "buckets", [0.1, 0.1],
            ["transforms.red.buckets[1]: buckets must be strictly increasing: 0.1 follows 0.1"]
        ),
        (
            "buckets", [0.5, 1, 0.25],
            ["transforms.red.buckets[2]: buckets must be strictly increasing: 0.25 follows 1"]
        ),
        (
            "buckets", [0.1, "fast"],
            [
                "transforms.red.buckets[1]: expected a number of seconds such as 0.25 (+Inf is always added),"
                    + #" found "fast""#
            ]
        ),
        (
            "buckets", ["+Inf"],
            [
                "transforms.red.buckets[0]: expected a number of seconds such as 0.25 (+Inf is always added),"
                    + #" found "+Inf""#
            ]
        ),
        ("buckets", [-1, 1], ["transforms.red.buckets[0]: must not be negative, found -1"]),
        ("buckets", [], ["transforms.red.buckets: needs at least one bucket"]),
        ("buckets", 0.5, ["transforms.red.buckets: expected a list, found a single value"]),
        ("buckets", [[0.5]], ["transforms.red.buckets[0]: expected a single value, found a list"]),
        ("max_series", 0, ["transforms.red.max_series: must be between 1 and \(Int.max), found 0"]),
        ("max_series", "many", [#"transforms.red.max_series: expected a whole number, found "many""#]),
        (
            "dimensions", ["http.method", "http_method"],
            [
                #"transforms.red.dimensions[1]: "http_method" and "http.method" would both become the label"#
                    + #" "http_method""#
            ]
        ),
        ("dimensions", ["tenant", "tenant"], [#"transforms.red.dimensions[1]: "tenant" is listed twice"#]),
        (
            "dimensions", ["service"],
            [
                #"transforms.red.dimensions[0]: "service" would become the label "service", which span_metrics sets"#
                    + " itself or Prometheus reserves"
            ]
        ),
        (
            "dimensions", ["span.name", "le"],
            [
                #"transforms.red.dimensions[0]: "span.name" would become the label "span_name", which span_metrics"#
                    + " sets itself or Prometheus reserves",
                #"transforms.red.dimensions[1]: "le" would become the label "le", which span_metrics sets itself or"#
                    + " Prometheus reserves",
            ]
        ),
        (
            "dimensions", ["__name__"],
            [
                #"transforms.red.dimensions[0]: "__name__" would become the label "__name__", which span_metrics"#
                    + " sets itself or Prometheus reserves"
            ]
        ),
        ("dimensions", [""], ["transforms.red.dimensions[0]: an attribute name cannot be empty"]),
        ("dimensions", "http.method", ["transforms.red.dimensions: expected a list, found a single value"]),
    ]

    @Test(arguments: badSettings)
    func badSettingNamesItsPath(key: String, value: ComponentConfigValue, expected: [String]) {
        let node = ComponentConfigValue.map([(key: key, value: value)]).configNode()
        let result = build(node)
        #expect(result.transform == nil)
        #expect(result.errors == expected.map { "petrel.yaml: \($0)" })
    }

    @Test func unknownKeysAreRejected() {
        #expect(
            build(componentConfig(["namespace": "traces", "bucket": [1]])).errors == [
                "petrel.yaml: transforms.red.namespace: unknown key",
                #"petrel.yaml: transforms.red.bucket: unknown key; did you mean "buckets"?"#,
            ])
    }

    @Test func labelNamesAreSanitisedAsPrometheusDoes() {
        #expect(SpanMetricsTransformConfig.labelName("http.status_code") == "http_status_code")
        #expect(SpanMetricsTransformConfig.labelName("k8s.pod.name") == "k8s_pod_name")
        #expect(SpanMetricsTransformConfig.labelName("db-system/ver") == "db_system_ver")
        #expect(SpanMetricsTransformConfig.labelName("région") == "r_gion", "one _ per character, not per byte")
        #expect(SpanMetricsTransformConfig.labelName("3scale") == "_3scale")
        #expect(SpanMetricsTransformConfig.labelName("Already_Valid9") == "Already_Valid9")
    }

    // MARK: Counting

    @Test func callsPerKeyMatchTheSpansSent() throws {
        var transform = try transform()
        var generator = SplitMix64(seed: 5)
        let services = ["api", "db", "web"]
        let names = ["GET /orders", "POST /orders", "SELECT"]
        let kinds: [(SpanKind, String)] = [
            (.server, "SPAN_KIND_SERVER"), (.client, "SPAN_KIND_CLIENT"), (.internal, "SPAN_KIND_INTERNAL"),
            (.producer, "SPAN_KIND_PRODUCER"), (.consumer, "SPAN_KIND_CONSUMER"),
            (.unspecified, "SPAN_KIND_UNSPECIFIED"),
        ]
        let statuses: [(SpanStatus.Code, String)] = [
            (.unset, "STATUS_CODE_UNSET"), (.ok, "STATUS_CODE_OK"), (.error, "STATUS_CODE_ERROR"),
        ]
        var expected: [String: Double] = [:]
        var resources: [ResourceSpans] = []
        for service in services {
            var spans: [Span] = []
            for _ in 0..<400 {
                let name = names.randomElement(using: &generator)!
                let kind = kinds.randomElement(using: &generator)!
                let status = statuses.randomElement(using: &generator)!
                spans.append(span(name, kind: kind.0, status: status.0))
                expected[Self.id(Self.calls, Self.labels(service, name, kind: kind.1, status: status.1)), default: 0] +=
                    1
            }
            resources.append(resource(service, spans))
        }
        let result = try #require(output(transform.process(.traces(SpanBatch(resourceSpans: resources)), context)))
        let counted = result.ids.filter { $0.hasPrefix(Self.calls + "{") }
        #expect(Set(counted) == Set(expected.keys))
        for (id, calls) in expected {
            #expect(result[id] == calls, "\(id)")
            #expect(result.types[id] == .counter)
            let count = Self.count + id.dropFirst(Self.calls.count)
            #expect(result[count] == calls, "\(count)")
            #expect(result.types[count] == .histogram)
        }
        #expect(transform.seriesCount == expected.count)
    }

    @Test func bucketsAreCumulativeAndInclusive() throws {
        var transform = try transform(["buckets": [0.01, 0.1, 1]])
        let durations: [UInt64] = [
            5_000_000,  // 5 ms
            10_000_000,  // exactly 10 ms: in le="0.01", as Prometheus buckets are ≤
            10_000_001,  // just above
            100_000_000,  // exactly 100 ms
            500_000_000,
            2_000_000_000,  // above every bound: only +Inf
        ]
        let result = try #require(
            output(transform.process(traces(resource("api", durations.map { span("GET", nanoseconds: $0) })), context)))
        let labels = Self.labels("api", "GET")
        let buckets = ["0.01": 2.0, "0.1": 4, "1": 5, "+Inf": 6]
        for (le, count) in buckets {
            let id = Self.id(Self.bucket, labels.merging(["le": le]) { $1 })
            #expect(result[id] == count, "le=\(le)")
            #expect(result.types[id] == .histogram)
        }
        #expect(result.ids.filter { $0.hasPrefix(Self.bucket) }.count == 4, "one series per bound and +Inf")
        #expect(result[Self.id(Self.count, labels)] == 6)
        // 0.005 + 0.01 + 0.010000001 + 0.1 + 0.5 + 2, added in nanoseconds: exactly what the literal reads as.
        #expect(result[Self.id(Self.sum, labels)] == 2.625000001)
        #expect(result.types[Self.id(Self.sum, labels)] == .histogram)
        #expect(result[Self.id(Self.calls, labels)] == 6)
    }

    @Test func defaultBucketBoundariesAndLeSpelling() throws {
        var transform = try transform()
        // Exactly 2 ms, 1.024 s and 16.384 s: each lands in its own bound.
        let spans = [2_000_000, 1_024_000_000, 16_384_000_000, 16_384_000_001].map { span("q", nanoseconds: $0) }
        let result = try #require(output(transform.process(traces(resource("api", spans)), context)))
        let le = result.ids.filter { $0.hasPrefix(Self.bucket) }.map { id in
            Self.label("le", of: id) ?? "?"
        }
        #expect(
            le == [
                "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512", "1.024", "2.048",
                "4.096", "8.192", "16.384", "+Inf",
            ])
        let labels = Self.labels("api", "q")
        func bucket(_ le: String) -> Double? { result[Self.id(Self.bucket, labels.merging(["le": le]) { $1 })] }
        #expect(bucket("0.002") == 1)
        #expect(bucket("0.512") == 1)
        #expect(bucket("1.024") == 2)
        #expect(bucket("8.192") == 2)
        #expect(bucket("16.384") == 3)
        #expect(bucket("+Inf") == 4)
        #expect(result[Self.id(Self.sum, labels)] == 33.794000001)
    }

    @Test func leIsSpelledAsTempoSpellsIt() throws {
        var transform = try transform(["buckets": [0.00001, 0.0001, 0.5, 1, 2.5, 100, 1_000_000, 1.5e7]])
        let result = try #require(output(transform.process(traces(resource("api", [span("q")])), context)))
        let le = result.ids.filter { $0.hasPrefix(Self.bucket) }.compactMap { id in
            Self.label("le", of: id)
        }
        // Go's FormatFloat(bound, 'f', -1, 64): shortest digits, never an exponent, never a trailing `.0`.
        #expect(le == ["0.00001", "0.0001", "0.5", "1", "2.5", "100", "1000000", "15000000", "+Inf"])
    }

    @Test func spansEndingBeforeTheyStartLastZero() throws {
        var transform = try transform(["buckets": [0, 1]])
        var backwards = span("skewed")
        backwards.endTimeUnixNano = backwards.startTimeUnixNano - 5_000
        let result = try #require(output(transform.process(traces(resource("api", [backwards])), context)))
        let labels = Self.labels("api", "skewed")
        #expect(result[Self.id(Self.bucket, labels.merging(["le": "0"]) { $1 })] == 1)
        #expect(result[Self.id(Self.sum, labels)] == 0)
    }

    // MARK: Across batches

    @Test func totalsAreCumulativeAcrossBatches() throws {
        var transform = try transform(["buckets": [0.1, 1]])
        let labels = Self.labels("api", "GET")
        let first = try #require(
            output(transform.process(traces(resource("api", [span("GET", nanoseconds: 50_000_000)])), context)))
        #expect(first[Self.id(Self.calls, labels)] == 1)
        let second = try #require(
            output(
                transform.process(
                    traces(
                        resource("api", [span("GET", nanoseconds: 500_000_000), span("GET", nanoseconds: 50_000_000)]),
                        resource("api", [span("GET", nanoseconds: 3_000_000_000)])),
                    context)))
        #expect(second[Self.id(Self.calls, labels)] == 4)
        #expect(second[Self.id(Self.count, labels)] == 4)
        #expect(second[Self.id(Self.bucket, labels.merging(["le": "0.1"]) { $1 })] == 2)
        #expect(second[Self.id(Self.bucket, labels.merging(["le": "1"]) { $1 })] == 3)
        #expect(second[Self.id(Self.bucket, labels.merging(["le": "+Inf"]) { $1 })] == 4)
        #expect(second[Self.id(Self.sum, labels)] == 3.6)
    }

    @Test func untouchedSeriesAreNotSentAgain() throws {
        var transform = try transform()
        let first = try #require(
            output(transform.process(traces(resource("api", [span("GET")]), resource("db", [span("SELECT")])), context))
        )
        #expect(first.ids.count == 2 * (1 + 15 + 2), "calls, 14 buckets and +Inf, sum and count per series")
        let second = try #require(output(transform.process(traces(resource("db", [span("SELECT")])), context)))
        #expect(second.ids.count == 18)
        #expect(second.ids.allSatisfy { $0.contains("service=db") })
        #expect(second[Self.id(Self.calls, Self.labels("db", "SELECT"))] == 2)
        #expect(transform.process(traces(), context) == nil, "nothing touched, nothing sent")
        #expect(transform.process(traces(resource("api", [])), context) == nil)
    }

    @Test func samplesAreStampedWithProcessingTimeAndNewSeriesStartAtZero() throws {
        var transform = try transform()
        let before = WallClock.nowNanoseconds() / 1_000_000
        let first = try #require(output(transform.process(traces(resource("api", [span("GET")])), context)))
        let second = try #require(output(transform.process(traces(resource("api", [span("GET")])), context)))
        let after = WallClock.nowNanoseconds() / 1_000_000
        let calls = Self.id(Self.calls, Self.labels("api", "GET"))
        let firstSamples = try #require(first.samples[calls])
        // A new counter starts with a 0 just before its first value, so increase() sees its first spans.
        try #require(firstSamples.count == 2)
        #expect(firstSamples[0].value == 0)
        #expect(firstSamples[1].value == 1)
        #expect(firstSamples[0].timestamp == firstSamples[1].timestamp - 1)
        #expect((before...after + 1).contains(firstSamples[1].timestamp))
        let secondSamples = try #require(second.samples[calls])
        #expect(secondSamples.map(\.value) == [2], "a known series gets its running total only")
        #expect(secondSamples[0].timestamp > firstSamples[1].timestamp, "never two values at one timestamp")
        for id in first.ids { #expect(first.samples[id]?.first?.value == 0, "\(id) starts at 0") }
        #expect(first.batch.metadata.map(\.familyName) == [Self.calls, "traces_spanmetrics_latency"])
        #expect(first.batch.metadata.map(\.type) == [.counter, .histogram])
    }

    @Test func timestampsIncreaseEvenWithinOneMillisecond() throws {
        var transform = try transform()
        var last = Int64.min
        for _ in 0..<50 {
            let result = try #require(output(transform.process(traces(resource("api", [span("GET")])), context)))
            let stamp = try #require(result.samples[Self.id(Self.calls, Self.labels("api", "GET"))]?.last?.timestamp)
            #expect(stamp > last)
            last = stamp
        }
    }

    // MARK: Labels

    @Test func serviceIsUnknownServiceWithoutServiceName() throws {
        var transform = try transform()
        let result = try #require(
            output(
                transform.process(
                    traces(
                        resource(nil, [span("GET")]), resource("", [span("GET")]),
                        resource(nil, [span("GET")], attributes: [Attribute("host.name", .string("n1"))])),
                    context)))
        #expect(result[Self.id(Self.calls, Self.labels("unknown_service", "GET"))] == 3)
    }

    @Test func kindAndStatusAreSpelledAsTempoSpellsThem() {
        #expect(SpanMetricsTransform.label(for: .server) == "SPAN_KIND_SERVER")
        #expect(SpanMetricsTransform.label(for: .unspecified) == "SPAN_KIND_UNSPECIFIED")
        #expect(SpanMetricsTransform.label(for: .error) == "STATUS_CODE_ERROR")
        #expect(SpanMetricsTransform.label(for: .ok) == "STATUS_CODE_OK")
        #expect(SpanMetricsTransform.label(for: .unset) == "STATUS_CODE_UNSET")
    }

    @Test func dimensionsBecomeSanitisedLabels() throws {
        var transform = try transform(["dimensions": ["http.method", "k8s.namespace.name", "http.status_code"]])
        let result = try #require(
            output(
                transform.process(
                    traces(
                        resource(
                            "api",
                            [
                                span(
                                    "GET",
                                    attributes: [
                                        Attribute("http.method", .string("GET")),
                                        Attribute("http.status_code", .int(200)),
                                        // The resource's value wins, as in Tempo.
                                        Attribute("k8s.namespace.name", .string("span-says")),
                                    ]),
                                span("GET", attributes: [Attribute("http.method", .string("POST"))]),
                                span("GET"),
                            ], attributes: [Attribute("k8s.namespace.name", .string("shop"))])),
                    context)))
        let shop = ["k8s_namespace_name": "shop"]
        #expect(
            result[
                Self.id(
                    Self.calls,
                    Self.labels("api", "GET", ["http_method": "GET", "http_status_code": "200"].merging(shop) { $1 }))]
                == 1)
        #expect(
            result[Self.id(Self.calls, Self.labels("api", "GET", ["http_method": "POST"].merging(shop) { $1 }))] == 1)
        // An absent attribute is no label at all (an empty value would mean the same to Prometheus).
        #expect(result[Self.id(Self.calls, Self.labels("api", "GET", shop))] == 1)
        #expect(result.ids.filter { $0.hasPrefix(Self.calls) }.count == 3)
    }

    // MARK: The series limit

    @Test func seriesLimitIsHonoured() throws {
        var transform = try transform(["max_series": 2])
        let first = try #require(
            output(
                transform.process(
                    traces(resource("api", [span("a"), span("b"), span("c"), span("c"), span("a")])), context)))
        #expect(first[Self.id(Self.calls, Self.labels("api", "a"))] == 2)
        #expect(first[Self.id(Self.calls, Self.labels("api", "b"))] == 1)
        #expect(first.ids.allSatisfy { !$0.contains("span_name=c") })
        #expect(transform.seriesCount == 2)
        let discarded = [
            ("component_id", "red"), ("component_kind", "transform"), ("component_type", "span_metrics"),
            ("reason", "series_limit"),
        ]
        #expect(telemetry.registry.value("petrel_component_discarded_events_total", labels: discarded) == 2)

        // Known series keep counting; new ones are still refused, and the warning is not repeated.
        let second = try #require(
            output(transform.process(traces(resource("api", [span("b"), span("d")])), context)))
        #expect(second[Self.id(Self.calls, Self.labels("api", "b"))] == 2)
        #expect(second.ids.allSatisfy { $0.contains("span_name=b") })
        #expect(telemetry.registry.value("petrel_component_discarded_events_total", labels: discarded) == 3)
        #expect(transform.process(traces(resource("api", [span("e")])), context) == nil)
        let warnings = logs.messages.withLock { $0.filter { $0.level == .warning } }
        #expect(warnings.count == 1)
        #expect(warnings.first?.message.contains("max_series (2)") == true)
    }
}

/// Log messages a test's logger received.
private final class LogCapture: Sendable {
    let messages = Mutex<[(level: Logger.Level, message: String)]>([])
}

private struct LogCaptureHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(_ capture: LogCapture) { self.capture = capture }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        capture.messages.withLock { $0.append((event.level, event.message.description)) }
    }
}
