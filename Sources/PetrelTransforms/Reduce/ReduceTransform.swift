import PetrelCodecs
import PetrelCore

/// Merges runs of log records into one, as Vector's `reduce`: records are grouped by the values of `group_by`, a
/// group ends at a record matching `ends_when` (or before one matching `starts_when`), at `max_events`, or after
/// `expire_after_ms` without a new record, and its records go out as one, each field merged by its strategy.
///
/// A merged record holds the acknowledgements of every record in it, so a file's checkpoint does not pass a line
/// whose merged record has not been delivered yet. Metrics and spans pass through.
///
/// ```yaml
/// transforms:
///   stack_traces:
///     type: reduce
///     inputs: [app_logs]
///     group_by: [pod]
///     starts_when: 'match(string!(.message), r'^\S')'   # a line not indented starts a record
///     merge_strategies: { message: concat_newline }
/// ```
public struct ReduceTransform: HoldingTransform {
    public let config: ReduceConfig
    private let now: @Sendable () -> ContinuousClock.Instant
    private var groups: [[AnyValue?]: Group] = [:]
    /// Numbers batches, so a group takes one hold on each batch it has records of.
    private var batchNumber: UInt64 = 0

    /// The field that takes the last record's time when `timestamp` has no strategy, Vector's `timestamp_end`.
    public static let timestampEndField = "timestamp_end"

    /// The records of one open group, merged so far.
    struct Group {
        var first: LogRecord
        var fields: [String: FieldMerge] = [:]
        var message: FieldMerge
        var severity: FieldMerge?
        var lastTimestamp: Int64
        var minTimestamp: Int64
        var maxTimestamp: Int64
        var count = 1
        var acknowledgements: [Acknowledgement] = []
        var heldBatch: UInt64 = 0
        var lastUpdate: ContinuousClock.Instant
    }

    public init(config: ReduceConfig, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.config = config
        self.now = now
    }

    public static let definition = ComponentDefinition(type: "reduce", kind: .transform) { reader, _ in
        guard let config = ReduceConfig(from: reader) else { return nil }
        return .transform(ReduceTransform(config: config), accepts: .all)
    }

    public var flushInterval: Duration { config.flushPeriod }

    /// Groups open now.
    public var openGroups: Int { groups.count }

    public mutating func process(_ envelope: consuming Envelope, _ context: TransformContext) -> Envelope? {
        let acknowledgement = envelope.acknowledgement
        guard case .logs(let logs) = envelope.batch else { return envelope }
        // The batch's own hold is given back at the end: every group with a record of it has taken one of its own.
        defer { acknowledgement.acknowledge() }
        batchNumber += 1
        let instant = now()
        var done: [Group] = []
        for record in logs.records {
            let key = config.groupBy.map { record.field(path: $0) }
            if let startsWhen = config.startsWhen, Self.matches(record, startsWhen), let open = groups[key] {
                done.append(open)
                groups[key] = nil
            }
            if groups[key] == nil {
                groups[key] = Group(starting: record, strategies: config.mergeStrategies, at: instant)
            } else {
                groups[key]!.add(record, strategies: config.mergeStrategies, at: instant)
            }
            if groups[key]!.heldBatch != batchNumber {
                groups[key]!.heldBatch = batchNumber
                groups[key]!.acknowledgements.append(acknowledgement.split())
            }
            let ends = config.endsWhen.map { Self.matches(record, $0) } ?? false
            if ends || config.maxEvents.map({ groups[key]!.count >= $0 }) ?? false {
                done.append(groups[key]!)
                groups[key] = nil
            }
        }
        return merging(done)
    }

    public mutating func flush(final: Bool, _ context: TransformContext) -> Envelope? {
        let expiredBefore = now() - config.expireAfter
        var done: [Group] = []
        for (key, group) in groups where final || group.lastUpdate <= expiredBefore {
            done.append(group)
            groups[key] = nil
        }
        // Oldest first, so records of one source leave in the order they began.
        done.sort { $0.first.timestamp < $1.first.timestamp }
        return merging(done)
    }

    /// The merged records of finished groups, holding every acknowledgement they took.
    private func merging(_ done: [Group]) -> Envelope? {
        guard !done.isEmpty else { return nil }
        let records = done.map { $0.merged(timestampStrategy: config.mergeStrategies["timestamp"]) }
        return Envelope(
            .logs(LogBatch(records: records)), acknowledgement: .combining(done.flatMap(\.acknowledgements)))
    }

    private static func matches(_ record: LogRecord, _ boundary: ReduceConfig.Boundary) -> Bool {
        switch boundary {
        case .filter(let condition):
            return condition.evaluate { FilterTransform.lookup(record, $0) }
        case .remap(let program):
            var state = RemapTransform.state(of: record, metadata: true)
            return (try? program.run(&state)) == .boolean(true)
        }
    }
}

extension ReduceTransform.Group {
    init(starting record: LogRecord, strategies: [String: ReduceStrategy], at instant: ContinuousClock.Instant) {
        first = record
        message = FieldMerge(strategies["message"] ?? .discard, first: .string(record.message))
        if !record.severity.isEmpty {
            severity = FieldMerge(strategies["severity"] ?? .discard, first: .string(record.severity))
        }
        lastTimestamp = record.timestamp
        minTimestamp = record.timestamp
        maxTimestamp = record.timestamp
        lastUpdate = instant
        for (name, value) in record.fields {
            fields[name] = FieldMerge(strategies[name] ?? FieldMerge.defaultStrategy(for: value), first: value)
        }
    }

    mutating func add(_ record: LogRecord, strategies: [String: ReduceStrategy], at instant: ContinuousClock.Instant) {
        count += 1
        lastUpdate = instant
        message.add(.string(record.message))
        if !record.severity.isEmpty {
            if severity == nil {
                severity = FieldMerge(strategies["severity"] ?? .discard, first: .string(record.severity))
            } else {
                severity!.add(.string(record.severity))
            }
        }
        lastTimestamp = record.timestamp
        minTimestamp = Swift.min(minTimestamp, record.timestamp)
        maxTimestamp = Swift.max(maxTimestamp, record.timestamp)
        for (name, value) in record.fields {
            if fields[name] == nil {
                // A field the group had not seen yet starts with this record's value.
                fields[name] = FieldMerge(strategies[name] ?? FieldMerge.defaultStrategy(for: value), first: value)
            } else {
                fields[name]!.add(value)
            }
        }
    }

    /// The group as one record: the first record's metadata and resource, every field merged.
    func merged(timestampStrategy: ReduceStrategy?) -> LogRecord {
        var record = first
        record.fields = fields.mapValues(\.value)
        switch message.value {
        case .string(let text): record.message = text
        // A strategy that makes the message an array keeps it among the fields.
        case let other: record.fields["message"] = other
        }
        if let severity, case .string(let text) = severity.value { record.severity = text }
        switch timestampStrategy {
        case .retain?: record.timestamp = lastTimestamp
        case .max?: record.timestamp = maxTimestamp
        case .min?: record.timestamp = minTimestamp
        case .discard?: break
        default:
            record.fields[ReduceTransform.timestampEndField] = .string(RFC3339.format(nanoseconds: lastTimestamp))
        }
        return record
    }
}
