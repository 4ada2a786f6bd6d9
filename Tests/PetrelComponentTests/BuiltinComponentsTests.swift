import PetrelComponents
import PetrelConfig
import Testing

@Suite struct BuiltinComponentsTests {
    @Test func registryOffersEveryBuiltinComponent() {
        let registry = BuiltinComponents.registry
        #expect(registry.all.count == BuiltinComponents.all.count)
        for definition in BuiltinComponents.all {
            #expect(registry.definition(kind: definition.kind, type: definition.type) != nil)
        }
        #expect(
            registry.types(of: .transform) == [
                "alert", "dedupe", "filter", "log_to_metric", "reduce", "relabel", "remap", "route", "sample",
                "span_metrics", "tag", "throttle",
            ])
    }

    @Test func loaderBuildsBuiltinComponentsFromTheRegistryItIsGiven() throws {
        let yaml = """
            sources:
              in: {type: demo}
            sinks:
              out: {type: blackhole, inputs: [in]}
            """
        let config = try ConfigLoader(registry: BuiltinComponents.registry, environment: [:])
            .parse(yaml, file: "petrel.yaml")
        #expect(config.components.map(\.id).sorted() == ["in", "out"])
    }
}
