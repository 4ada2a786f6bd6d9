import PetrelCore

/// Applies Prometheus `relabel_configs` to metric series: rewrites labels, drops series.
///
/// ```yaml
/// transforms:
///   shard:
///     type: relabel
///     inputs: [prom_in]
///     rules:
///       - { source_labels: [__name__], regex: "debug_.*", action: drop }
///       - { source_labels: [instance], modulus: 4, target_label: __tmp_shard, action: hashmod }
/// ```
///
/// Series dropped by rules are not counted as discarded: dropping them is what was asked for.
public struct RelabelTransform: Transform {
    public private(set) var rules: RelabelRules

    public init(rules: RelabelRules) {
        self.rules = rules
    }

    public static let definition = ComponentDefinition(type: "relabel", kind: .transform) { reader, _ in
        guard let config = RelabelConfig.parse(reader) else { return nil }
        do {
            return .transform(RelabelTransform(rules: try RelabelRules(config)), accepts: .metrics)
        } catch {
            // `parse` made the same checks, so this is reached only if the two disagree.
            reader.error("rules", "\(error)")
            return nil
        }
    }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        switch consume batch {
        case .metrics(var metrics):
            rules.process(&metrics)
            return metrics.series.isEmpty ? nil : .metrics(metrics)
        case let other:
            return other
        }
    }
}
