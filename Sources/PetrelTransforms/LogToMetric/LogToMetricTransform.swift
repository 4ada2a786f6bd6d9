import PetrelCore

/// Turns log records into metric series, as Vector's `log_to_metric`: per configured metric, counters of records
/// (or of a field's values), gauges of a field's last value, and histograms of a field's values, labelled by
/// templates over each record.
///
/// The values are cumulative per label set since the series was created, as Prometheus counters are, so a
/// remote-write backend sees monotonic counters and classic histograms (`_bucket{le}`, `_sum`, `_count`). Every
/// `flush_interval` every live series goes out with its running value, stamped with the time of the flush; a
/// series no record updated for `expire_after` goes out once more as Prometheus' stale marker and is forgotten.
/// At most `max_series` label sets are kept. A record is done with (acknowledged) once it is counted.
///
/// ```yaml
/// transforms:
///   requests:
///     type: log_to_metric
///     inputs: [parsed]
///     metrics:
///       - type: counter
///         field: status
///         name: http_requests_total
///         tags: { status: "{{ fields.status }}", method: "{{ fields.method }}" }
///       - type: histogram
///         field: duration_seconds
///         name: http_request_duration_seconds
///         buckets: [0.1, 0.5, 1, 5]
/// ```
public struct LogToMetricTransform: HoldingTransform {
    public let config: LogToMetricConfig
    private var series: LogToMetricSeries
    private let now: @Sendable () -> ContinuousClock.Instant
    private let wallMilliseconds: @Sendable () -> Int64
    private var lastTimestamp: Int64 = .min
    private var warnedSeriesLimit = false

    public init(
        config: LogToMetricConfig, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        wallMilliseconds: @escaping @Sendable () -> Int64 = { WallClock.nowNanoseconds() / 1_000_000 }
    ) {
        self.config = config
        self.series = LogToMetricSeries(config: config)
        self.now = now
        self.wallMilliseconds = wallMilliseconds
    }

    public static let definition = ComponentDefinition(type: "log_to_metric", kind: .transform) { reader, _ in
        guard let config = LogToMetricConfig(from: reader) else { return nil }
        return .transform(LogToMetricTransform(config: config), accepts: .logs)
    }

    /// Logs in, metrics out.
    public func emits(from received: SignalSet) -> SignalSet {
        received.contains(.logs) ? .metrics : []
    }

    public var flushInterval: Duration { config.flushInterval }

    /// Label sets kept now.
    public var seriesCount: Int { series.series.count }

    public mutating func process(_ envelope: consuming Envelope, _ context: TransformContext) -> Envelope? {
        let acknowledgement = envelope.acknowledgement
        // Counted, a record is done with: its metric goes out on its own schedule, not with the record.
        defer { acknowledgement.acknowledge() }
        guard case .logs(let logs) = envelope.batch else { return nil }
        let instant = now()
        let milliseconds = wallMilliseconds()
        var skipped: [LogToMetricSeries.Skip: Int] = [:]
        for record in logs.records {
            for skip in series.observe(record, at: instant, wallMilliseconds: milliseconds) {
                skipped[skip, default: 0] += 1
            }
        }
        for (skip, count) in skipped {
            context.telemetry.discarded(count, reason: skip.rawValue)
        }
        if skipped[.seriesLimit] != nil, !warnedSeriesLimit {
            warnedSeriesLimit = true
            let message =
                "log_to_metric holds max_series (\(config.maxSeries)) label sets: records of new label sets are not"
                + " counted (petrel_component_discarded_events_total{reason=\"series_limit\"})"
            context.logger.warning("\(message)")
        }
        return nil
    }

    public mutating func flush(final: Bool, _ context: TransformContext) -> Envelope? {
        // Two flushes in one millisecond would give a series two values at one timestamp, which Prometheus rejects.
        let timestamp = max(wallMilliseconds(), lastTimestamp &+ 1)
        let expiredBefore = final ? nil : now() - config.expireAfter
        guard let batch = series.render(timestamp: timestamp, expiredBefore: expiredBefore) else { return nil }
        lastTimestamp = timestamp
        return Envelope(.metrics(batch))
    }
}
