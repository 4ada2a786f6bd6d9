import PetrelCore

/// What the `alertmanager` sink knows of every alert, and what each replica has been sent: the state machine that
/// decides which alerts go to which replica when. Times are nanoseconds since the Unix epoch.
///
/// An alert is due for a replica when the replica has not had its latest version (it is new, its annotations
/// changed, it was resolved), or when its last send is `resendInterval` old and it is firing or resolved less than
/// `resolvedRetention` ago. A request carries the current version of each alert it holds, so a failed request
/// retried later carries whatever superseded it. A resolved alert is forgotten `resolvedRetention` after it ended.
struct AlertLedger: Sendable {
    /// One alert and its delivery to each replica.
    struct Entry: Sendable {
        var alert: Alert
        /// Bumped on every change the replicas must hear about.
        var version: UInt64
        /// Per replica: the version it last took, and when it was last sent any version.
        var delivered: [UInt64]
        var lastSent: [Int64]
    }

    /// An alert picked for a request: its identity, the version sent and the alert as sent.
    struct Pick: Sendable {
        var identity: String
        var version: UInt64
        var alert: Alert
    }

    let replicas: Int
    let resendInterval: Int64
    let resolvedRetention: Int64
    private(set) var entries: [String: Entry] = [:]
    private var nextVersion: UInt64 = 1

    init(replicas: Int, resendInterval: Duration, resolvedRetention: Duration) {
        self.replicas = replicas
        self.resendInterval = Self.nanoseconds(resendInterval)
        self.resolvedRetention = Self.nanoseconds(resolvedRetention)
    }

    /// The alerts held, for the state file.
    var alerts: [Alert] { entries.values.map(\.alert) }

    /// Takes a new state of an alert; true when it changed what the replicas must be told.
    ///
    /// A firing alert for a resolved one that started no later than that resolve is stale (it was sent before the
    /// resolve) and is ignored; one that started later is a new occurrence. The earliest `startsAt` of one
    /// occurrence is kept, as Alertmanager keeps it.
    @discardableResult
    mutating func absorb(_ incoming: Alert) -> Bool {
        let identity = incoming.identity
        guard var entry = entries[identity] else {
            entries[identity] = Entry(
                alert: incoming, version: takeVersion(), delivered: Array(repeating: 0, count: replicas),
                lastSent: Array(repeating: .min, count: replicas))
            return true
        }
        var updated = entry.alert
        switch (entry.alert.state, incoming.state) {
        case (.firing, .firing):
            updated.annotations = incoming.annotations
            updated.generatorURL = incoming.generatorURL
            updated.startsAt = min(entry.alert.startsAt, incoming.startsAt)
        case (.firing, .resolved):
            updated.state = .resolved
            updated.annotations = incoming.annotations
            updated.endsAt = max(incoming.endsAt ?? incoming.startsAt, updated.startsAt)
        case (.resolved, .firing):
            guard incoming.startsAt > (entry.alert.endsAt ?? entry.alert.startsAt) else { return false }
            updated = incoming
        case (.resolved, .resolved):
            return false
        }
        guard updated != entry.alert else { return false }
        entry.alert = updated
        entry.version = takeVersion()
        entries[identity] = entry
        return true
    }

    /// Up to `limit` alerts due for `replica` at `now`, oldest sends first.
    func due(replica: Int, now: Int64, limit: Int) -> [Pick] {
        var picks: [(pick: Pick, lastSent: Int64)] = []
        for (identity, entry) in entries where isDue(entry, replica: replica, now: now) {
            picks.append(
                (Pick(identity: identity, version: entry.version, alert: entry.alert), entry.lastSent[replica]))
        }
        if picks.count > limit {
            picks.sort { $0.lastSent < $1.lastSent }
            picks.removeLast(picks.count - limit)
        }
        return picks.map(\.pick)
    }

    /// How many alerts are due for `replica` at `now`: its queue.
    func dueCount(replica: Int, now: Int64) -> Int {
        entries.values.count { isDue($0, replica: replica, now: now) }
    }

    /// When the next alert falls due for `replica` if nothing changes; nil when none will.
    func nextDue(replica: Int, now: Int64) -> Int64? {
        var earliest: Int64?
        for entry in entries.values {
            let time: Int64
            if entry.delivered[replica] != entry.version {
                time = now
            } else if let resend = resendTime(entry, replica: replica) {
                time = resend
            } else {
                continue
            }
            earliest = min(earliest ?? time, time)
        }
        return earliest
    }

    /// `picks` reached `replica` at `now` (or were refused for good, which no resend would fix).
    mutating func markSent(_ picks: [Pick], replica: Int, now: Int64) {
        for pick in picks {
            guard var entry = entries[pick.identity] else { continue }
            entry.lastSent[replica] = now
            // A version that was superseded while in flight stays due.
            if entry.version == pick.version { entry.delivered[replica] = pick.version }
            entries[pick.identity] = entry
        }
    }

    /// Forgets alerts resolved more than `resolvedRetention` ago; true when any were.
    mutating func expire(now: Int64) -> Bool {
        let before = entries.count
        entries = entries.filter { _, entry in
            guard entry.alert.state == .resolved, let endsAt = entry.alert.endsAt else { return true }
            return now < endsAt &+ resolvedRetention
        }
        return entries.count != before
    }

    /// Forgets one alert, refused for good by Alertmanager.
    mutating func remove(identity: String) {
        entries[identity] = nil
    }

    private func isDue(_ entry: Entry, replica: Int, now: Int64) -> Bool {
        if entry.delivered[replica] != entry.version { return true }
        guard let resend = resendTime(entry, replica: replica) else { return false }
        return now >= resend
    }

    /// When the alert is next sent again to `replica`; nil when it no longer is (resolved past its retention).
    private func resendTime(_ entry: Entry, replica: Int) -> Int64? {
        let resend = entry.lastSent[replica] &+ resendInterval
        if entry.alert.state == .resolved, let endsAt = entry.alert.endsAt, resend >= endsAt &+ resolvedRetention {
            return nil
        }
        return resend
    }

    private mutating func takeVersion() -> UInt64 {
        defer { nextVersion += 1 }
        return nextVersion
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}
