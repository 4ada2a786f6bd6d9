import PetrelCore

/// One request's log records, with the acknowledgement of each piece of an input batch in it and how many of the
/// records (in order) that piece holds, so a sink told per record what became of them can let a piece go as soon as
/// all its records are done with.
struct LogRequest: Sendable {
    /// A run of records from one input batch.
    struct Piece: Sendable {
        var acknowledgement: Acknowledgement
        var records: Int
    }

    var records: [LogRecord] = []
    var pieces: [Piece] = []
}

/// Groups incoming log batches into requests of at most `maxEvents` records and about `maxBytes`, each sent at the
/// latest `maxAge` after its first record arrived; a batch that does not fit is split across requests.
struct LogRequestBatcher: RequestBatching {
    let maxEvents: Int
    let maxBytes: Int
    let maxAge: Duration
    private var pending = LogRequest()
    private var bytes = 0
    private var oldest: ContinuousClock.Instant?

    init(maxEvents: Int, maxBytes: Int, maxAge: Duration) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
        self.maxAge = maxAge
    }

    var deadline: ContinuousClock.Instant? { oldest.map { $0 + maxAge } }

    mutating func add(_ envelope: Envelope) -> [LogRequest] {
        add(envelope, now: .now)
    }

    /// Adds a batch; each request holding part of it holds its acknowledgement (split once per further part). Metrics
    /// and spans are acknowledged at once: the log sinks accept none.
    mutating func add(_ envelope: Envelope, now: ContinuousClock.Instant) -> [LogRequest] {
        guard case .logs(let batch) = envelope.batch, !batch.records.isEmpty else {
            envelope.acknowledgement.acknowledge()
            return []
        }
        // Records are split by count; their size is taken as the batch's average, close enough for a bound that only
        // has to keep requests under what receivers accept.
        let perRecord = max(1, batch.estimatedBytes / batch.records.count)
        // The first piece takes the batch's hold, every further piece a split of it. No request made here is sent
        // before this returns, so no piece can give its hold back before all are taken.
        var hold: Acknowledgement? = envelope.acknowledgement
        var ready: [LogRequest] = []
        var start = 0
        while start < batch.records.count {
            var room = min(maxEvents - pending.records.count, (maxBytes - bytes) / perRecord)
            if room <= 0 {
                if !pending.records.isEmpty {
                    ready.append(take())
                    continue
                }
                // A record larger than max_bytes still goes, alone.
                room = 1
            }
            let end = min(batch.records.count, start + room)
            if pending.records.isEmpty { oldest = now }
            pending.records.append(contentsOf: batch.records[start..<end])
            pending.pieces.append(
                LogRequest.Piece(acknowledgement: hold ?? envelope.acknowledgement.split(), records: end - start))
            hold = nil
            bytes += (end - start) * perRecord
            start = end
            if pending.records.count >= maxEvents || bytes >= maxBytes { ready.append(take()) }
        }
        return ready
    }

    mutating func flushExpired() -> [LogRequest] {
        flushExpired(now: .now)
    }

    mutating func flushExpired(now: ContinuousClock.Instant) -> [LogRequest] {
        guard let deadline, deadline <= now else { return [] }
        return [take()]
    }

    mutating func flushAll() -> [LogRequest] {
        pending.records.isEmpty ? [] : [take()]
    }

    private mutating func take() -> LogRequest {
        defer {
            pending = LogRequest()
            bytes = 0
            oldest = nil
        }
        return pending
    }
}

extension LogRequest: SinkRequest {
    var eventCount: Int { records.count }

    /// Every piece was delivered or dropped for good.
    func acknowledge() {
        for piece in pieces { piece.acknowledgement.acknowledge() }
    }
}
