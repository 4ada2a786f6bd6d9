import PetrelCore

/// Settings of the `tag` transform.
public struct TagTransformConfig: Sendable, Equatable {
    /// Tags in the order written; values already interpolated from the environment.
    public var tags: [Tag] = []
    /// Replace a label or attribute the event already has (like vmagent's `-remoteWrite.label`), or only add missing ones.
    public var overwrite = true

    /// One identity tag.
    public struct Tag: Sendable, Equatable {
        /// The key as configured: a Prometheus label name on metrics.
        public var label: String
        /// The OpenTelemetry resource attribute it becomes on spans and logs.
        public var attribute: String
        public var value: String
    }

    /// Short keys and the OpenTelemetry resource attributes they stand for on spans and logs.
    public static let attributeNames = [
        "cloud": "cloud.provider", "region": "cloud.region", "cluster": "k8s.cluster.name", "node": "k8s.node.name",
    ]

    public init(tags: [Tag] = [], overwrite: Bool = true) {
        self.tags = tags
        self.overwrite = overwrite
    }

    public init(from reader: ConfigReader) {
        overwrite = reader.bool("overwrite", default: overwrite)
        guard let labels = reader.stringMap("labels") else {
            reader.error("labels", "is required: a mapping such as { cloud: aws, cluster: \"${CLUSTER}\" }")
            return
        }
        for (name, value) in labels {
            guard PrometheusLabelName.isValid(name) else {
                reader.diagnostics.error(
                    "\(reader.path("labels")).\(name)", line: reader.node.line,
                    "\"\(name)\" is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)")
                continue
            }
            // An empty value means no label, as in Prometheus; a DaemonSet whose variable is unset adds nothing.
            guard !value.isEmpty else { continue }
            tags.append(Tag(label: name, attribute: Self.attributeNames[name] ?? name, value: value))
        }
    }
}
