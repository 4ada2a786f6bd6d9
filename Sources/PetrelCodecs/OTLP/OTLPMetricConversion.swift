import OTLPProtos
import PetrelCore

/// Converts OTLP metric export requests to Prometheus series, after the OpenTelemetry-to-Prometheus compatibility
/// specification and the Collector's remote-write exporter.
///
/// Gauges and cumulative sums give one sample per point (monotonic sums are counters named `…_total`, others
/// gauges); cumulative histograms give `_bucket{le}`, `_sum` and `_count` series; cumulative exponential histograms
/// give native histograms; summaries give `{quantile}`, `_sum` and `_count` series. Delta temporality cannot be
/// represented in Prometheus, so those points are rejected and counted, for the OTLP partial-success answer.
/// Exemplars are not converted.
public struct OTLPMetricConversion: Sendable {
    /// The series of a request, and what of it could not be converted.
    public struct Result: Sendable {
        public var batch: MetricBatch
        public var rejectedDataPoints: Int
        /// Why points were rejected, naming the metrics, for the partial-success `error_message`.
        public var message: String?

        public init(batch: MetricBatch, rejectedDataPoints: Int = 0, message: String? = nil) {
            self.batch = batch
            self.rejectedDataPoints = rejectedDataPoints
            self.message = message
        }
    }

    public var options: OTLPMetricOptions

    public init(options: OTLPMetricOptions) {
        self.options = options
    }

    public init() {
        self.init(options: OTLPMetricOptions())
    }

    /// The value Prometheus reads as "this series is stale", its staleness marker.
    static let staleNaN = Double(bitPattern: 0x7ff0_0000_0000_0002)

    /// The zero bucket's width when the sender gives none, as the specification asks.
    static let defaultZeroThreshold = 1e-128

    public func metricBatch(from request: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest)
        -> OTLPMetricConversion.Result
    {
        var state = State(options: options)
        for resourceMetrics in request.resourceMetrics {
            state.resource = ResourceLabels(resourceMetrics.resource.attributes, options: options)
            state.latestTimestamp = 0
            for scopeMetrics in resourceMetrics.scopeMetrics {
                state.scopeLabels = [:]
                if options.addScopeLabels && !scopeMetrics.scope.name.isEmpty {
                    state.scopeLabels["otel_scope_name"] = scopeMetrics.scope.name
                    state.scopeLabels["otel_scope_version"] = scopeMetrics.scope.version
                }
                for metric in scopeMetrics.metrics {
                    state.convert(metric)
                }
            }
            if options.resourceAttributes == .targetInfo { state.addTargetInfo() }
        }
        return Result(
            batch: state.builder.batch(), rejectedDataPoints: state.rejections.count,
            message: state.rejections.message)
    }

    // MARK: Conversion

    private typealias ProtoMetric = Opentelemetry_Proto_Metrics_V1_Metric
    private typealias ProtoKeyValue = Opentelemetry_Proto_Common_V1_KeyValue
    private typealias Temporality = Opentelemetry_Proto_Metrics_V1_AggregationTemporality

    private struct State {
        let options: OTLPMetricOptions
        var builder = OTLPSeriesBuilder()
        var rejections = Rejections()
        var resource = ResourceLabels()
        var scopeLabels: [String: String] = [:]
        /// The most recent point of the current resource, in nanoseconds: the time of its `target_info` sample.
        var latestTimestamp: UInt64 = 0

        init(options: OTLPMetricOptions) {
            self.options = options
        }

        mutating func convert(_ metric: ProtoMetric) {
            switch metric.data {
            case .gauge(let gauge):
                let type: MetricType = isPrometheusUnknown(metric) ? .unknown : .gauge
                guard let name = name(metric, .gauge, points: gauge.dataPoints.count) else { return }
                builder.addMetadata(metadata(metric, name: name, type: type))
                numberPoints(gauge.dataPoints, name: name, type: type)
            case .sum(let sum):
                guard temporalityIsCumulative(metric, sum.aggregationTemporality, points: sum.dataPoints.count) else {
                    return
                }
                let kind: PrometheusNaming.Kind = sum.isMonotonic ? .monotonicCounter : .nonMonotonicCounter
                guard let name = name(metric, kind, points: sum.dataPoints.count) else { return }
                let type: MetricType = sum.isMonotonic ? .counter : .gauge
                builder.addMetadata(metadata(metric, name: name, type: type))
                numberPoints(sum.dataPoints, name: name, type: type)
            case .histogram(let histogram):
                let count = histogram.dataPoints.count
                guard temporalityIsCumulative(metric, histogram.aggregationTemporality, points: count),
                    let name = name(metric, .histogram, points: count)
                else { return }
                builder.addMetadata(metadata(metric, name: name, type: .histogram))
                histogramPoints(histogram.dataPoints, name: name)
            case .exponentialHistogram(let histogram):
                let count = histogram.dataPoints.count
                guard temporalityIsCumulative(metric, histogram.aggregationTemporality, points: count),
                    let name = name(metric, .histogram, points: count)
                else { return }
                builder.addMetadata(metadata(metric, name: name, type: .histogram))
                exponentialHistogramPoints(histogram.dataPoints, metric: metric.name, name: name)
            case .summary(let summary):
                guard let name = name(metric, .summary, points: summary.dataPoints.count) else { return }
                builder.addMetadata(metadata(metric, name: name, type: .summary))
                summaryPoints(summary.dataPoints, name: name)
            case nil:
                // No data, no points: nothing to convert and nothing to count.
                break
            }
        }

