/// One unit of work flowing along the graph: a batch of a single signal.
public enum EventBatch: Sendable {
    case metrics(MetricBatch)
    case logs(LogBatch)
    case traces(SpanBatch)
    case alerts(AlertBatch)

    public var signal: Signal {
        switch self {
        case .metrics: .metrics
        case .logs: .logs
        case .traces: .traces
        case .alerts: .alerts
        }
    }

    /// Events as telemetry counts them: series for metrics, records for logs, spans for traces, alerts.
    public var eventCount: Int {
        switch self {
        case .metrics(let batch): batch.seriesCount
        case .logs(let batch): batch.records.count
        case .traces(let batch): batch.spanCount
        case .alerts(let batch): batch.alerts.count
        }
    }

    /// An estimate of the in-memory size, for byte counters and queue accounting.
    public var estimatedBytes: Int {
        switch self {
        case .metrics(let batch): batch.estimatedBytes
        case .logs(let batch): batch.estimatedBytes
        case .traces(let batch): batch.estimatedBytes
        case .alerts(let batch): batch.estimatedBytes
        }
    }
}
