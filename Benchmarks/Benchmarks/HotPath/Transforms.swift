import Logging
import PetrelCore
import PetrelTransforms

/// The transforms under measurement, built from configuration trees as the config loader builds them from YAML.
enum Transforms {
    /// Ten rules of the kinds a remote-write relabel config is made of, in the order one would write them.
    ///
    /// ```yaml
    /// rules:
    ///   - { source_labels: [__name__], regex: "go_gc_duration_seconds|go_goroutines|go_memstats_alloc_bytes|process_open_fds", action: drop }
    ///   - { source_labels: [__name__], regex: "(node|container|kube|apiserver|http)_.+", action: keep }
    ///   - { source_labels: [container], regex: POD, action: drop }
    ///   - { source_labels: [namespace], target_label: exported_namespace, action: dropequal }
    ///   - { source_labels: [instance], regex: "(.+):(\\d+)", target_label: host, replacement: "$1" }
    ///   - { source_labels: [instance], modulus: 16, target_label: tmp_shard, action: hashmod }
    ///   - { regex: "label_(.+)", replacement: "$1", action: labelmap }
    ///   - { source_labels: [node], target_label: node, action: lowercase }
    ///   - { target_label: env, replacement: production }
    ///   - { regex: "tmp_.*", action: labeldrop }
    /// ```
    static let relabelRules: ConfigNode = mapping([
        (
            "rules",
            sequence([
                rule([
                    ("source_labels", sequence([scalar("__name__")])),
                    ("regex", scalar("go_gc_duration_seconds|go_goroutines|go_memstats_alloc_bytes|process_open_fds")),
                    ("action", scalar("drop")),
                ]),
                rule([
                    ("source_labels", sequence([scalar("__name__")])),
                    ("regex", scalar("(node|container|kube|apiserver|http)_.+")), ("action", scalar("keep")),
                ]),
                rule([
                    ("source_labels", sequence([scalar("container")])), ("regex", scalar("POD")),
                    ("action", scalar("drop")),
                ]),
                rule([
                    ("source_labels", sequence([scalar("namespace")])), ("target_label", scalar("exported_namespace")),
                    ("action", scalar("dropequal")),
                ]),
                rule([
                    ("source_labels", sequence([scalar("instance")])), ("regex", scalar("(.+):(\\d+)")),
                    ("target_label", scalar("host")), ("replacement", scalar("$1")),
                ]),
                rule([
                    ("source_labels", sequence([scalar("instance")])), ("modulus", scalar("16")),
                    ("target_label", scalar("tmp_shard")), ("action", scalar("hashmod")),
                ]),
                rule([("regex", scalar("label_(.+)")), ("replacement", scalar("$1")), ("action", scalar("labelmap"))]),
                rule([
                    ("source_labels", sequence([scalar("node")])), ("target_label", scalar("node")),
                    ("action", scalar("lowercase")),
                ]),
                rule([("target_label", scalar("env")), ("replacement", scalar("production"))]),
                rule([("regex", scalar("tmp_.*")), ("action", scalar("labeldrop"))]),
            ])
        )
    ])

    /// The identity a DaemonSet on an EKS node stamps on every series.
    static let tagLabels: ConfigNode = mapping([
        (
            "labels",
            mapping([
                ("cloud", scalar("aws")), ("region", scalar("eu-west-1")), ("cluster", scalar("prod-eu-west-1")),
                ("node", scalar("ip-10-0-12-34.eu-west-1.compute.internal")),
            ])
        )
    ])

    static func relabel() -> any Transform {
        build(RelabelTransform.definition, id: "relabel", config: relabelRules)
    }

    /// The compiled rules alone, to apply in place without the `Transform` entry point's copy of the batch.
    static func relabelRulesInPlace() -> RelabelRules {
        let diagnostics = ConfigDiagnostics(file: "benchmark")
        let reader = ConfigReader(node: relabelRules, path: "transforms.relabel", diagnostics: diagnostics)
        guard let config = RelabelConfig.parse(reader), let rules = try? RelabelRules(config) else {
            fatalError("cannot build the relabel rules: \(diagnostics.errors)")
        }
        return rules
    }

    static func tag() -> any Transform {
        build(TagTransform.definition, id: "tag", config: tagLabels)
    }

    static func context(_ id: String, type: String) -> TransformContext {
        TransformContext(
            id: id, telemetry: ComponentTelemetry(id: id, type: type, kind: .transform, registry: TelemetryRegistry()),
            logger: Logger(label: "petrel.benchmarks"))
    }

    private static func build(_ definition: ComponentDefinition, id: String, config: ConfigNode) -> any Transform {
        let diagnostics = ConfigDiagnostics(file: "benchmark")
        let reader = ConfigReader(node: config, path: "transforms.\(id)", diagnostics: diagnostics)
        let built = definition.build(reader, ComponentBuildContext(id: id, dataDirectory: "/tmp"))
        reader.finish()
        guard diagnostics.errors.isEmpty, case .transform(let transform, _) = built else {
            fatalError("cannot build \(id): \(diagnostics.errors)")
        }
        return transform
    }

    private static func mapping(_ entries: [(String, ConfigNode)]) -> ConfigNode {
        ConfigNode(.mapping(entries.map { (key: $0.0, node: $0.1) }))
    }

    private static func rule(_ entries: [(String, ConfigNode)]) -> ConfigNode {
        mapping(entries)
    }

    private static func sequence(_ items: [ConfigNode]) -> ConfigNode {
        ConfigNode(.sequence(items))
    }

    private static func scalar(_ text: String) -> ConfigNode {
        ConfigNode(.scalar(text))
    }
}
