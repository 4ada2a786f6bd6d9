import PetrelCore
import PetrelSinks
import PetrelSources
import PetrelTransforms

/// Every component type Petrel ships, as `ComponentRegistry.standard` offers them to the configuration.
public enum BuiltinComponents {
    public static let all: [ComponentDefinition] = [
        DemoSource.definition,
        RemoteWriteSource.definition,
        OTLPSource.definition,
        FilterTransform.definition,
        RelabelTransform.definition,
        SampleTransform.definition,
        SpanMetricsTransform.definition,
        TagTransform.definition,
        BlackholeSink.definition,
        RemoteWriteSink.definition,
        OTLPSink.definition,
        ConsoleSink.definition,
    ]
}
