import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf
import Testing

@Suite struct OTLPMetricConversionTests {
    typealias Metric = Opentelemetry_Proto_Metrics_V1_Metric
    typealias NumberPoint = Opentelemetry_Proto_Metrics_V1_NumberDataPoint

    static let time: UInt64 = 1_700_000_000_123_456_789
    static let milliseconds: Int64 = 1_700_000_000_123

    // MARK: Building requests

    static func resourceAttributes() -> [OTLPFixtures.KeyValue] {
        [
            OTLPFixtures.attribute("service.name", "checkout"), OTLPFixtures.attribute("service.namespace", "shop"),
            OTLPFixtures.attribute("service.instance.id", "checkout-7d9f"),
            OTLPFixtures.attribute("k8s.namespace.name", "prod"), OTLPFixtures.attribute("host.name", "node-1"),
        ]
    }

    static func request(_ metrics: [Metric], resource: [OTLPFixtures.KeyValue] = resourceAttributes())
        -> OTLPFixtures.MetricsRequest
    {
        var scope = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        scope.scope.name = "io.opentelemetry.runtime"
        scope.scope.version = "2.1.0"
        scope.metrics = metrics
        var resourceMetrics = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
        resourceMetrics.resource.attributes = resource
        resourceMetrics.scopeMetrics = [scope]
        var request = OTLPFixtures.MetricsRequest()
        request.resourceMetrics = [resourceMetrics]
        return request
    }

    static func point(_ value: NumberPoint.OneOf_Value, time: UInt64 = time, _ attributes: [OTLPFixtures.KeyValue] = [])
        -> NumberPoint
    {
        var point = NumberPoint()
        point.value = value
        point.timeUnixNano = time
        point.startTimeUnixNano = time - 60_000_000_000
        point.attributes = attributes
        return point
    }

    static func gauge(_ name: String, unit: String = "", _ points: [NumberPoint]) -> Metric {
        var metric = Metric()
        metric.name = name
        metric.unit = unit
        metric.description_p = "a gauge"
        metric.gauge.dataPoints = points
        return metric
    }

    static func sum(
        _ name: String, unit: String = "", monotonic: Bool = true,
        temporality: Opentelemetry_Proto_Metrics_V1_AggregationTemporality = .cumulative,
        _ points: [NumberPoint]
    ) -> Metric {
        var metric = Metric()
        metric.name = name
        metric.unit = unit
        metric.sum.dataPoints = points
        metric.sum.isMonotonic = monotonic
        metric.sum.aggregationTemporality = temporality
        return metric
    }

    // MARK: Reading batches

    /// Series as `name{label="value",...}` (labels sorted, no `__name__`, no job and instance) to samples.
    static func series(_ batch: MetricBatch, withIdentity: Bool = false) -> [String: [Sample]] {
        var result: [String: [Sample]] = [:]
        for index in batch.series.indices {
            result[key(batch, index, withIdentity: withIdentity)] = Array(batch.samples(of: index))
        }
        return result
    }

    static func key(_ batch: MetricBatch, _ index: Int, withIdentity: Bool = false) -> String {
        let pairs = batch.labelPairs(of: index)
        let name = pairs.first { $0.name == "__name__" }?.value ?? ""
        let rest = pairs.filter {
            $0.name != "__name__" && (withIdentity || ($0.name != "job" && $0.name != "instance"))
        }
        return name + "{" + rest.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }

    static func types(_ batch: MetricBatch) -> [String: MetricType] {
        var result: [String: MetricType] = [:]
        for index in batch.series.indices { result[key(batch, index)] = batch.series[index].type }
        return result
    }

    private let conversion = OTLPMetricConversion(options: OTLPMetricOptions())

    private func noTargetInfo() -> OTLPMetricConversion {
        var options = OTLPMetricOptions()
        options.resourceAttributes = .none
        return OTLPMetricConversion(options: options)
    }

    // MARK: Gauges and sums

