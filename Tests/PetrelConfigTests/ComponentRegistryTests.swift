import PetrelCore
import Testing

@testable import PetrelConfig

@Suite struct ComponentRegistryTests {
    @Test func lookupIsByKindAndType() {
        let registry = Fakes.registry
        #expect(registry.definition(kind: .source, type: "otlp")?.kind == .source)
        #expect(registry.definition(kind: .sink, type: "otlp")?.kind == .sink)
        #expect(registry.definition(kind: .transform, type: "otlp") == nil)
        #expect(registry.definition(kind: .source, type: "pass") == nil)
        #expect(registry.definition(kind: .transform, type: "pass")?.type == "pass")
    }

    @Test func typesAreSortedPerKind() {
        let registry = Fakes.registry
        #expect(registry.types(of: .source) == ["logs_gen", "metrics_gen", "otlp"])
        #expect(registry.types(of: .transform) == ["metrics_filter", "pass"])
        #expect(registry.types(of: .sink) == ["console", "metrics_sink", "otlp"])
        #expect(registry.all.map { "\($0.kind)/\($0.type)" }.first == "source/logs_gen")
        #expect(registry.all.count == 8)
    }

    @Test func emptyRegistrySaysNoTypesAreAvailable() {
        let loader = ConfigLoader(registry: ComponentRegistry([]), environment: [:])
        do {
            _ = try loader.parse(minimalPipeline, file: "petrel.yaml")
            Issue.record("the configuration loaded without any component types")
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    #"petrel.yaml:3: sources.in.type: unknown source type "metrics_gen"; no source types are available"#,
                    #"petrel.yaml:6: sinks.out.type: unknown sink type "metrics_sink"; no sink types are available"#,
                ])
        }
    }

    @Test func definitionBugsAreReportedNotTrusted() {
        let registry = ComponentRegistry([
            ComponentDefinition(type: "confused", kind: .source) { _, _ in .sink(FakeSink(batchSize: 1), accepts: .all)
            },
            ComponentDefinition(type: "silent", kind: .sink) { _, _ in nil },
        ])
        let yaml = """
            sources:
              in: { type: confused }
            sinks:
              out: { type: silent, inputs: [in] }
            """
        do {
            _ = try ConfigLoader(registry: registry, environment: [:]).parse(yaml, file: "petrel.yaml")
            Issue.record("the configuration loaded")
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    "petrel.yaml:2: sources.in: the confused source type built a sink; this is a bug in Petrel",
                    "petrel.yaml:4: sinks.out: the silent sink could not be built",
                ])
        }
    }
}
