/// An alert as Alertmanager knows it: a label set (its identity), annotations, when it started and, once resolved,
/// when it ended.
public struct Alert: Sendable, Hashable {
    /// Whether the alert's condition holds.
    public enum State: String, Sendable, Hashable, CaseIterable {
        case firing
        case resolved
    }

    /// The alert's identity: two alerts with the same labels are the same alert.
    public var labels: [String: String]
    /// What a receiver shows about it (`summary`, `description`, `count`); they change without making a new alert.
    public var annotations: [String: String]
    /// Nanoseconds since the Unix epoch.
    public var startsAt: Int64
    /// When it was resolved (nanoseconds since the Unix epoch); nil while it fires. The sink, not the alert, sets
    /// the `endsAt` of a firing alert, from its resend settings.
    public var endsAt: Int64?
    /// A link back to what raised it; may be empty.
    public var generatorURL: String
    public var state: State

    public init(
        labels: [String: String], annotations: [String: String] = [:], startsAt: Int64, endsAt: Int64? = nil,
        generatorURL: String = "", state: State = .firing
    ) {
        self.labels = labels
        self.annotations = annotations
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.generatorURL = generatorURL
        self.state = state
    }

    /// The label set as one text, sorted by name, that tells alerts apart (a dictionary key for their state).
    public var identity: String {
        var text = ""
        for (name, value) in labels.sorted(by: { $0.key < $1.key }) {
            text += name
            text += "\u{0}"
            text += value
            text += "\u{1}"
        }
        return text
    }

    var estimatedBytes: Int {
        32 + generatorURL.utf8.count + labels.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            + annotations.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
    }
}

/// A batch of alerts.
public struct AlertBatch: Sendable, Hashable {
    public var alerts: [Alert]

    public init(alerts: [Alert] = []) {
        self.alerts = alerts
    }

    public var estimatedBytes: Int { alerts.reduce(0) { $0 + $1.estimatedBytes } }
}