        private mutating func name(_ metric: ProtoMetric, _ kind: PrometheusNaming.Kind, points: Int) -> String? {
            let name = PrometheusNaming.metricName(
                metric.name, unit: metric.unit, kind: kind, addSuffixes: options.addUnitAndTypeSuffixes)
            guard name.isEmpty else { return name }
            rejections.reject(points, metric: metric.name, reason: "the name has no character valid in Prometheus")
            return nil
        }

        private mutating func temporalityIsCumulative(_ metric: ProtoMetric, _ temporality: Temporality, points: Int)
            -> Bool
        {
            switch temporality {
            case .cumulative:
                return true
            case .delta:
                rejections.reject(
                    points, metric: metric.name, reason: "delta temporality cannot be represented in Prometheus")
            default:
                rejections.reject(points, metric: metric.name, reason: "unspecified aggregation temporality")
            }
            return false
        }

        private func isPrometheusUnknown(_ metric: ProtoMetric) -> Bool {
            metric.metadata.contains { $0.key == "prometheus.type" && $0.value.stringValue == "unknown" }
        }

        private func metadata(_ metric: ProtoMetric, name: String, type: MetricType) -> MetricMetadata {
            MetricMetadata(
                type: type, familyName: name, help: metric.description_p, unit: PrometheusNaming.unitName(metric.unit))
        }

        // MARK: Points

        private mutating func numberPoints(
            _ points: [Opentelemetry_Proto_Metrics_V1_NumberDataPoint], name: String, type: MetricType
        ) {
            for point in points {
                var value: Double
                switch point.value {
                case .asInt(let number): value = Double(number)
                case .asDouble(let number): value = number
                case nil: value = 0
                }
                if isNoRecordedValue(point.flags) { value = OTLPMetricConversion.staleNaN }
                let labels = pointLabels(point.attributes, name: name)
                builder.add(
                    Sample(timestamp: milliseconds(point.timeUnixNano), value: value), labels: labels, type: type)
            }
        }

        private mutating func histogramPoints(
            _ points: [Opentelemetry_Proto_Metrics_V1_HistogramDataPoint], name: String
        ) {
            for point in points {
                let timestamp = milliseconds(point.timeUnixNano)
                let stale = isNoRecordedValue(point.flags)
                var base = pointLabels(point.attributes, name: name)
                func sample(_ value: Double) -> Sample {
                    Sample(timestamp: timestamp, value: stale ? OTLPMetricConversion.staleNaN : value)
                }
                var cumulative: UInt64 = 0
                for (bound, count) in zip(point.explicitBounds, point.bucketCounts) {
                    cumulative &+= count
                    var bucket = base
                    bucket["__name__"] = name + "_bucket"
                    bucket["le"] = PrometheusNaming.formatFloat(bound)
                    builder.add(sample(Double(cumulative)), labels: bucket, type: .histogram)
                }
                var infinity = base
                infinity["__name__"] = name + "_bucket"
                infinity["le"] = "+Inf"
                builder.add(sample(Double(point.count)), labels: infinity, type: .histogram)
                if point.hasSum {
                    base["__name__"] = name + "_sum"
                    builder.add(sample(point.sum), labels: base, type: .histogram)
                }
                base["__name__"] = name + "_count"
                builder.add(sample(Double(point.count)), labels: base, type: .histogram)
            }
        }

        private mutating func exponentialHistogramPoints(
            _ points: [Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint], metric: String, name: String
        ) {
            for point in points {
                guard let histogram = OTLPMetricConversion.nativeHistogram(point) else {
                    rejections.reject(
                        1, metric: metric, reason: "exponential histogram scale \(point.scale) is below -4")
                    continue
                }
                let labels = pointLabels(point.attributes, name: name)
                builder.add(histogram, labels: labels, type: .histogram)
                note(point.timeUnixNano)
            }
        }

        private mutating func summaryPoints(_ points: [Opentelemetry_Proto_Metrics_V1_SummaryDataPoint], name: String) {
            for point in points {
                let timestamp = milliseconds(point.timeUnixNano)
                let stale = isNoRecordedValue(point.flags)
                var base = pointLabels(point.attributes, name: name)
                func sample(_ value: Double) -> Sample {
                    Sample(timestamp: timestamp, value: stale ? OTLPMetricConversion.staleNaN : value)
                }
                for quantile in point.quantileValues {
                    var labels = base
                    labels["quantile"] = PrometheusNaming.formatFloat(quantile.quantile)
                    builder.add(sample(quantile.value), labels: labels, type: .summary)
                }
                base["__name__"] = name + "_sum"
                builder.add(sample(point.sum), labels: base, type: .summary)
                base["__name__"] = name + "_count"
                builder.add(sample(Double(point.count)), labels: base, type: .summary)
            }
        }

