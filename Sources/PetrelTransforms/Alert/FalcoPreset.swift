import PetrelCore

/// `preset: falco`: alerts from Falco's JSON output (`json_output: true`, posted by `http_output` to an `http_server`
/// source), named and labelled as falcosidekick's Alertmanager output does, without its high-cardinality fields.
///
/// The `http_server` source keeps Falco's keys as fields (`rule`, `priority`, `output`, `source`, `hostname`,
/// `output_fields`); a source configured to read `output` as the message or `priority` as the severity works too.
enum FalcoPreset {
    /// Falco's priorities, most severe first.
    static let priorities = ["emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"]

    /// The alert severity of a Falco priority, compared case-insensitively (Falco writes `Warning`).
    static func severity(ofPriority priority: String) -> String? {
        switch priority.lowercased() {
        case "emergency", "alert", "critical": "critical"
        case "error", "warning": "warning"
        case "notice", "informational", "info", "debug": "info"
        default: nil
        }
    }

    /// The rank of a priority, 0 the most severe; nil for a name Falco does not use.
    static func rank(ofPriority priority: String) -> Int? {
        let name = priority.lowercased()
        return priorities.firstIndex(of: name == "info" ? "informational" : name)
    }

    static func apply(to config: inout AlertTransformConfig, _ reader: ConfigReader) {
        config.alertname = { field("rule", $0) }
        config.severity = { record in priority(record).flatMap(severity(ofPriority:)) }
        config.labels = [
            ("rule", { field("rule", $0) }),
            ("priority", { priority($0) }),
            ("source", { field("source", $0) }),
            ("hostname", { field("hostname", $0) }),
            ("k8s_ns_name", { outputField("k8s.ns.name", $0) }),
            ("k8s_pod_name", { outputField("k8s.pod.name", $0) }),
            ("container_name", { outputField("container.name", $0) }),
        ]
        config.annotations = [
            ("summary", { field("rule", $0) }),
            ("description", { field("output", $0) ?? ($0.message.isEmpty ? nil : $0.message) }),
        ]
        var minimum = priorities.count - 1
        if let text = reader.string("minimum_priority") {
            if let rank = rank(ofPriority: text) {
                minimum = rank
            } else {
                reader.error(
                    "minimum_priority", "expected one of \(priorities.joined(separator: ", ")), found \"\(text)\"")
            }
        }
        config.presetCondition = { [minimum] record in
            guard field("rule", record) != nil, let priority = priority(record), let rank = rank(ofPriority: priority)
            else { return false }
            return rank <= minimum
        }
    }

    private static func field(_ key: String, _ record: LogRecord) -> String? {
        guard let text = record.fields[key]?.text, !text.isEmpty else { return nil }
        return text
    }

    private static func priority(_ record: LogRecord) -> String? {
        field("priority", record) ?? (record.severity.isEmpty ? nil : record.severity)
    }

    /// One of `output_fields`, whose keys hold dots (`k8s.ns.name`) that a field path would split.
    private static func outputField(_ key: String, _ record: LogRecord) -> String? {
        guard case .object(let fields)? = record.fields["output_fields"], let text = fields[key]?.text, !text.isEmpty,
            text != "<NA>"
        else { return nil }
        return text
    }
}
