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

    /// dedupe, route, throttle and remap finished their readers themselves, and the loader again: each unknown key
    /// was reported twice.
    @Test(arguments: [
        "{ type: dedupe, inputs: [in], fields: { match: [message] }, colour: red }",
        "{ type: route, inputs: [in], routes: { a: '.x == 1' }, colour: red }",
        "{ type: throttle, inputs: [in], threshold: 5, window_secs: 1, colour: red }",
        "{ type: remap, inputs: [in], source: '.a = 1', colour: red }",
    ])
    func anUnknownKeyIsReportedOnce(transform: String) {
        let yaml = """
            sources:
              in: {type: demo, signals: [logs]}
            transforms:
              t: \(transform)
            sinks:
              out: {type: blackhole, inputs: [t]}
            """
        var errors: [String] = []
        do {
            _ = try ConfigLoader(registry: BuiltinComponents.registry, environment: [:]).parse(
                yaml, file: "petrel.yaml")
        } catch {
            errors = error.errors.map(\.description)
        }
        #expect(errors.filter { $0.contains("colour") } == ["petrel.yaml:4: transforms.t.colour: unknown key"])
    }
}
