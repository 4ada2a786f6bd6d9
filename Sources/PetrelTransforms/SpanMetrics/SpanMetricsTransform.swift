import PetrelCore

/// Turns spans into RED metrics (rate, errors, duration) named and labelled as Grafana Tempo's span-metrics
/// processor names them, so dashboards built on Tempo's metrics work unchanged.
///
/// Per `service`, `span_name`, `span_kind` and `status_code` (plus the configured dimensions) it keeps
/// `traces_spanmetrics_calls_total` (a counter) and `traces_spanmetrics_latency` (a classic histogram in seconds:
/// `_bucket` with `le`, `_sum`, `_count`), cumulative since the transform started, as Prometheus counters are.
/// Each span batch becomes one metric batch with the running totals of the series that batch changed, stamped
/// with the time it was processed, ready for a remote-write sink.
///
/// ```yaml
/// transforms:
///   red:
///     type: span_metrics
///     inputs: [otlp_in]
///     dimensions: [http.method, k8s.namespace.name]
///   node:
///     type: tag                 # each Petrel's counters are its own: label them, or they collide in the backend
///     inputs: [red]
///     labels: { node: "${NODE_NAME}" }
/// ```
public struct SpanMetricsTransform: Transform {
    public let config: SpanMetricsTransformConfig
    private var aggregator: SpanMetricsAggregator
    private var lastTimestamp: Int64 = .min
    private var warnedSeriesLimit = false

    /// The counter of spans, Tempo's name.
    public static let callsMetric = "traces_spanmetrics_calls_total"
    /// The latency histogram's family name, Tempo's; its series add `_bucket`, `_sum` and `_count`.
    public static let latencyMetric = "traces_spanmetrics_latency"
    /// The `service` of spans whose resource has no `service.name`, as OpenTelemetry SDKs default it.
    public static let unknownService = "unknown_service"

    public init(config: SpanMetricsTransformConfig) {
        self.config = config
        self.aggregator = SpanMetricsAggregator(config: config)
    }

    public static let definition = ComponentDefinition(type: "span_metrics", kind: .transform) { reader, _ in
        guard let config = SpanMetricsTransformConfig(from: reader) else { return nil }
        return .transform(SpanMetricsTransform(config: config), accepts: .traces)
    }

    /// Spans in, metrics out.
    public func emits(from received: SignalSet) -> SignalSet {
        received.contains(.traces) ? .metrics : []
    }

    /// Distinct label sets counted so far.
    public var seriesCount: Int { aggregator.seriesCount }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        // The graph only sends it traces (it accepts nothing else), and it emits nothing but metrics.
        guard case .traces(let traces) = batch else { return nil }
        var overLimit = 0
        for resourceSpans in traces.resourceSpans {
            let service = Self.service(of: resourceSpans.resource)
            let resourceDimensions = aggregator.resourceDimensions(resourceSpans.resource)
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans
                where !aggregator.observe(span, service: service, resourceDimensions: resourceDimensions) {
                    overLimit += 1
                }
            }
        }
        if overLimit > 0 {
            context.telemetry.discarded(overLimit, reason: "series_limit")
            if !warnedSeriesLimit {
                warnedSeriesLimit = true
                let message =
                    "span_metrics holds max_series (\(config.maxSeries)) label sets: spans of new label sets are not"
                    + " counted (petrel_component_discarded_events_total{reason=\"series_limit\"})"
                context.logger.warning("\(message)")
            }
        }
        // Two batches in one millisecond would give a series two values at one timestamp, which Prometheus
        // rejects as a duplicate sample; stamps run ahead of the clock only while batches come faster than that.
        let timestamp = max(WallClock.nowNanoseconds() / 1_000_000, lastTimestamp &+ 1)
        guard let metrics = aggregator.render(timestamp: timestamp) else { return nil }
        lastTimestamp = timestamp
        return .metrics(metrics)
    }

    static func service(of resource: Resource) -> String {
        guard let name = resource.attributes["service.name"]?.text, !name.isEmpty else { return unknownService }
        return name
    }

    /// A span kind as Tempo writes it in `span_kind`: the OTLP enum name, `SPAN_KIND_SERVER`.
    public static func label(for kind: SpanKind) -> String {
        switch kind {
        case .unspecified: "SPAN_KIND_UNSPECIFIED"
        case .internal: "SPAN_KIND_INTERNAL"
        case .server: "SPAN_KIND_SERVER"
        case .client: "SPAN_KIND_CLIENT"
        case .producer: "SPAN_KIND_PRODUCER"
        case .consumer: "SPAN_KIND_CONSUMER"
        }
    }

    /// A status code as Tempo writes it in `status_code`: the OTLP enum name, `STATUS_CODE_ERROR`.
    public static func label(for code: SpanStatus.Code) -> String {
        switch code {
        case .unset: "STATUS_CODE_UNSET"
        case .ok: "STATUS_CODE_OK"
        case .error: "STATUS_CODE_ERROR"
        }
    }
}
