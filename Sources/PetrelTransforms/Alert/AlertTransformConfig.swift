import PetrelCore

/// Settings of the `alert` transform.
public struct AlertTransformConfig: Sendable {
    /// Which events raise the alert: a remap boolean expression (as `route` takes), or the `filter` condition form.
    public enum Matcher: Sendable {
        case remap(RemapProgram)
        case filter(Condition)
        /// Every event (a preset's own test still applies).
        case always
    }

    /// Text for a label or annotation, from an event; nil leaves the label or annotation out.
    public typealias Render = @Sendable (LogRecord) -> String?

    public var condition: Matcher = .always
    /// The `alertname` label.
    public var alertname: Render = { _ in nil }
    /// The `severity` label; nil sets none.
    public var severity: Render?
    /// Further labels, by name; with alertname and severity they are the alert's identity.
    public var labels: [(name: String, render: Render)] = []
    /// Annotations carrying the latest matching event's values (plus `count`).
    public var annotations: [(name: String, render: Render)] = []
    /// A link back to what raised the alert.
    public var generatorURL: Render?
    /// How long matching events must keep arriving before the alert fires; zero fires on the first.
    public var holdFor: Duration = .zero
    /// How long without a matching event resolves the alert.
    public var resolveAfter: Duration = .seconds(300)
    /// The most alerts pending or firing at once; beyond it new alerts are dropped and counted.
    public var maxActiveAlerts = 1000
    /// A preset's own test, before `condition` (Falco's `minimum_priority`).
    public var presetCondition: (@Sendable (LogRecord) -> Bool)?

    public init() {}

    /// The presets `preset:` names.
    public enum Preset: String, Sendable, CaseIterable {
        case falco
    }

    public init?(from reader: ConfigReader) {
        var valid = true
        let preset: Preset? = reader.contains("preset") ? reader.choice("preset", default: Preset.falco) : nil
        switch preset {
        case .falco?:
            FalcoPreset.apply(to: &self, reader)
        case nil:
            if let alertname = reader.logTemplate("alertname") {
                self.alertname = { alertname.render($0) }
            } else {
                if !reader.contains("alertname") {
                    reader.error("alertname", "is required (or a preset such as preset: falco)")
                }
                valid = false
            }
        }
        if reader.contains("condition") {
            if case .mapping? = reader.node("condition")?.value {
                if let section = reader.section("condition"), let condition = Condition.parse(section) {
                    self.condition = .filter(condition)
                } else {
                    valid = false
                }
            } else if let program = RemapConfig.compile(reader, "condition") {
                self.condition = .remap(program)
            } else {
                valid = false
            }
        } else if preset == nil && reader.contains("alertname") {
            reader.error("condition", "is required: which events raise the alert")
            valid = false
        }
        if reader.contains("severity") {
            if let severity = Self.severity(reader) { self.severity = severity } else { valid = false }
        }
        if let section = reader.section("labels") {
            for name in section.keys {
                guard let template = section.logTemplate(name) else {
                    valid = false
                    continue
                }
                if name == "alertname" || name == "severity" {
                    section.error(name, "set by the alertname and severity keys, not under labels")
                    valid = false
                }
                labels.removeAll { $0.name == name }
                labels.append((name, { template.render($0) }))
            }
            section.finish()
        }
        if let section = reader.section("annotations") {
            for name in section.keys {
                guard let template = section.logTemplate(name) else {
                    valid = false
                    continue
                }
                if name == AlertTracker.countAnnotation {
                    section.error(name, "is set by the transform: the number of events since the alert fired")
                    valid = false
                }
                annotations.removeAll { $0.name == name }
                annotations.append((name, { template.render($0) }))
            }
            section.finish()
        }
        if let template = reader.logTemplate("generator_url") { generatorURL = { template.render($0) } }
        holdFor = reader.duration("for", default: holdFor)
        if holdFor < .zero { reader.error("for", "must not be negative") }
        resolveAfter = reader.duration("resolve_after", default: resolveAfter)
        if resolveAfter <= .zero { reader.error("resolve_after", "must be longer than zero") }
        maxActiveAlerts = reader.int("max_active_alerts", default: maxActiveAlerts, range: 1...1_000_000)
        guard valid else { return nil }
    }

    /// `severity: "{{ fields.level }}"`, or `severity: {value: <template>, map: {<value>: <severity>}, default: …}`
    /// with the values compared case-insensitively.
    private static func severity(_ reader: ConfigReader) -> Render? {
        guard case .mapping? = reader.node("severity")?.value else {
            guard let template = reader.logTemplate("severity") else { return nil }
            return { template.render($0) }
        }
        guard let section = reader.section("severity") else { return nil }
        defer { section.finish() }
        guard let value = section.logTemplate("value") else {
            if !section.contains("value") { section.error("value", "is required: the template the map looks up") }
            return nil
        }
        var mapping: [String: String] = [:]
        for (key, severity) in section.stringMap("map") ?? [] { mapping[key.lowercased()] = severity }
        let fallback = section.string("default")
        return { [mapping] record in
            guard let text = value.render(record) else { return fallback }
            return mapping[text.lowercased()] ?? fallback
        }
    }
}
