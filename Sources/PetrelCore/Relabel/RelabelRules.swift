/// A rule that could not be compiled: its index in `rules`, the key at fault and why.
public struct RelabelRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    public var ruleIndex: Int
    public var problem: RelabelRuleConfig.Problem

    public var description: String {
        let key = problem.key.map { ".\($0)" } ?? ""
        return "rules[\(ruleIndex)]\(key): \(problem.message)"
    }
}

/// Prometheus relabel rules compiled once, applied in order to every series of a batch.
///
/// Holds per-regex result caches and scratch buffers, so applying is `mutating` and one value
/// should serve one thread; copies are independent.
public struct RelabelRules: Sendable {
    private var rules: [RelabelRule]
    private var work = RelabelRule.Workspace()

    /// Compiles `rules`; throws the first rule that fails the checks `RelabelRuleConfig.parse` makes.
    public init(_ rules: [RelabelRuleConfig], labelNameValidation: LabelNameValidation = .legacy)
        throws(RelabelRuleError)
    {
        try self.init(rules, labelNameValidation: labelNameValidation, allowFastPaths: true)
    }

    /// `allowFastPaths: false` sends every regex through Swift's `Regex`, to test the fast paths against it.
    init(_ rules: [RelabelRuleConfig], labelNameValidation: LabelNameValidation, allowFastPaths: Bool)
        throws(RelabelRuleError)
    {
        var compiled: [RelabelRule] = []
        for (index, rule) in rules.enumerated() {
            if let problem = rule.problems(names: labelNameValidation).first {
                throw RelabelRuleError(ruleIndex: index, problem: problem)
            }
            do {
                compiled.append(try RelabelRule(rule, names: labelNameValidation, allowFastPath: allowFastPaths))
            } catch {
                let problem = RelabelRuleConfig.Problem(
                    key: "regex", message: "invalid regular expression \"\(rule.regex)\": \(error)")
                throw RelabelRuleError(ruleIndex: index, problem: problem)
            }
        }
        self.rules = compiled
    }

    public var count: Int { rules.count }

    /// Relabels every series of `batch` in place and removes the series that are dropped, by a rule
    /// or by being left without labels. Samples, histograms and exemplars stay where they are.
    public mutating func process(_ batch: inout MetricBatch) {
        for index in rules.indices {
            rules[index].startBatch()
        }
        // Taken out of `self` so that rules and scratch space can be borrowed at once.
        var work = self.work
        self.work = RelabelRule.Workspace()
        defer { self.work = work }
        var kept = 0
        for series in batch.series.indices {
            var keep = true
            for index in rules.indices where !rules[index].apply(to: &batch, series: series, work: &work) {
                keep = false
                break
            }
            if keep && batch.series[series].labelCount > 0 {
                batch.series[kept] = batch.series[series]
                kept += 1
            }
        }
        batch.series.removeSubrange(kept...)
    }

    /// Relabels one label set: the result sorted by name, or `nil` when the series is dropped.
    /// For tests and benchmarks; `process` is the path a pipeline takes.
    public mutating func apply(to labels: [(String, String)]) -> [(String, String)]? {
        var batch = MetricBatch()
        batch.appendSeries(labels: labels.map { (name: $0.0, value: $0.1) }, samples: [])
        process(&batch)
        guard batch.seriesCount == 1 else { return nil }
        return batch.labelPairs(of: 0).map { ($0.name, $0.value) }
    }
}
