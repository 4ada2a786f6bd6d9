import PetrelCore

/// One request's log records and the acknowledgements its delivery gives back (one per piece of an input batch).
struct PendingLogRequest: SinkRequest {
    var batch: LogBatch
    var acknowledgements: [Acknowledgement]

    var eventCount: Int { batch.records.count }

    /// The request was delivered or dropped for good: its input batches may be let go.
    func acknowledge() {
        for acknowledgement in acknowledgements { acknowledgement.acknowledge() }
    }
}

/// Groups incoming log batches into requests of at most `maxEvents` records and about `maxBytes`, each sent at the
/// latest `maxAge` after its first record arrived; a batch that does not fit is split.
struct HTTPSinkBatcher: RequestBatching {
    private var logs: OTLPAccumulator<LogBatch>

    init(maxEvents: Int, maxBytes: Int, maxAge: Duration) {
        logs = OTLPAccumulator(maxEvents: maxEvents, maxBytes: maxBytes, maxAge: maxAge)
    }

    var deadline: ContinuousClock.Instant? { logs.deadline }

    mutating func add(_ envelope: Envelope) -> [PendingLogRequest] {
        guard case .logs(let records) = envelope.batch else {
            // The graph sends this sink logs only.
            envelope.acknowledgement.acknowledge()
            return []
        }
        return logs.add(records, envelope.acknowledgement, now: .now).map {
            PendingLogRequest(batch: $0.0, acknowledgements: $0.1)
        }
    }

    mutating func flushExpired() -> [PendingLogRequest] {
        guard let deadline = logs.deadline, deadline <= .now, let records = logs.flush() else { return [] }
        return [PendingLogRequest(batch: records.0, acknowledgements: records.1)]
    }

    mutating func flushAll() -> [PendingLogRequest] {
        logs.flush().map { [PendingLogRequest(batch: $0.0, acknowledgements: $0.1)] } ?? []
    }
}
