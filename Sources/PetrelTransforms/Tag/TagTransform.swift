import PetrelCore

/// Adds the node's identity (cloud, region, cluster, node...) to every event.
///
/// Metrics get Prometheus labels; spans and logs get OpenTelemetry resource attributes
/// (`cloud` → `cloud.provider`, `region` → `cloud.region`, `cluster` → `k8s.cluster.name`,
/// `node` → `k8s.node.name`, other keys as given).
public struct TagTransform: Transform {
    public let config: TagTransformConfig
    /// The metric labels in byte order of their names, the last of a repeated name winning (as one `setLabel` after
    /// another would), for `MetricBatch.addLabelsToEverySeries`.
    private let metricLabels: [(name: String, value: String)]

    public init(config: TagTransformConfig) {
        self.config = config
        var byName: [String: String] = [:]
        for tag in config.tags { byName[tag.label] = tag.value }
        metricLabels = byName.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { (name: $0.key, value: $0.value) }
    }

    public static let definition = ComponentDefinition(type: "tag", kind: .transform) { reader, _ in
        .transform(TagTransform(config: TagTransformConfig(from: reader)), accepts: .all)
    }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        switch consume batch {
        case .metrics(var metrics):
            tag(&metrics)
            return .metrics(metrics)
        case .logs(var logs):
            for index in logs.records.indices { tag(&logs.records[index].resource) }
            return .logs(logs)
        case .traces(var traces):
            for index in traces.resourceSpans.indices { tag(&traces.resourceSpans[index].resource.attributes) }
            return .traces(traces)
        case .alerts(let alerts):
            return .alerts(alerts)
        }
    }

    private func tag(_ metrics: inout MetricBatch) {
        // Each label's bytes go into the arena once per batch and every series points at them.
        let labels = metricLabels.map { metrics.makeLabel(name: $0.name, value: $0.value) }
        metrics.addLabelsToEverySeries(labels, overwrite: config.overwrite)
    }

    private func tag(_ attributes: inout [Attribute]) {
        for tag in config.tags where config.overwrite || attributes[tag.attribute] == nil {
            attributes.set(tag.attribute, .string(tag.value))
        }
    }
}
