import PetrelCore

/// The alerts an `alert` transform holds, pending or firing, keyed by their rendered label set: when they fire,
/// what their annotations say, when they resolve. Times are nanoseconds since the Unix epoch; the caller passes the
/// clock, so the rules are tested without waiting.
struct AlertTracker: Sendable {
    /// One alert the transform knows of.
    struct Tracked: Sendable, Equatable {
        var labels: [String: String]
        var annotations: [String: String]
        var generatorURL: String
        /// The first matching event of this occurrence.
        var firstSeen: Int64
        var lastSeen: Int64
        /// When it fired; nil while pending (`for` has not passed).
        var firedAt: Int64?
        /// Matching events since it fired.
        var count: Int64
        /// Whether its annotations changed since it was last emitted.
        var changed: Bool

        var alert: Alert {
            var annotations = annotations
            annotations[AlertTracker.countAnnotation] = String(count)
            return Alert(
                labels: labels, annotations: annotations, startsAt: firedAt ?? firstSeen, generatorURL: generatorURL)
        }
    }

    /// What became of a matching event.
    enum Observation: Equatable {
        case tracked
        /// A new alert beyond `maxActiveAlerts`: not tracked.
        case overLimit
    }

    /// The annotation carrying the number of events since the alert fired.
    static let countAnnotation = "count"
    /// The alert that fires while new alerts are dropped for `max_active_alerts`.
    static let limitAlertName = "PetrelAlertLimitReached"

    let holdFor: Int64
    let resolveAfter: Int64
    let maxActive: Int
    /// The labels of the limit alert, naming the transform.
    let limitLabels: [String: String]
    private(set) var alerts: [String: Tracked] = [:]
    /// The limit alert's own state: it is not one of `alerts` and never counts against the limit.
    private(set) var limitAlert: Tracked?
    /// Whether an alert appeared, fired or resolved since the last save: saved at once.
    private var saveNeeded = false
    /// Whether only times and counts changed since the last save: saved on the next tick.
    private var touched = false
    /// The alerts the last tick found quiet for `resolveAfter`. One quiet tick is not enough: a tick queued behind a
    /// backlog of events would resolve alerts whose events are still waiting in the queue, and they would fire again
    /// as soon as those are processed. Found quiet at two ticks in a row, with no event between, they resolve.
    private var quietAtLastTick: Set<String> = []

    init(holdFor: Duration, resolveAfter: Duration, maxActive: Int, component: String) {
        self.holdFor = Self.nanoseconds(holdFor)
        self.resolveAfter = Self.nanoseconds(resolveAfter)
        self.maxActive = maxActive
        self.limitLabels = [
            "alertname": Self.limitAlertName, "severity": "warning", "petrel_component": component,
        ]
    }

    /// Takes one matching event's rendered labels and annotations at `now`; returns the alerts to emit at once (one
    /// that fired, with `for` zero).
    mutating func observe(
        labels: [String: String], annotations: [String: String], generatorURL: String, now: Int64,
        emit: inout [Alert]
    ) -> Observation {
        let identity = Alert(labels: labels, startsAt: 0).identity
        if var tracked = alerts[identity] {
            tracked.lastSeen = max(tracked.lastSeen, now)
            if tracked.firedAt != nil { tracked.count += 1 }
            if tracked.annotations != annotations || tracked.generatorURL != generatorURL {
                tracked.annotations = annotations
                tracked.generatorURL = generatorURL
            }
            tracked.changed = tracked.firedAt != nil
            alerts[identity] = tracked
            quietAtLastTick.remove(identity)
            touched = true
            return .tracked
        }
        guard alerts.count < maxActive else {
            noteLimit(now: now, emit: &emit)
            return .overLimit
        }
        var tracked = Tracked(
            labels: labels, annotations: annotations, generatorURL: generatorURL, firstSeen: now, lastSeen: now,
            firedAt: nil, count: 0, changed: false)
        if holdFor == 0 {
            tracked.firedAt = now
            tracked.count = 1
            emit.append(tracked.alert)
        }
        alerts[identity] = tracked
        saveNeeded = true
        return .tracked
    }

    /// Fires pending alerts whose `for` passed and, on a tick (`updates`), resolves those found without a matching
    /// event for `resolveAfter` at this tick and the one before, and emits the firing alerts whose annotations changed.
    mutating func advance(now: Int64, updates: Bool, emit: inout [Alert]) {
        var quiet: Set<String> = []
        for (identity, var tracked) in alerts {
            if now - tracked.lastSeen >= resolveAfter {
                guard updates else { continue }
                guard quietAtLastTick.contains(identity) else {
                    quiet.insert(identity)
                    continue
                }
                alerts[identity] = nil
                saveNeeded = true
                if tracked.firedAt != nil { emit.append(resolved(tracked, at: tracked.lastSeen + resolveAfter)) }
                continue
            }
            if tracked.firedAt == nil, now - tracked.firstSeen >= holdFor {
                // `for` passed and events kept coming: had none come for resolveAfter, it would be gone above.
                tracked.firedAt = now
                tracked.count = 1
                tracked.changed = false
                alerts[identity] = tracked
                saveNeeded = true
                emit.append(tracked.alert)
            } else if updates, tracked.changed {
                tracked.changed = false
                alerts[identity] = tracked
                saveNeeded = true
                emit.append(tracked.alert)
            }
        }
        if updates { quietAtLastTick = quiet }
        if var limit = limitAlert {
            if now - limit.lastSeen >= resolveAfter {
                limitAlert = nil
                emit.append(resolved(limit, at: limit.lastSeen + resolveAfter))
            } else if updates, limit.changed {
                limit.changed = false
                limitAlert = limit
                emit.append(limit.alert)
            }
        }
    }

    /// Every firing alert, for a restart: the sink downstream may not have them yet.
    var firing: [Alert] {
        alerts.values.filter { $0.firedAt != nil }.map(\.alert) + (limitAlert.map { [$0.alert] } ?? [])
    }

    /// Whether to save the alerts now: at once when one appeared, fired or resolved; on a tick when only times and
    /// counts changed (a crash then loses at most a tick of `lastSeen`).
    mutating func takeSaveNeeded(tick: Bool) -> Bool {
        guard saveNeeded || (tick && touched) else { return false }
        saveNeeded = false
        touched = false
        return true
    }

    /// Puts back alerts saved before a restart.
    mutating func restore(_ tracked: [Tracked]) {
        for alert in tracked {
            alerts[Alert(labels: alert.labels, startsAt: 0).identity] = alert
        }
    }

    private mutating func noteLimit(now: Int64, emit: inout [Alert]) {
        if var limit = limitAlert {
            limit.lastSeen = now
            limit.count += 1
            limit.changed = true
            limitAlert = limit
            return
        }
        let limit = Tracked(
            labels: limitLabels,
            annotations: [
                "summary": "Alerts dropped: max_active_alerts reached",
                "description":
                    "The alert transform \(limitLabels["petrel_component"] ?? "") holds max_active_alerts (\(maxActive))"
                    + " alerts; new alerts are dropped and counted until some resolve.",
            ], generatorURL: "", firstSeen: now, lastSeen: now, firedAt: now, count: 1, changed: false)
        limitAlert = limit
        emit.append(limit.alert)
    }

    private func resolved(_ tracked: Tracked, at time: Int64) -> Alert {
        var alert = tracked.alert
        alert.state = .resolved
        alert.endsAt = max(time, alert.startsAt)
        return alert
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}
