import PetrelCore

/// Runs a VRL-subset program on every log record: parse, reshape, enrich, drop.
///
/// The record is seen as Vector sees a log event: `.message`, `.timestamp` and `.severity` beside the record's fields
/// at the top level, metadata under `%` and resource attributes under `%resource`. Metrics and spans pass through
/// unchanged, as they do not have a log's shape (Vector's `remap` takes them in its own metric and trace schemas,
/// which Petrel does not model).
public struct RemapTransform: Transform {
    public let config: RemapConfig
    /// Records dropped by the last `process`, for the `dropped` output when `reroute_dropped` is on.
    private var dropped: [LogRecord] = []

    public init(config: RemapConfig) {
        self.config = config
    }

    public var namedOutputs: [String] { config.rerouteDropped ? ["dropped"] : [] }

    public mutating func takeNamedOutputBatches() -> [(output: String, batch: EventBatch)] {
        guard !dropped.isEmpty else { return [] }
        defer { dropped = [] }
        return [("dropped", .logs(LogBatch(records: dropped)))]
    }

    public static let definition = ComponentDefinition(type: "remap", kind: .transform) { reader, _ in
        RemapConfig.parse(reader).map { .transform(RemapTransform(config: $0), accepts: .all) }
    }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        guard case .logs(var logs) = batch else { return batch }
        var failed = 0
        var droppedErrors = 0
        var droppedAborts = 0
        var kept: [LogRecord] = []
        kept.reserveCapacity(logs.records.count)
        for record in logs.records {
            var state = Self.state(of: record, metadata: config.program.usesMetadata)
            do {
                _ = try config.program.run(&state)
                kept.append(Self.record(from: &state, original: record, metadata: config.program.usesMetadata))
            } catch {
                if !error.isAbort {
                    failed += 1
                    if failed == 1 {
                        context.logger.debug("remap failed on an event", metadata: ["error": "\(error.message)"])
                    }
                }
                guard error.isAbort ? config.dropOnAbort : config.dropOnError else {
                    kept.append(record)
                    continue
                }
                if error.isAbort { droppedAborts += 1 } else { droppedErrors += 1 }
                if config.rerouteDropped {
                    var rerouted = record
                    rerouted.metadata["dropped.reason"] = error.isAbort ? "abort" : "error"
                    rerouted.metadata["dropped.message"] = error.message
                    rerouted.metadata["dropped.component_id"] = context.id
                    dropped.append(rerouted)
                }
            }
        }
        for _ in 0..<failed { context.telemetry.error(.processing) }
        if !config.rerouteDropped {
            if droppedErrors > 0 { context.telemetry.discarded(droppedErrors, reason: "remap_error") }
            if droppedAborts > 0 { context.telemetry.discarded(droppedAborts, reason: "remap_abort") }
        }
        logs.records = kept
        return logs.records.isEmpty ? nil : .logs(logs)
    }

    /// The record as the program sees it.
    static func state(of record: LogRecord, metadata: Bool) -> RemapState {
        var event: [String: RemapValue] = [:]
        event.reserveCapacity(record.fields.count + 3)
        for (key, value) in record.fields { event[key] = RemapValue(value) }
        event["message"] = .string(record.message)
        event["timestamp"] = .timestamp(record.timestamp)
        if !record.severity.isEmpty { event["severity"] = .string(record.severity) }
        guard metadata else { return RemapState(event: .object(event)) }
        var meta: [String: RemapValue] = record.metadata.mapValues(RemapValue.string)
        var resource: [String: RemapValue] = [:]
        for attribute in record.resource { resource[attribute.key] = RemapValue(attribute.value) }
        meta["resource"] = .object(resource)
        return RemapState(event: .object(event), metadata: .object(meta))
    }

    /// The record after the program: the top-level keys back into their places, the rest into fields.
    ///
    /// A removed `.message` or `.severity` becomes empty; a removed or unreadable `.timestamp` keeps the original.
    /// The state is emptied on the way, so that the event's fields are taken from it rather than copied.
    static func record(from state: inout RemapState, original: LogRecord, metadata: Bool) -> LogRecord {
        var record = original
        guard case .object(var fields) = state.event else { return original }
        state.event = .null
        record.message = fields.removeValue(forKey: "message")?.text ?? ""
        switch fields.removeValue(forKey: "timestamp") {
        case .timestamp(let value)?: record.timestamp = value
        case .string(let text)?: record.timestamp = RemapTime.parseRFC3339(text) ?? original.timestamp
        case .integer(let seconds)?: record.timestamp = seconds &* RemapTime.nanosPerSecond
        default: break
        }
        record.severity = fields.removeValue(forKey: "severity")?.text ?? ""
        record.fields = fields.mapValues(\.anyValue)
        guard metadata, case .object(var meta) = state.metadata else { return record }
        state.metadata = .null
        let resource = meta.removeValue(forKey: "resource")
        record.metadata = meta.compactMapValues { $0 == .null ? nil : $0.text }
        if case .object(var attributes)? = resource {
            var updated: [Attribute] = []
            for attribute in original.resource {
                if let value = attributes.removeValue(forKey: attribute.key) {
                    updated.append(Attribute(attribute.key, value.anyValue))
                }
            }
            for key in attributes.keys.sorted() { updated.append(Attribute(key, attributes[key]!.anyValue)) }
            record.resource = updated
        } else {
            record.resource = []
        }
        return record
    }
}
