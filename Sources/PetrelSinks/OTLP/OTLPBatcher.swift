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

/// One request's events and the acknowledgements its delivery gives back (one per piece of an input batch in it).
struct PendingExport: Sendable {
    var batch: OTLPBatch
    var acknowledgements: [Acknowledgement]

    var signal: Signal { batch.signal }
    var eventCount: Int { batch.eventCount }

    /// The request was delivered or dropped for good: its input batches may be let go.
    func acknowledge() {
        for acknowledgement in acknowledgements { acknowledgement.acknowledge() }
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

    /// Adds a batch; returns the requests that filled up. Each request holding part of the batch holds
    /// `acknowledgement` (split once per further part); metrics are acknowledged at once, as nothing here sends them.
    mutating func add(
        _ batch: EventBatch, acknowledgement: Acknowledgement = .none, now: ContinuousClock.Instant = .now
    ) -> [PendingExport] {
        switch batch {
        case .traces(let spans):
            return traces.add(spans, acknowledgement, now: now).map {
                PendingExport(batch: .traces($0.0), acknowledgements: $0.1)
            }
        case .logs(let records):
            return logs.add(records, acknowledgement, now: now).map {
                PendingExport(batch: .logs($0.0), acknowledgements: $0.1)
            }
        case .metrics, .alerts:
            acknowledgement.acknowledge()
            return []
        }
    }

    /// The pending requests whose deadline has passed.
    mutating func flushExpired(now: ContinuousClock.Instant = .now) -> [PendingExport] {
        var ready: [PendingExport] = []
        if let deadline = traces.deadline, deadline <= now, let spans = traces.flush() {
            ready.append(PendingExport(batch: .traces(spans.0), acknowledgements: spans.1))
        }
        if let deadline = logs.deadline, deadline <= now, let records = logs.flush() {
            ready.append(PendingExport(batch: .logs(records.0), acknowledgements: records.1))
        }
        return ready
    }

    /// Every pending request.
    mutating func flush() -> [PendingExport] {
        var ready: [PendingExport] = []
        if let spans = traces.flush() {
            ready.append(PendingExport(batch: .traces(spans.0), acknowledgements: spans.1))
        }
        if let records = logs.flush() {
            ready.append(PendingExport(batch: .logs(records.0), acknowledgements: records.1))
        }
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
    private var acknowledgements: [Acknowledgement] = []
    private var events = 0
    private var bytes = 0
    private var oldest: ContinuousClock.Instant?

    init(maxEvents: Int, maxBytes: Int, maxAge: Duration) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
        self.maxAge = maxAge
    }

    var deadline: ContinuousClock.Instant? { oldest.map { $0 + maxAge } }

    /// Adds a batch; returns the requests that filled up, each with the acknowledgements of the pieces in it.
    mutating func add(
        _ batch: Batch, _ acknowledgement: Acknowledgement, now: ContinuousClock.Instant
    ) -> [(Batch, [Acknowledgement])] {
        var rest = batch
        var restEvents = batch.exportEventCount
        guard restEvents > 0 else {
            acknowledgement.acknowledge()
            return []
        }
        // The first piece takes the batch's hold, every further piece a split of it. No request made here is sent
        // before this returns, so no piece can give its hold back before all are taken.
        var hold: Acknowledgement? = acknowledgement
        var restBytes = batch.estimatedBytes
        // Events are split by count; their size is taken as the batch's average, which is close
        // enough for a bound that only has to keep requests under what receivers accept.
        let perEvent = max(1, restBytes / restEvents)
        var ready: [(Batch, [Acknowledgement])] = []
        func nextHold() -> Acknowledgement {
            defer { hold = nil }
            return hold ?? acknowledgement.split()
        }
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
                append(rest, nextHold(), events: restEvents, bytes: restBytes, now: now)
                restEvents = 0
            } else {
                let head = rest.removeFirst(events: room)
                append(head, nextHold(), events: room, bytes: room * perEvent, now: now)
                restEvents -= room
                restBytes = max(0, restBytes - room * perEvent)
            }
            if events >= maxEvents || bytes >= maxBytes { ready.append(take()) }
        }
        return ready
    }

    /// The pending request; nil when there is none.
    mutating func flush() -> (Batch, [Acknowledgement])? {
        events > 0 ? take() : nil
    }

    private mutating func append(
        _ batch: Batch, _ acknowledgement: Acknowledgement, events: Int, bytes: Int, now: ContinuousClock.Instant
    ) {
        if self.events == 0 {
            pending = batch
            oldest = now
        } else {
            pending.append(contentsOf: batch)
        }
        acknowledgements.append(acknowledgement)
        self.events += events
        self.bytes += bytes
    }

    private mutating func take() -> (Batch, [Acknowledgement]) {
        defer {
            pending = .empty
            acknowledgements = []
            events = 0
            bytes = 0
            oldest = nil
        }
        return (pending, acknowledgements)
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
