import PetrelCore

/// One export request's worth of spans or log records.
enum OTLPBatch: Sendable {
    case traces(SpanBatch)
    case logs(LogBatch)

    var signal: Signal {
        switch self {
        case .traces: .traces
        case .logs: .logs
        }
    }

    var eventCount: Int {
        switch self {
        case .traces(let batch): batch.spanCount
        case .logs(let batch): batch.records.count
        }
    }
}

/// Groups incoming batches into requests of at most `maxEvents` spans or log records and about
/// `maxBytes`, each sent at the latest `maxAge` after its first event arrived; traces and logs apart,
/// since they go to different services.
///
/// A batch that does not fit is split, keeping its resource → scope grouping; the pieces of a group
/// that lands in one request stay one group, and queued batches are merged by concatenating groups.
struct OTLPBatcher {
    private var traces: OTLPAccumulator<SpanBatch>
    private var logs: OTLPAccumulator<LogBatch>

    init(maxEvents: Int, maxBytes: Int, maxAge: Duration) {
        traces = OTLPAccumulator(maxEvents: maxEvents, maxBytes: maxBytes, maxAge: maxAge)
        logs = OTLPAccumulator(maxEvents: maxEvents, maxBytes: maxBytes, maxAge: maxAge)
    }

    /// When the oldest pending request must go even if it is not full.
    var deadline: ContinuousClock.Instant? {
        switch (traces.deadline, logs.deadline) {
        case (let a?, let b?): min(a, b)
        case (let a, let b): a ?? b
        }
    }

    /// Adds a batch; returns the requests that filled up.
    mutating func add(_ batch: EventBatch, now: ContinuousClock.Instant = .now) -> [OTLPBatch] {
        switch batch {
        case .traces(let spans): traces.add(spans, now: now).map(OTLPBatch.traces)
        case .logs(let records): logs.add(records, now: now).map(OTLPBatch.logs)
        case .metrics: []
        }
    }

    /// The pending requests whose deadline has passed.
    mutating func flushExpired(now: ContinuousClock.Instant = .now) -> [OTLPBatch] {
        var ready: [OTLPBatch] = []
        if let deadline = traces.deadline, deadline <= now, let spans = traces.flush() { ready.append(.traces(spans)) }
        if let deadline = logs.deadline, deadline <= now, let records = logs.flush() { ready.append(.logs(records)) }
        return ready
    }

    /// Every pending request.
    mutating func flush() -> [OTLPBatch] {
        var ready: [OTLPBatch] = []
        if let spans = traces.flush() { ready.append(.traces(spans)) }
        if let records = logs.flush() { ready.append(.logs(records)) }
        return ready
    }
}

/// A batch the accumulator can count, merge and split.
protocol OTLPBatchable: Sendable {
    static var empty: Self { get }
    var exportEventCount: Int { get }
    var estimatedBytes: Int { get }
    mutating func append(contentsOf other: Self)
    /// Removes the first `count` events and returns them, grouped as they were.
    mutating func removeFirst(events count: Int) -> Self
}

/// The pending request of one signal.
struct OTLPAccumulator<Batch: OTLPBatchable> {
    let maxEvents: Int
    let maxBytes: Int
    let maxAge: Duration
    private var pending = Batch.empty
    private var events = 0
    private var bytes = 0
    private var oldest: ContinuousClock.Instant?

    init(maxEvents: Int, maxBytes: Int, maxAge: Duration) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
        self.maxAge = maxAge
    }

    var deadline: ContinuousClock.Instant? { oldest.map { $0 + maxAge } }

    mutating func add(_ batch: Batch, now: ContinuousClock.Instant) -> [Batch] {
        var rest = batch
        var restEvents = batch.exportEventCount
        guard restEvents > 0 else { return [] }
        var restBytes = batch.estimatedBytes
        // Events are split by count; their size is taken as the batch's average, which is close
        // enough for a bound that only has to keep requests under what receivers accept.
        let perEvent = max(1, restBytes / restEvents)
        var ready: [Batch] = []
        while restEvents > 0 {
            var room = min(maxEvents - events, (maxBytes - bytes) / perEvent)
            if room <= 0 {
                if events > 0 {
                    ready.append(take())
                    continue
                }
                // An event larger than max_bytes still goes, alone.
                room = 1
            }
            if restEvents <= room {
                append(rest, events: restEvents, bytes: restBytes, now: now)
                restEvents = 0
            } else {
                let head = rest.removeFirst(events: room)
                append(head, events: room, bytes: room * perEvent, now: now)
                restEvents -= room
                restBytes = max(0, restBytes - room * perEvent)
            }
            if events >= maxEvents || bytes >= maxBytes { ready.append(take()) }
        }
        return ready
    }

    /// The pending request; nil when there is none.
    mutating func flush() -> Batch? {
        events > 0 ? take() : nil
    }

    private mutating func append(_ batch: Batch, events: Int, bytes: Int, now: ContinuousClock.Instant) {
        if self.events == 0 {
            pending = batch
            oldest = now
        } else {
            pending.append(contentsOf: batch)
        }
        self.events += events
        self.bytes += bytes
    }

    private mutating func take() -> Batch {
        defer {
            pending = .empty
            events = 0
            bytes = 0
            oldest = nil
        }
        return pending
    }
}

extension SpanBatch: OTLPBatchable {
    static var empty: SpanBatch { SpanBatch() }

    var exportEventCount: Int { spanCount }

    mutating func append(contentsOf other: SpanBatch) {
        resourceSpans.append(contentsOf: other.resourceSpans)
    }

    mutating func removeFirst(events count: Int) -> SpanBatch {
        var head = SpanBatch()
        var remaining = count
        while remaining > 0, !resourceSpans.isEmpty {
            let resourceCount = resourceSpans[0].scopeSpans.reduce(0) { $0 + $1.spans.count }
            if resourceCount <= remaining {
                head.resourceSpans.append(resourceSpans.removeFirst())
                remaining -= resourceCount
                continue
            }
            let resource = resourceSpans[0]
            var headResource = ResourceSpans(resource: resource.resource, schemaURL: resource.schemaURL)
            while remaining > 0 {
                let scope = resourceSpans[0].scopeSpans[0]
                if scope.spans.count <= remaining {
                    headResource.scopeSpans.append(resourceSpans[0].scopeSpans.removeFirst())
                    remaining -= scope.spans.count
                } else {
                    headResource.scopeSpans.append(
                        ScopeSpans(
                            scope: scope.scope, schemaURL: scope.schemaURL, spans: Array(scope.spans.prefix(remaining)))
                    )
                    resourceSpans[0].scopeSpans[0].spans.removeFirst(remaining)
                    remaining = 0
                }
            }
            head.resourceSpans.append(headResource)
        }
        return head
    }
}

extension LogBatch: OTLPBatchable {
    static var empty: LogBatch { LogBatch() }

    var exportEventCount: Int { records.count }

    mutating func append(contentsOf other: LogBatch) {
        records.append(contentsOf: other.records)
    }

    mutating func removeFirst(events count: Int) -> LogBatch {
        let head = LogBatch(records: Array(records.prefix(count)))
        records.removeFirst(min(count, records.count))
        return head
    }
}
