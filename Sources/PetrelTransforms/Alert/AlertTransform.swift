import PetrelCodecs
import PetrelCore

/// Raises Alertmanager alerts from log events, as a Prometheus alerting rule raises them from series: events that
/// match `condition` and render the same label set (`alertname`, `severity`, `labels`) are one alert, which fires
/// once matching events have come for `for`, carries the latest event's annotations and a `count`, and resolves after
/// `resolve_after` without one. Logs in, alerts out, for the `alertmanager` sink.
///
/// The alerts are saved in `<data_dir>/alerts/<id>/state.json` (at once when one appears, fires or resolves; with
/// the times of the last events on the next tick), so a restart neither resolves them nor fires them anew (the time
/// Petrel was down does not count toward `resolve_after`); after a restart the firing ones are emitted again for the
/// sink. At most `max_active_alerts` are held: beyond, new alerts
/// are dropped and counted (`reason="alert_limit"`) and one `PetrelAlertLimitReached` alert fires.
///
/// ```yaml
/// transforms:
///   falco_alerts:
///     type: alert
///     inputs: [falco]
///     preset: falco
///     minimum_priority: warning
/// ```
public struct AlertTransform: HoldingTransform {
    public let config: AlertTransformConfig
    private var tracker: AlertTracker
    private let stateFile: StateFile?
    /// Problems met restoring the saved alerts, logged on the first batch (a transform logs only when it runs).
    private var restoreProblem: String?
    /// Whether the restored firing alerts are still to be emitted.
    private var announceRestored: Bool

    /// `now` is when it starts: the time since the state file was saved (Petrel was not running) does not count
    /// toward `resolve_after`, as no event could be seen then.
    public init(
        config: AlertTransformConfig, component: String, stateFile: StateFile?,
        now: Int64 = WallClock.nowNanoseconds()
    ) {
        self.config = config
        self.stateFile = stateFile
        var tracker = AlertTracker(
            holdFor: config.holdFor, resolveAfter: config.resolveAfter, maxActive: config.maxActiveAlerts,
            component: component)
        var problem: String?
        if let stateFile {
            do {
                if let bytes = try stateFile.load() { tracker.restore(try Self.decode(bytes, now: now)) }
            } catch {
                // Set aside when the transform runs, not here: `petrel validate` builds it too.
                problem = "cannot read the saved alerts (\(error)); starting without them"
            }
        }
        self.tracker = tracker
        self.restoreProblem = problem
        self.announceRestored = !tracker.alerts.isEmpty
    }

    public static let definition = ComponentDefinition(type: "alert", kind: .transform) { reader, context in
        guard let config = AlertTransformConfig(from: reader) else { return nil }
        let stateFile = StateFile(path: context.dataDirectory + "/alerts/" + context.id + "/state.json")
        return .transform(AlertTransform(config: config, component: context.id, stateFile: stateFile), accepts: .logs)
    }

    /// Logs in, alerts out.
    public func emits(from received: SignalSet) -> SignalSet {
        received.contains(.logs) ? .alerts : []
    }

    /// Often enough to fire and resolve on time, without input.
    public var flushInterval: Duration {
        var interval = Duration.seconds(1)
        interval = min(interval, config.resolveAfter / 4)
        if config.holdFor > .zero { interval = min(interval, config.holdFor / 4) }
        return max(interval, .milliseconds(50))
    }

    /// Alerts held, pending or firing.
    public var activeAlerts: Int { tracker.alerts.count }

    /// Events are done with once observed: the alerts they raise are saved before they go on, and go on alone.
    public mutating func process(_ envelope: consuming Envelope, _ context: TransformContext) -> Envelope? {
        let acknowledgement = envelope.acknowledgement
        defer { acknowledgement.acknowledge() }
        guard case .logs(let logs) = envelope.batch, !logs.records.isEmpty else { return nil }
        return process(.logs(logs), context, now: WallClock.nowNanoseconds()).map { Envelope($0) }
    }

    /// Fires what has waited `for`, resolves what has been quiet `resolve_after`, and saves the last events' times.
    public mutating func flush(final: Bool, _ context: TransformContext) -> Envelope? {
        process(.logs(LogBatch()), context, now: WallClock.nowNanoseconds()).map { Envelope($0) }
    }

