import PetrelCore
import PetrelSinks
import PetrelSources
import PetrelTransforms

/// Every component type Petrel ships, as `ComponentRegistry.standard` offers them to the configuration.
public enum BuiltinComponents {
    public static let all: [ComponentDefinition] = [
        DemoSource.definition,
        RemoteWriteSource.definition,
        FilterTransform.definition,
        RelabelTransform.definition,
        TagTransform.definition,
        BlackholeSink.definition,
        RemoteWriteSink.definition,
        ConsoleSink.definition,
    ]
}
