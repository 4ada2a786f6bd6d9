/// One unit of work flowing along the graph: a batch of a single signal.
public enum EventBatch: Sendable {
    case metrics(MetricBatch)
    case logs(LogBatch)
    case traces(SpanBatch)

    public var signal: Signal {
        switch self {
        case .metrics: .metrics
        case .logs: .logs
        case .traces: .traces
        }
    }

    /// Events as telemetry counts them: series for metrics, records for logs, spans for traces.
    public var eventCount: Int {
        switch self {
        case .metrics(let batch): batch.seriesCount
        case .logs(let batch): batch.records.count
        case .traces(let batch): batch.spanCount
        }
    }

    /// An estimate of the in-memory size, for byte counters and queue accounting.
    public var estimatedBytes: Int {
        switch self {
        case .metrics(let batch): batch.estimatedBytes
        case .logs(let batch): batch.estimatedBytes
        case .traces(let batch): batch.estimatedBytes
        }
    }
}
