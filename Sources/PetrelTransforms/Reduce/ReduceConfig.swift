import PetrelCore

/// Settings of the `reduce` transform.
public struct ReduceConfig: Sendable {
    /// A group's boundary test: a remap boolean expression, or the `filter` condition form.
    public enum Boundary: Sendable {
        case remap(RemapProgram)
        case filter(Condition)
    }

    /// Fields whose values (all of them) name a record's group; none: one group.
    public var groupBy: [String]
    /// A record that matches begins a new group (the open one goes out first).
    public var startsWhen: Boundary?
    /// A record that matches is the last of its group, which goes out with it.
    public var endsWhen: Boundary?
    /// Strategy per field (`message`, `severity` and `timestamp` included); the rest get the defaults.
    public var mergeStrategies: [String: ReduceStrategy]
    /// A group no record joined for this long goes out.
    public var expireAfter: Duration
    /// How often groups are checked for expiry.
    public var flushPeriod: Duration
    /// A group goes out once it holds this many records.
    public var maxEvents: Int?

    public init(
        groupBy: [String] = [], startsWhen: Boundary? = nil, endsWhen: Boundary? = nil,
        mergeStrategies: [String: ReduceStrategy] = [:], expireAfter: Duration = .milliseconds(30_000),
        flushPeriod: Duration = .milliseconds(1_000), maxEvents: Int? = nil
    ) {
        self.groupBy = groupBy
        self.startsWhen = startsWhen
        self.endsWhen = endsWhen
        self.mergeStrategies = mergeStrategies
        self.expireAfter = expireAfter
        self.flushPeriod = flushPeriod
        self.maxEvents = maxEvents
    }

    /// The strategies `timestamp` takes: it is a time, not a value of the fields.
    static let timestampStrategies: [ReduceStrategy] = [.discard, .retain, .max, .min]

    /// Reads the settings, reporting problems to `reader`; `nil` when any of them is invalid.
    public init?(from reader: ConfigReader) {
        self.init()
        let errorCount = reader.diagnostics.errors.count
        groupBy = reader.stringList("group_by") ?? []
        if groupBy.contains(where: \.isEmpty) { reader.error("group_by", "a field name cannot be empty") }
        expireAfter = .milliseconds(reader.int("expire_after_ms", default: 30_000, range: 1...Int(Int32.max)))
        flushPeriod = .milliseconds(reader.int("flush_period_ms", default: 1_000, range: 1...Int(Int32.max)))
        if reader.contains("max_events") {
            maxEvents = reader.int("max_events", default: 1, range: 1...Int(Int32.max))
        }
        startsWhen = Self.boundary(reader, "starts_when")
        endsWhen = Self.boundary(reader, "ends_when")
        if reader.contains("starts_when") && reader.contains("ends_when") {
            reader.error("ends_when", "only one of starts_when and ends_when can be set, as in Vector")
        }
        if let section = reader.section("merge_strategies") {
            defer { section.finish() }
            for field in section.keys {
                let strategy = section.choice(field, default: ReduceStrategy.discard)
                if field == "timestamp", !Self.timestampStrategies.contains(strategy) {
                    section.error(field, "timestamp takes discard, retain, max or min")
                }
                mergeStrategies[field] = strategy
            }
        }
        guard reader.diagnostics.errors.count == errorCount else { return nil }
    }

    private static func boundary(_ reader: ConfigReader, _ key: String) -> Boundary? {
        guard reader.contains(key) else {
            _ = reader.node(key)
            return nil
        }
        if case .mapping? = reader.node(key)?.value {
            return reader.section(key).flatMap(Condition.parse).map(Boundary.filter)
        }
        return RemapConfig.compile(reader, key).map(Boundary.remap)
    }
}