    @Test func gaugeWithUnit() {
        let metric = Self.gauge(
            "process.runtime.memory", unit: "By",
            [Self.point(.asInt(52_428_800), [OTLPFixtures.attribute("pool", "heap")])])
        let result = conversion.metricBatch(from: Self.request([metric]))
        #expect(result.rejectedDataPoints == 0)
        #expect(result.message == nil)
        let index = result.batch.series.indices.first {
            result.batch.labelValue(series: $0, name: "__name__") != "target_info"
        }!
        #expect(
            result.batch.labelPairs(of: index).map { "\($0.name)=\($0.value)" } == [
                "__name__=process_runtime_memory_bytes", "instance=checkout-7d9f", "job=shop/checkout", "pool=heap",
            ])
        #expect(
            result.batch.samples(of: index).elementsEqual([Sample(timestamp: Self.milliseconds, value: 52_428_800)]))
        #expect(result.batch.series[index].type == .gauge)
        #expect(
            result.batch.metadata.contains(
                MetricMetadata(type: .gauge, familyName: "process_runtime_memory_bytes", help: "a gauge", unit: "bytes")
            ))
    }

    @Test func monotonicSumIsACounter() {
        let metric = Self.sum("requests", unit: "{request}", [Self.point(.asInt(1027))])
        let batch = noTargetInfo().metricBatch(from: Self.request([metric])).batch
        #expect(Self.series(batch) == ["requests_total{}": [Sample(timestamp: Self.milliseconds, value: 1027)]])
        #expect(Self.types(batch) == ["requests_total{}": .counter])
        #expect(batch.metadata == [MetricMetadata(type: .counter, familyName: "requests_total")])
    }

    @Test func nonMonotonicSumIsAGauge() {
        let metric = Self.sum(
            "http.server.active_requests", unit: "{request}", monotonic: false, [Self.point(.asDouble(12.5))])
        let batch = noTargetInfo().metricBatch(from: Self.request([metric])).batch
        #expect(
            Self.series(batch) == ["http_server_active_requests{}": [Sample(timestamp: Self.milliseconds, value: 12.5)]]
        )
        #expect(Self.types(batch) == ["http_server_active_requests{}": .gauge])
    }

    @Test func pointsOfOneSeriesBecomeOneSeriesInTimeOrder() {
        let attributes = [OTLPFixtures.attribute("http.response.status_code", OTLPFixtures.value(.intValue(200)))]
        let metric = Self.sum(
            "http.server.requests", unit: "1",
            [
                Self.point(.asInt(20), time: Self.time + 30_000_000_000, attributes),
                Self.point(.asInt(10), time: Self.time, attributes),
                Self.point(.asInt(1), time: Self.time, [OTLPFixtures.attribute("http.response.status_code", "500")]),
            ])
        let batch = noTargetInfo().metricBatch(from: Self.request([metric])).batch
        #expect(
            Self.series(batch) == [
                "http_server_requests_total{http_response_status_code=\"200\"}": [
                    Sample(timestamp: Self.milliseconds, value: 10),
                    Sample(timestamp: Self.milliseconds + 30_000, value: 20),
                ],
                "http_server_requests_total{http_response_status_code=\"500\"}": [
                    Sample(timestamp: Self.milliseconds, value: 1)
                ],
            ])
    }

    @Test func noRecordedValueIsAStalenessMarker() {
        var point = Self.point(.asDouble(3))
        point.flags = 1
        let batch = noTargetInfo().metricBatch(from: Self.request([Self.gauge("queue.depth", [point])])).batch
        #expect(batch.samples.count == 1)
        #expect(batch.samples[0].value.bitPattern == 0x7ff0_0000_0000_0002)
    }

    @Test func unknownTypeFromPrometheusMetadata() {
        var metric = Self.gauge("scraped.thing", [Self.point(.asDouble(1))])
        metric.metadata = [OTLPFixtures.attribute("prometheus.type", "unknown")]
        let batch = noTargetInfo().metricBatch(from: Self.request([metric])).batch
        #expect(Self.types(batch) == ["scraped_thing{}": .unknown])
    }

    // MARK: Names

    private func name(_ name: String, unit: String, _ kind: String, suffixes: Bool = true) -> String {
        var options = OTLPMetricOptions()
        options.resourceAttributes = .none
        options.addUnitAndTypeSuffixes = suffixes
        let metric: Metric
        switch kind {
        case "counter": metric = Self.sum(name, unit: unit, [Self.point(.asInt(1))])
        case "updown": metric = Self.sum(name, unit: unit, monotonic: false, [Self.point(.asInt(1))])
        default: metric = Self.gauge(name, unit: unit, [Self.point(.asInt(1))])
        }
        let batch = OTLPMetricConversion(options: options).metricBatch(from: Self.request([metric], resource: [])).batch
        return batch.series.isEmpty ? "<none>" : batch.labelValue(series: 0, name: "__name__") ?? "<none>"
    }

    @Test func metricNamesFollowTheSpecification() {
        #expect(name("process.runtime.memory", unit: "By", "gauge") == "process_runtime_memory_bytes")
        #expect(name("system.cpu.utilization", unit: "1", "gauge") == "system_cpu_utilization_ratio")
        #expect(name("system.cpu.utilization_ratio", unit: "1", "gauge") == "system_cpu_utilization_ratio")
        #expect(name("http.server.requests", unit: "1", "counter") == "http_server_requests_total")
        #expect(name("queue.size", unit: "1", "updown") == "queue_size")
        #expect(name("requests_total", unit: "", "counter") == "requests_total")
        #expect(name("total.requests", unit: "", "counter") == "requests_total")
        #expect(name("system.network.dropped", unit: "{packets}", "counter") == "system_network_dropped_total")
        #expect(name("system.network.dropped", unit: "packets", "counter") == "system_network_dropped_packets_total")
        #expect(name("disk.io.time", unit: "ms", "counter") == "disk_io_time_milliseconds_total")
        #expect(name("jvm.memory.limit", unit: "KiBy", "gauge") == "jvm_memory_limit_kibibytes")
        #expect(name("network.throughput", unit: "By/s", "gauge") == "network_throughput_bytes_per_second")
        #expect(name("vehicle.speed", unit: "m/s", "gauge") == "vehicle_speed_meters_per_second")
        #expect(name("event.rate", unit: "{event}/s", "gauge") == "event_rate_per_second")
        #expect(name("temperature", unit: "Cel", "gauge") == "temperature_celsius")
        #expect(name("request.duration.seconds", unit: "s", "gauge") == "request_duration_seconds")
        #expect(name("(lambda).function.executions(#)", unit: "", "gauge") == "lambda_function_executions")
        #expect(name("a..b__c", unit: "", "gauge") == "a_b_c")
        #expect(name("2xx.responses", unit: "", "counter") == "_2xx_responses_total")
        #expect(name("ns:metric.name", unit: "", "gauge") == "ns:metric_name")
        #expect(
            name("http.server.request.duration", unit: "s", "gauge", suffixes: false) == "http_server_request_duration")
        #expect(name("requests", unit: "{request}", "counter", suffixes: false) == "requests")
    }

    @Test func nameWithNothingValidIsRejected() {
        let metric = Self.gauge("...", [Self.point(.asInt(1)), Self.point(.asInt(2))])
        let result = noTargetInfo().metricBatch(from: Self.request([metric]))
        #expect(result.batch.series.isEmpty)
        #expect(result.rejectedDataPoints == 2)
        #expect(
            result.message
                == #"2 data points rejected: metric "...": the name has no character valid in Prometheus (2 points)"#)
    }

    // MARK: Labels

    @Test func attributesBecomeSanitisedLabels() {
        var array = Opentelemetry_Proto_Common_V1_ArrayValue()
        array.values = [OTLPFixtures.string("a"), OTLPFixtures.value(.intValue(1))]
        let attributes = [
            OTLPFixtures.attribute("a_b", "underscore"), OTLPFixtures.attribute("a.b", "dot"),
            OTLPFixtures.attribute("a-b", "dash"),
            OTLPFixtures.attribute("2xx", "digit"), OTLPFixtures.attribute("_private", "underscore first"),
            OTLPFixtures.attribute("__reserved", "kept"),
            OTLPFixtures.attribute("ok", OTLPFixtures.value(.boolValue(true))),
            OTLPFixtures.attribute("ratio", OTLPFixtures.value(.doubleValue(0.5))),
            OTLPFixtures.attribute("tiny", OTLPFixtures.value(.doubleValue(1e-7))),
            OTLPFixtures.attribute("list", OTLPFixtures.value(.arrayValue(array))),
            OTLPFixtures.attribute("blank", ""), OTLPFixtures.attribute("", "no key"),
            OTLPFixtures.attribute("caf\u{e9}", "accent"),
        ]
        let batch = noTargetInfo().metricBatch(
            from: Self.request([Self.gauge("g", [Self.point(.asInt(1), attributes)])])
        ).batch
        // "a-b" < "a.b" < "a_b" byte-wise: collisions join in that order.
        #expect(
            Array(Self.series(batch).keys) == [
                #"g{__reserved="kept",a_b="dash;dot;underscore",caf_="accent",key_2xx="digit",key_private="underscore first","#
                    + #"list="["a",1]",ok="true",ratio="0.5",tiny="1e-7"}"#
            ])
    }

    @Test func jobAndInstanceComeFromTheService() {
        let resource = [
            OTLPFixtures.attribute("service.name", "api"), OTLPFixtures.attribute("service.instance.id", "i-1"),
        ]
        let batch = noTargetInfo().metricBatch(
            from: Self.request([Self.gauge("up", [Self.point(.asInt(1))])], resource: resource)
        ).batch
        #expect(Array(Self.series(batch, withIdentity: true).keys) == [#"up{instance="i-1",job="api"}"#])
    }

    // MARK: Resource attributes

    @Test func targetInfoCarriesTheOtherResourceAttributes() {
        let early = Self.point(.asInt(1), time: Self.time - 15_000_000_000)
        let late = Self.point(.asInt(2), time: Self.time)
        let result = conversion.metricBatch(from: Self.request([Self.gauge("a", [early]), Self.gauge("b", [late])]))
        let series = Self.series(result.batch, withIdentity: true)
        #expect(
            series[
                #"target_info{host_name="node-1",instance="checkout-7d9f",job="shop/checkout",k8s_namespace_name="prod"}"#
            ]
                == [Sample(timestamp: Self.milliseconds, value: 1)])
        #expect(series[#"a{instance="checkout-7d9f",job="shop/checkout"}"#] != nil)
        #expect(series.count == 3)
        #expect(Self.types(result.batch)["target_info{host_name=\"node-1\",k8s_namespace_name=\"prod\"}"] == .gauge)
        #expect(
            result.batch.metadata.contains(
                MetricMetadata(type: .gauge, familyName: "target_info", help: "Target metadata")))
    }

    @Test func noTargetInfoWithoutOtherAttributesOrIdentity() {
        let onlyIdentity = [OTLPFixtures.attribute("service.name", "api")]
        let gauge = Self.gauge("up", [Self.point(.asInt(1))])
        #expect(conversion.metricBatch(from: Self.request([gauge], resource: onlyIdentity)).batch.series.count == 1)
        let noIdentity = [OTLPFixtures.attribute("host.name", "node-1")]
        #expect(conversion.metricBatch(from: Self.request([gauge], resource: noIdentity)).batch.series.count == 1)
    }

    @Test func promotedAttributesLabelEverySeries() {
        var options = OTLPMetricOptions()
        options.resourceAttributes = .promote
        options.promotedResourceAttributes = ["k8s.namespace.name", "host.name", "absent"]
        let metric = Self.gauge(
            "up",
            [
                Self.point(.asInt(1)), Self.point(.asInt(1), [OTLPFixtures.attribute("host.name", "from-point")]),
            ])
        let batch = OTLPMetricConversion(options: options).metricBatch(from: Self.request([metric])).batch
        #expect(
            Set(Self.series(batch).keys) == [
                #"up{host_name="node-1",k8s_namespace_name="prod"}"#,
                // The point's own attribute wins over the promoted one.
                #"up{host_name="from-point",k8s_namespace_name="prod"}"#,
            ])
    }

    @Test func noneDropsResourceAttributesButKeepsIdentity() {
        let batch = noTargetInfo().metricBatch(from: Self.request([Self.gauge("up", [Self.point(.asInt(1))])])).batch
        #expect(
            Array(Self.series(batch, withIdentity: true).keys) == [#"up{instance="checkout-7d9f",job="shop/checkout"}"#]
        )
    }

    @Test func scopeLabelsWhenAsked() {
        var options = OTLPMetricOptions()
        options.resourceAttributes = .none
        options.addScopeLabels = true
        let batch = OTLPMetricConversion(options: options).metricBatch(
            from: Self.request([Self.gauge("up", [Self.point(.asInt(1))])])
        ).batch
        #expect(
            Array(Self.series(batch).keys) == [
                #"up{otel_scope_name="io.opentelemetry.runtime",otel_scope_version="2.1.0"}"#
            ])
    }

    // MARK: Histograms and summaries

    static func histogram(
        temporality: Opentelemetry_Proto_Metrics_V1_AggregationTemporality = .cumulative, flags: UInt32 = 0
    ) -> Metric {
        var point = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
        point.timeUnixNano = time
        point.attributes = [OTLPFixtures.attribute("http.route", "/users")]
        point.count = 12
        point.sum = 3.75
        point.explicitBounds = [0.005, 0.1, 1, 2.5]
        point.bucketCounts = [2, 5, 3, 1, 1]
        point.flags = flags
        var metric = Metric()
        metric.name = "http.server.request.duration"
        metric.unit = "s"
        metric.histogram.dataPoints = [point]
        metric.histogram.aggregationTemporality = temporality
        return metric
    }

    @Test func histogramBecomesBucketsSumAndCount() {
        let batch = noTargetInfo().metricBatch(from: Self.request([Self.histogram()])).batch
        let ms = Self.milliseconds
        let name = "http_server_request_duration_seconds"
        let route = #"http_route="/users""#
        #expect(
            Self.series(batch) == [
                "\(name)_bucket{\(route),le=\"0.005\"}": [Sample(timestamp: ms, value: 2)],
                "\(name)_bucket{\(route),le=\"0.1\"}": [Sample(timestamp: ms, value: 7)],
                "\(name)_bucket{\(route),le=\"1\"}": [Sample(timestamp: ms, value: 10)],
                "\(name)_bucket{\(route),le=\"2.5\"}": [Sample(timestamp: ms, value: 11)],
                "\(name)_bucket{\(route),le=\"+Inf\"}": [Sample(timestamp: ms, value: 12)],
                "\(name)_sum{\(route)}": [Sample(timestamp: ms, value: 3.75)],
                "\(name)_count{\(route)}": [Sample(timestamp: ms, value: 12)],
            ])
        #expect(Set(Self.types(batch).values) == [.histogram])
        #expect(batch.metadata == [MetricMetadata(type: .histogram, familyName: name, unit: "seconds")])
    }

    @Test func histogramWithoutSumHasNoSumSeries() {
        var metric = Self.histogram()
        metric.histogram.dataPoints[0].clearSum()
        let batch = noTargetInfo().metricBatch(from: Self.request([metric])).batch
        #expect(!Self.series(batch).keys.contains { $0.contains("_sum") })
        #expect(Self.series(batch).count == 6)
    }

    @Test func staleHistogramMarksEverySeries() {
        let batch = noTargetInfo().metricBatch(from: Self.request([Self.histogram(flags: 1)])).batch
        #expect(batch.samples.count == 7)
        #expect(batch.samples.allSatisfy { $0.value.bitPattern == 0x7ff0_0000_0000_0002 })
    }

    @Test func summaryBecomesQuantilesSumAndCount() {
        var point = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint()
        point.timeUnixNano = Self.time
        point.count = 100
        point.sum = 52.5
        var median = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.ValueAtQuantile()
        median.quantile = 0.5
        median.value = 0.4
        var tail = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.ValueAtQuantile()
        tail.quantile = 0.99
        tail.value = 1.2
        point.quantileValues = [median, tail]
        var metric = Metric()
        metric.name = "rpc.latency"
        metric.unit = "ms"
        metric.summary.dataPoints = [point]
        let batch = noTargetInfo().metricBatch(from: Self.request([metric])).batch
        let ms = Self.milliseconds
        #expect(
            Self.series(batch) == [
                #"rpc_latency_milliseconds{quantile="0.5"}"#: [Sample(timestamp: ms, value: 0.4)],
                #"rpc_latency_milliseconds{quantile="0.99"}"#: [Sample(timestamp: ms, value: 1.2)],
                "rpc_latency_milliseconds_sum{}": [Sample(timestamp: ms, value: 52.5)],
                "rpc_latency_milliseconds_count{}": [Sample(timestamp: ms, value: 100)],
            ])
        #expect(Set(Self.types(batch).values) == [.summary])
    }

    static func exponential(
        scale: Int32, positive: (Int32, [UInt64]), negative: (Int32, [UInt64]) = (0, []), flags: UInt32 = 0,
        temporality: Opentelemetry_Proto_Metrics_V1_AggregationTemporality = .cumulative
    ) -> Metric {
        var point = Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint()
        point.timeUnixNano = time
        point.scale = scale
        point.count = positive.1.reduce(0, +) + negative.1.reduce(0, +) + 1
        point.sum = 42.5
        point.zeroCount = 1
        point.positive.offset = positive.0
        point.positive.bucketCounts = positive.1
        point.negative.offset = negative.0
        point.negative.bucketCounts = negative.1
        point.flags = flags
        point.attributes = [OTLPFixtures.attribute("http.route", "/users")]
        var metric = Metric()
        metric.name = "http.server.request.duration"
        metric.unit = "s"
        metric.exponentialHistogram.dataPoints = [point]
        metric.exponentialHistogram.aggregationTemporality = temporality
        return metric
    }

    @Test func exponentialHistogramBecomesANativeHistogram() throws {
        let metric = Self.exponential(scale: 2, positive: (-1, [1, 2, 0, 0, 0, 3]), negative: (0, [4]))
        let batch = noTargetInfo().metricBatch(from: Self.request([metric])).batch
        #expect(batch.series.count == 1)
        #expect(Self.key(batch, 0) == #"http_server_request_duration_seconds{http_route="/users"}"#)
        #expect(batch.series[0].type == .histogram)
        #expect(batch.series[0].sampleCount == 0)
        #expect(batch.series[0].histogramCount == 1)
        let histogram = try #require(batch.histograms.first)
        #expect(histogram.schema == 2)
        #expect(histogram.count == .int(11))
        #expect(histogram.sum == 42.5)
        #expect(histogram.zeroCount == .int(1))
        #expect(histogram.zeroThreshold == 1e-128)
        #expect(histogram.timestamp == Self.milliseconds)
        #expect(histogram.resetHint == .unknown)
        // OTLP index -1 is Prometheus index 0; the three empty buckets are one gap too many to fill with zeros.
        #expect(histogram.positiveSpans == [BucketSpan(offset: 0, length: 2), BucketSpan(offset: 3, length: 1)])
        #expect(histogram.positiveDeltas == [1, 1, 1])
        #expect(histogram.negativeSpans == [BucketSpan(offset: 1, length: 1)])
        #expect(histogram.negativeDeltas == [4])
        #expect(histogram.positiveCounts.isEmpty)
    }

    @Test func smallGapsAreFilledWithZeros() throws {
        let metric = Self.exponential(scale: 0, positive: (0, [0, 3, 0, 0, 5, 0]))
        let histogram = try #require(noTargetInfo().metricBatch(from: Self.request([metric])).batch.histograms.first)
        #expect(histogram.positiveSpans == [BucketSpan(offset: 2, length: 4)])
        #expect(histogram.positiveDeltas == [3, -3, 0, 5])
    }

    @Test func scaleAboveEightIsMergedDown() throws {
        var metric = Self.exponential(scale: 10, positive: (0, [1, 1, 1, 1, 2]), negative: (-3, [1, 1, 1, 1]))
        metric.exponentialHistogram.dataPoints[0].zeroThreshold = 0.001
        let histogram = try #require(noTargetInfo().metricBatch(from: Self.request([metric])).batch.histograms.first)
        #expect(histogram.schema == 8)
        #expect(histogram.zeroThreshold == 0.001)
        // Four buckets at scale 10 make one at scale 8: OTLP indexes 0...3 are Prometheus index 1, 4 is 2.
        #expect(histogram.positiveSpans == [BucketSpan(offset: 1, length: 2)])
        #expect(histogram.positiveDeltas == [4, -2])
        // -3...-1 floor to -1 (Prometheus 0), 0 to 0 (Prometheus 1).
        #expect(histogram.negativeSpans == [BucketSpan(offset: 0, length: 2)])
        #expect(histogram.negativeDeltas == [3, -2])
    }

    @Test func scaleBelowMinusFourIsRejected() {
        let result = noTargetInfo().metricBatch(from: Self.request([Self.exponential(scale: -5, positive: (0, [1]))]))
        #expect(result.batch.series.isEmpty)
        #expect(result.rejectedDataPoints == 1)
        #expect(result.message?.contains("scale -5 is below -4") == true)
    }

    @Test func staleExponentialHistogram() throws {
        let metric = Self.exponential(scale: 1, positive: (0, [1]), flags: 1)
        let histogram = try #require(noTargetInfo().metricBatch(from: Self.request([metric])).batch.histograms.first)
        #expect(histogram.sum.bitPattern == 0x7ff0_0000_0000_0002)
        #expect(histogram.count == .int(0x7ff0_0000_0000_0002))
    }

    // MARK: Rejections

    @Test func deltaTemporalityIsRejectedAndCounted() {
        let metrics = [
            Self.sum(
                "requests", unit: "{request}", temporality: .delta, [Self.point(.asInt(1)), Self.point(.asInt(2))]),
            Self.histogram(temporality: .delta),
            Self.exponential(scale: 0, positive: (0, [1]), temporality: .delta),
            Self.sum("unspecified", temporality: .unspecified, [Self.point(.asInt(1))]),
            Self.sum("kept", [Self.point(.asInt(5))]),
        ]
        let result = noTargetInfo().metricBatch(from: Self.request(metrics))
        #expect(result.rejectedDataPoints == 5)
        #expect(Self.series(result.batch) == ["kept_total{}": [Sample(timestamp: Self.milliseconds, value: 5)]])
        #expect(
            result.message
                == #"5 data points rejected: metric "requests": delta temporality cannot be represented in Prometheus "#
                + #"(2 points); metric "http.server.request.duration": delta temporality cannot be represented in "#
                + #"Prometheus (2 points); metric "unspecified": unspecified aggregation temporality (1 point)"#)
    }

    @Test func manyReasonsAreSummed() {
        let metrics = (0..<5).map { Self.sum("delta.\($0)", temporality: .delta, [Self.point(.asInt(1))]) }
        let result = noTargetInfo().metricBatch(from: Self.request(metrics))
        #expect(result.rejectedDataPoints == 5)
        #expect(result.message?.hasSuffix("; and 2 more metrics") == true)
    }

    @Test func leLabelsAreShortestDecimals() {
        var metric = Self.histogram()
        metric.histogram.dataPoints[0].explicitBounds = [1e-7, 0.25, 100_000, 1e21]
        let batch = noTargetInfo().metricBatch(from: Self.request([metric])).batch
        let les = Set(batch.series.indices.compactMap { batch.labelValue(series: $0, name: "le") })
        #expect(les == ["0.0000001", "0.25", "100000", "1000000000000000000000", "+Inf"])
    }
}
