import PetrelCore

/// Settings of the `relabel` transform: Prometheus `relabel_configs` under `rules`.
public struct RelabelConfig: Sendable, Equatable {
    public var rules: [RelabelRuleConfig]
    /// The label names rules may write and read; `legacy` unless the backends take UTF-8 names.
    public var labelNameValidation: LabelNameValidation

    public init(rules: [RelabelRuleConfig], labelNameValidation: LabelNameValidation = .legacy) {
        self.rules = rules
        self.labelNameValidation = labelNameValidation
    }

    /// Reads the transform's keys, reporting every problem to `reader`; `nil` when there is one.
    public static func parse(_ reader: ConfigReader) -> RelabelConfig? {
        let names = reader.choice("label_name_validation", default: LabelNameValidation.legacy)
        guard reader.contains("rules") else {
            _ = reader.requiredString("rules")
            return nil
        }
        guard let readers = reader.sectionList("rules") else { return nil }
        if readers.isEmpty {
            reader.error("rules", "needs at least one rule")
            return nil
        }
        let rules = readers.compactMap { RelabelRuleConfig.parse($0, names: names) }
        guard rules.count == readers.count else { return nil }
        return RelabelConfig(rules: rules, labelNameValidation: names)
    }
}

extension RelabelRules {
    /// Compiles the transform's rules with its label name validation.
    public init(_ config: RelabelConfig) throws(RelabelRuleError) {
        try self.init(config.rules, labelNameValidation: config.labelNameValidation)
    }
}