        private func isNoRecordedValue(_ flags: UInt32) -> Bool {
            flags & UInt32(Opentelemetry_Proto_Metrics_V1_DataPointFlags.noRecordedValueMask.rawValue) != 0
        }

        private mutating func milliseconds(_ nanoseconds: UInt64) -> Int64 {
            note(nanoseconds)
            return Int64(nanoseconds / 1_000_000)
        }

        private mutating func note(_ nanoseconds: UInt64) {
            latestTimestamp = max(latestTimestamp, nanoseconds)
        }

        // MARK: Labels

        /// A point's labels: its attributes, the scope's labels, promoted resource attributes where no attribute
        /// has the name, then `job` and `instance`, then the metric name.
        private func pointLabels(_ attributes: [ProtoKeyValue], name: String) -> [String: String] {
            var labels = Self.sanitized(attributes)
            for (key, value) in scopeLabels { labels[key] = value }
            for (key, value) in resource.promoted where (labels[key] ?? "").isEmpty { labels[key] = value }
            if let job = resource.job { labels["job"] = job }
            if let instance = resource.instance { labels["instance"] = instance }
            labels["__name__"] = name
            return labels
        }

        /// Attributes as labels; attributes whose names collide after sanitising are joined with `;` in the order
        /// of their original keys, as the specification asks.
        static func sanitized(_ attributes: [ProtoKeyValue]) -> [String: String] {
            var labels: [String: String] = [:]
            labels.reserveCapacity(attributes.count + 4)
            let ordered =
                attributes.count > 1
                ? attributes.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) } : attributes
            for attribute in ordered {
                guard let name = PrometheusNaming.labelName(attribute.key) else { continue }
                let value = PrometheusNaming.labelValue(OTLPValueConversion.anyValue(attribute.value))
                if let existing = labels[name], !existing.isEmpty {
                    labels[name] = existing + ";" + value
                } else {
                    labels[name] = value
                }
            }
            return labels
        }

        mutating func addTargetInfo() {
            guard latestTimestamp > 0, !resource.otherAttributes.isEmpty,
                resource.job != nil || resource.instance != nil
            else { return }
            var labels = Self.sanitized(resource.otherAttributes)
            if let job = resource.job { labels["job"] = job }
            if let instance = resource.instance { labels["instance"] = instance }
            labels["__name__"] = "target_info"
            builder.addMetadata(MetricMetadata(type: .gauge, familyName: "target_info", help: "Target metadata"))
            builder.add(Sample(timestamp: Int64(latestTimestamp / 1_000_000), value: 1), labels: labels, type: .gauge)
        }
    }

    /// What a resource contributes to its series.
    private struct ResourceLabels {
        var job: String?
        var instance: String?
        /// Labels from promoted attributes, in `.promote` mode.
        var promoted: [String: String] = [:]
        /// The attributes other than `service.name`, `service.namespace` and `service.instance.id`.
        var otherAttributes: [ProtoKeyValue] = []

        init() {}

        init(_ attributes: [ProtoKeyValue], options: OTLPMetricOptions) {
            func text(_ key: String) -> String? {
                attributes.first { $0.key == key }.map {
                    PrometheusNaming.labelValue(OTLPValueConversion.anyValue($0.value))
                }
            }
            if let name = text("service.name") {
                if let namespace = text("service.namespace"), !namespace.isEmpty {
                    job = namespace + "/" + name
                } else {
                    job = name
                }
            }
            instance = text("service.instance.id")
            let identifying: Set<String> = ["service.name", "service.namespace", "service.instance.id"]
            otherAttributes = attributes.filter { !identifying.contains($0.key) }
            if options.resourceAttributes == .promote {
                let wanted = Set(options.promotedResourceAttributes)
                promoted = State.sanitized(attributes.filter { wanted.contains($0.key) })
            }
        }
    }

    /// Counts rejected points and remembers why, per metric, for one message.
    private struct Rejections {
        private(set) var count = 0
        private var reasons: [(metric: String, reason: String, points: Int)] = []

        mutating func reject(_ points: Int, metric: String, reason: String) {
            guard points > 0 else { return }
            count += points
            if let index = reasons.firstIndex(where: { $0.metric == metric && $0.reason == reason }) {
                reasons[index].points += points
            } else {
                reasons.append((metric, reason, points))
            }
        }

        var message: String? {
            guard count > 0 else { return nil }
            let shown = reasons.prefix(3).map { entry in
                "metric \(entry.metric.debugDescription): \(entry.reason) (\(entry.points) "
                    + (entry.points == 1 ? "point)" : "points)")
            }
            let more = reasons.count > 3 ? "; and \(reasons.count - 3) more metrics" : ""
            return "\(count) data " + (count == 1 ? "point" : "points") + " rejected: "
                + shown.joined(separator: "; ") + more
        }
    }
}
