import Logging
import Testing

@testable import PetrelCore
@testable import PetrelTransforms

/// Builds `relabel` transforms from literal rules and runs label sets through them.
enum Relabel {
    static let path = "transforms.r"

    /// The transform built from `rules` as the loader builds it, and every error reported.
    static func build(_ rules: [ComponentConfigValue], extra: [(String, ComponentConfigValue)] = [])
        -> (transform: RelabelTransform?, errors: [String])
    {
        let node = ComponentConfigValue.map(
            [(key: "rules", value: .list(rules))] + extra.map { (key: $0.0, value: $0.1) })
        let outcome = buildComponent(RelabelTransform.definition, at: path, node.configNode())
        guard case .transform(let transform, let accepts)? = outcome.built else { return (nil, outcome.errors) }
        #expect(accepts == .metrics)
        return (transform as? RelabelTransform, outcome.errors)
    }

    /// The errors `rules` produce, as a user reads them.
    static func errors(_ rules: [ComponentConfigValue]) -> [String] {
        build(rules).errors
    }

    /// Compiled rules that must have no configuration errors.
    static func rules(_ rules: [ComponentConfigValue], sourceLocation: SourceLocation = #_sourceLocation) throws
        -> RelabelRules
    {
        let built = build(rules)
        #expect(built.errors == [], sourceLocation: sourceLocation)
        return try #require(built.transform, sourceLocation: sourceLocation).rules
    }

    /// `labels` after `rules`, as sorted `name=value` strings, or `nil` when the series is dropped.
    static func apply(
        _ rules: [ComponentConfigValue], to labels: KeyValuePairs<String, String>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [String]? {
        var compiled = try Self.rules(rules, sourceLocation: sourceLocation)
        return render(compiled.apply(to: labels.map { ($0.key, $0.value) }))
    }

    static func render(_ labels: [(String, String)]?) -> [String]? {
        labels.map { $0.map { "\($0.0)=\($0.1)" } }
    }

    static let context = TransformContext(
        id: "r", telemetry: componentTestTelemetry(id: "r", type: "relabel", kind: .transform),
        logger: Logger(label: "test.relabel"))
}

extension MetricBatch {
    /// Every series as `name=value,...`, in order, for comparisons.
    var relabelSeriesText: [String] {
        series.indices.map { labelPairs(of: $0).map { "\($0.name)=\($0.value)" }.joined(separator: ",") }
    }
}