    /// `process` at a given time, for tests. An empty batch is a tick of the flush timer.
    mutating func process(_ batch: EventBatch, _ context: TransformContext, now: Int64) -> EventBatch? {
        if let problem = restoreProblem, let stateFile {
            context.telemetry.error(.processing)
            context.logger.error("\(problem)", metadata: ["moved_to": "\(stateFile.setAside())"])
            restoreProblem = nil
        }
        var emit: [Alert] = []
        if announceRestored {
            announceRestored = false
            emit += tracker.firing
        }
        var tick = true
        if case .logs(let logs) = batch, !logs.records.isEmpty {
            tick = false
            var overLimit = 0
            for record in logs.records where matches(record) {
                guard let alertname = config.alertname(record), !alertname.isEmpty else { continue }
                var labels: [String: String] = [:]
                for label in config.labels {
                    if let value = label.render(record), !value.isEmpty { labels[label.name] = value }
                }
                labels["alertname"] = alertname
                if let severity = config.severity?(record), !severity.isEmpty { labels["severity"] = severity }
                var annotations: [String: String] = [:]
                for annotation in config.annotations {
                    if let value = annotation.render(record) { annotations[annotation.name] = value }
                }
                let outcome = tracker.observe(
                    labels: labels, annotations: annotations, generatorURL: config.generatorURL?(record) ?? "",
                    now: now, emit: &emit)
                if outcome == .overLimit { overLimit += 1 }
            }
            if overLimit > 0 { context.telemetry.discarded(overLimit, reason: "alert_limit") }
        }
        tracker.advance(now: now, updates: tick, emit: &emit)
        if tracker.takeSaveNeeded(tick: tick) { save(context, now: now) }
        return emit.isEmpty ? nil : .alerts(AlertBatch(alerts: emit))
    }

    private func matches(_ record: LogRecord) -> Bool {
        if let preset = config.presetCondition, !preset(record) { return false }
        switch config.condition {
        case .always:
            return true
        case .filter(let condition):
            return condition.evaluate { FilterTransform.lookup(record, $0) }
        case .remap(let program):
            var state = RemapTransform.state(of: record, metadata: true)
            return (try? program.run(&state)) == .boolean(true)
        }
    }

    private func save(_ context: TransformContext, now: Int64) {
        guard let stateFile else { return }
        do {
            try stateFile.save(Self.encode(Array(tracker.alerts.values), savedAt: now))
        } catch {
            context.telemetry.error(.processing)
            context.logger.error(
                "cannot save the alerts; a restart now would forget the changes", metadata: ["error": "\(error)"])
        }
    }

    static func encode(_ tracked: [AlertTracker.Tracked], savedAt: Int64) -> [UInt8] {
        AlertRecordCodec.encode(
            tracked.map { alert in
                var extra: [String: Int64] = [
                    "last_seen_ns": alert.lastSeen, "count": alert.count, "saved_at_ns": savedAt,
                ]
                if let firedAt = alert.firedAt { extra["fired_at_ns"] = firedAt }
                return (
                    alert: Alert(
                        labels: alert.labels, annotations: alert.annotations, startsAt: alert.firstSeen,
                        generatorURL: alert.generatorURL),
                    extra: extra
                )
            })
    }

    /// The saved alerts, their last events moved forward by the time since the save (Petrel's downtime).
    static func decode(_ bytes: [UInt8], now: Int64) throws(AlertRecordDecodingError) -> [AlertTracker.Tracked] {
        try AlertRecordCodec.decode(bytes).map { entry in
            let lastSeen = entry.extra["last_seen_ns"] ?? entry.alert.startsAt
            let downtime = max(now - (entry.extra["saved_at_ns"] ?? now), 0)
            return AlertTracker.Tracked(
                labels: entry.alert.labels, annotations: entry.alert.annotations,
                generatorURL: entry.alert.generatorURL, firstSeen: entry.alert.startsAt, lastSeen: lastSeen + downtime,
                firedAt: entry.extra["fired_at_ns"], count: entry.extra["count"] ?? 0, changed: false)
        }
    }
}
