import PetrelConfig
import PetrelCore
import PetrelSinks
import PetrelSources
import PetrelTransforms

/// Every component type Petrel ships, listed here so that the configuration loader knows none of them.
public enum BuiltinComponents {
    public static let all: [ComponentDefinition] = [
        DemoSource.definition,
        RemoteWriteSource.definition,
        OTLPSource.definition,
        FileSource.definition,
        KubernetesLogsSource.definition,
        HTTPServerSource.definition,
        SyslogSource.definition,
        PrometheusScrapeSource.definition,
        FilterTransform.definition,
        RelabelTransform.definition,
        RemapTransform.definition,
        RouteTransform.definition,
        DedupeTransform.definition,
        ThrottleTransform.definition,
        SampleTransform.definition,
        SpanMetricsTransform.definition,
        LogToMetricTransform.definition,
        ReduceTransform.definition,
        TagTransform.definition,
        AlertTransform.definition,
        BlackholeSink.definition,
        RemoteWriteSink.definition,
        OTLPSink.definition,
        ConsoleSink.definition,
        FileSink.definition,
        HTTPSink.definition,
        VictoriaLogsSink.definition,
        ElasticsearchSink.definition,
        LokiSink.definition,
        AlertmanagerSink.definition,
    ]

    /// The registry `petrel run` and `petrel validate` hand to the `ConfigLoader`.
    public static var registry: ComponentRegistry { ComponentRegistry(all) }
}
