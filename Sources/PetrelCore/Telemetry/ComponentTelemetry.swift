import Synchronization

/// Where in a component an error happened, as Vector's component specification names the stages.
public enum ErrorStage: String, Sendable, CaseIterable {
    case receiving
    case processing
    case sending
}

/// The counters, gauges and request-duration histogram every component reports, labelled with its id, type and
/// kind.
///
/// Counted per batch, never per event, so the cost does not grow with the event rate.
public final class ComponentTelemetry: Sendable {
    public let id: String
    public let type: String
    public let kind: ComponentKind
    public let receivedEvents: Counter
    public let receivedBytes: Counter
    public let sentEvents: Counter
    public let sentBytes: Counter
    public let queueBatches: Gauge
    public let queueEvents: Gauge
    public let queueBytes: Gauge
    /// How long the component took over each request it served or sent, in seconds: a source from receiving a
    /// request to answering it, a sink per request sent (`telemetry.requestDuration.observe(seconds)`).
    public let requestDuration: Histogram
    private let discardedTotal = Atomic<Int>(0)
    private let errorsTotal = Atomic<Int>(0)
    /// The registry, for metrics of its own that a component adds beside the standard ones.
    public let registry: TelemetryRegistry

    public init(id: String, type: String, kind: ComponentKind, registry: TelemetryRegistry) {
        self.id = id
        self.type = type
        self.kind = kind
        self.registry = registry
        let labels = [("component_id", id), ("component_kind", kind.rawValue), ("component_type", type)]
        receivedEvents = registry.counter(
            "petrel_component_received_events_total", help: "Events the component received.", labels: labels)
        receivedBytes = registry.counter(
            "petrel_component_received_bytes_total",
            help: "Bytes the component received: wire bytes for sources, estimated in-memory bytes otherwise.",
            labels: labels)
        sentEvents = registry.counter(
            "petrel_component_sent_events_total", help: "Events the component sent on.", labels: labels)
        sentBytes = registry.counter(
            "petrel_component_sent_bytes_total",
            help: "Bytes the component sent: wire bytes for sinks, estimated in-memory bytes otherwise.",
            labels: labels)
        queueBatches = registry.gauge(
            "petrel_component_queue_batches", help: "Batches waiting in the component's input queue.",
            labels: labels)
        queueEvents = registry.gauge(
            "petrel_component_queue_events", help: "Events waiting in the component's input queue.", labels: labels)
        queueBytes = registry.gauge(
            "petrel_component_queue_bytes",
            help: "Estimated in-memory bytes of the batches waiting in the component's input queue (a sink's memory "
                + "buffer).",
            labels: labels)
        requestDuration = registry.histogram(
            "petrel_component_request_duration_seconds",
            help: "Seconds the component took over a request: from receipt to answer for sources, per request sent "
                + "for sinks.",
            labels: labels)
        for stage in ErrorStage.allCases {
            _ = errorCounter(stage)
        }
        registry.catalog.register(self)
    }

    private var labels: [(String, String)] {
        [("component_id", id), ("component_kind", kind.rawValue), ("component_type", type)]
    }

    /// Events dropped so far, for every reason.
    public var discardedEvents: Int { discardedTotal.load(ordering: .relaxed) }

    /// Counts events dropped on purpose or by necessity, by reason (`queue_full`, `http_400`...).
    public func discarded(_ count: Int, reason: String) {
        discardedTotal.add(count, ordering: .relaxed)
        registry.counter(
            "petrel_component_discarded_events_total", help: "Events the component dropped, by reason.",
            labels: labels + [("reason", reason)]
        ).increment(by: count)
    }

    /// Errors so far, at every stage.
    public var errors: Int { errorsTotal.load(ordering: .relaxed) }

    /// Counts events of a request the sender was told to send again (429, 503, RESOURCE_EXHAUSTED): they are not
    /// received, and a retry brings them back, so they are kept out of `received_events`.
    public func refused(_ count: Int, reason: String) {
        registry.counter(
            "petrel_component_refused_events_total",
            help: "Events of requests a source answered with \"retry later\", by reason.",
            labels: labels + [("reason", reason)]
        ).increment(by: count)
    }

    /// Counts an error at a stage.
    public func error(_ stage: ErrorStage) {
        errorsTotal.add(1, ordering: .relaxed)
        errorCounter(stage).increment()
    }

    private func errorCounter(_ stage: ErrorStage) -> Counter {
        registry.counter(
            "petrel_component_errors_total", help: "Errors the component met, by stage.",
            labels: labels + [("stage", stage.rawValue)])
    }
}
