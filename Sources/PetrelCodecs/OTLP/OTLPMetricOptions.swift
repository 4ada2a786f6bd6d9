/// How OTLP metrics become Prometheus series: name suffixes, and where resource attributes go.
public struct OTLPMetricOptions: Sendable, Hashable {
    /// Where a resource's attributes (other than the ones that make `job` and `instance`) go.
    public enum ResourceAttributeMode: String, Sendable, CaseIterable {
        /// One `target_info` series per resource carries them, as the Collector's Prometheus exporters do.
        case targetInfo = "target_info"
        /// The ones listed in `promotedResourceAttributes` become labels of every series of the resource.
        case promote
        /// They are dropped.
        case none
    }

    /// Unit suffixes from the UCUM unit (`_seconds`, `_bytes`, `_ratio` for gauges of unit `1`) and `_total` for
    /// counters, as the OpenTelemetry-to-Prometheus specification asks by default.
    public var addUnitAndTypeSuffixes = true
    public var resourceAttributes: ResourceAttributeMode = .targetInfo
    /// Resource attribute keys (as sent, `k8s.namespace.name`) made labels in `.promote` mode.
    public var promotedResourceAttributes: [String] = []
    /// Adds `otel_scope_name` and `otel_scope_version` labels, which keep apart series that only their
    /// instrumentation scope tells apart; off by default, as in the Collector's remote-write exporter.
    public var addScopeLabels = false

    public init() {}
}
