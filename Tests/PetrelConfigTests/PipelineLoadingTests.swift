import Foundation
import PetrelCore
import Testing

@testable import PetrelConfig

@Suite struct PipelineLoadingTests {
    let pipeline = """
        data_dir: /tmp/petrel
        api:
          address: "[::1]:9000"
        sources:
          prom_in:
            type: metrics_gen
            address: 0.0.0.0:9201
          app_logs:
            type: logs_gen
        transforms:
          metrics_only:
            type: metrics_filter
            inputs: [tag_all]
          tag_all:
            type: pass
            label: cluster
            inputs: [prom_in, app_logs]
        sinks:
          debug:
            type: console
            inputs: [tag_all, prom_in]
          vm:
            type: metrics_sink
            inputs: [metrics_only]
            batch_size: 500
        """

    @Test func validPipelineIsInTopologicalOrder() throws {
        let config = try Fakes.loader().parse(pipeline, file: "petrel.yaml")
        #expect(config.components.map(\.id) == ["prom_in", "app_logs", "tag_all", "metrics_only", "debug", "vm"])
        #expect(config.components.map(\.kind) == [.source, .source, .transform, .transform, .sink, .sink])
        #expect(
            config.components.map(\.type) == [
                "metrics_gen", "logs_gen", "pass", "metrics_filter", "console", "metrics_sink",
            ])
        for (position, component) in config.components.enumerated() {
            let earlier = Set(config.components[..<position].map(\.id))
            #expect(component.inputs.allSatisfy(earlier.contains), "\(component.id) comes before an input")
        }
    }

    @Test func emittedSignalsFollowTheGraph() throws {
        let config = try Fakes.loader().parse(pipeline, file: "petrel.yaml")
        let emits = Dictionary(uniqueKeysWithValues: config.components.map { ($0.id, $0.emits) })
        #expect(emits["prom_in"] == .metrics)
        #expect(emits["app_logs"] == .logs)
        #expect(emits["tag_all"] == [.metrics, .logs])
        #expect(emits["metrics_only"] == .metrics)
        #expect(emits["debug"] == [])
        #expect(emits["vm"] == [])
        let accepts = Dictionary(uniqueKeysWithValues: config.components.map { ($0.id, $0.accepts) })
        #expect(accepts["prom_in"] == [])
        #expect(accepts["tag_all"] == .all)
        #expect(accepts["metrics_only"] == .metrics)
        #expect(accepts["vm"] == .metrics)
    }

    @Test func inputsAndReaders() throws {
        let config = try Fakes.loader().parse(pipeline, file: "petrel.yaml")
        #expect(config.component("prom_in")?.inputs == [])
        #expect(config.component("tag_all")?.inputs == ["prom_in", "app_logs"])
        #expect(config.component("debug")?.inputs == ["tag_all", "prom_in"])
        #expect(config.readers(of: "prom_in").map(\.id) == ["tag_all", "debug"])
        #expect(config.readers(of: "tag_all").map(\.id) == ["metrics_only", "debug"])
        #expect(config.readers(of: "vm").isEmpty)
    }

    @Test func componentsAreBuiltWithTheirSettingsAndContext() throws {
        let config = try Fakes.loader().parse(pipeline, file: "petrel.yaml")
        let source = try #require(config.component("prom_in"))
        guard case .source(let built, let emits) = source.component else {
            Issue.record("prom_in was not built as a source")
            return
        }
        let fake = try #require(built as? FakeSource)
        #expect(fake.id == "prom_in")
        #expect(fake.dataDirectory == "/tmp/petrel")
        #expect(fake.address == "0.0.0.0:9201")
        #expect(emits == .metrics)

        guard case .sink(let sink, let accepts) = try #require(config.component("vm")).component else {
            Issue.record("vm was not built as a sink")
            return
        }
        #expect((sink as? FakeSink)?.batchSize == 500)
        #expect(accepts == .metrics)
    }

    @Test func settingsOverrideDefaults() throws {
        let config = try Fakes.loader().parse(pipeline, file: "petrel.yaml")
        #expect(config.dataDirectory == "/tmp/petrel")
        #expect(config.apiAddress?.host == "::1")
        #expect(config.apiAddress?.port == 9000)
    }

    @Test func defaults() throws {
        let config = try Fakes.loader().parse(minimalPipeline, file: "petrel.yaml")
        #expect(config.dataDirectory == "/var/lib/petrel")
        #expect(config.apiAddress?.host == "127.0.0.1")
        #expect(config.apiAddress?.port == 8686)
        #expect(config.components.map(\.id) == ["in", "out"])
    }

    @Test func apiCanBeDisabled() throws {
        let config = try Fakes.loader().parse("api:\n  enabled: false\n" + minimalPipeline, file: "petrel.yaml")
        #expect(config.apiAddress == nil)
    }

    @Test func apiListenerLimits() throws {
        let config = try Fakes.loader().parse(
            "api: { max_connections: 50, request_header_timeout: 2s, idle_timeout: 5s }\n" + minimalPipeline,
            file: "petrel.yaml")
        #expect(config.apiLimits.maxConnections == 50)
        #expect(config.apiLimits.requestHeaderTimeout == .seconds(2))
        #expect(config.apiLimits.requestBodyTimeout == .seconds(30))
        #expect(config.apiLimits.idleTimeout == .seconds(5))
        let defaults = try Fakes.loader().parse(minimalPipeline, file: "petrel.yaml")
        #expect(defaults.apiLimits.maxConnections == 4096)
    }

    @Test func apiAddressWithHostName() throws {
        let config = try Fakes.loader().parse("api: { address: localhost:0 }\n" + minimalPipeline, file: "p.yaml")
        #expect(config.apiAddress?.host == "localhost")
        #expect(config.apiAddress?.port == 0)
    }

    @Test func sourceAndSinkMayShareATypeName() throws {
        let config = try Fakes.loader().parse(
            """
            sources:
              otlp_in: { type: otlp }
            sinks:
              tempo: { type: otlp, inputs: [otlp_in] }
            """, file: "petrel.yaml")
        #expect(config.components.map(\.kind) == [.source, .sink])
        #expect(config.components.map(\.type) == ["otlp", "otlp"])
    }

    @Test func fileIsReadAndNamedAsGiven() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-config-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("petrel.yaml").path
        try (minimalPipeline + "\nbogus: 1\n").write(toFile: path, atomically: true, encoding: .utf8)

        #expect(throws: ConfigLoadError.self) { try Fakes.loader().load(file: path) }
        do {
            _ = try Fakes.loader().load(file: path)
        } catch {
            #expect(error.description == "\(path):8: bogus: unknown key")
        }

        try minimalPipeline.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try Fakes.loader().load(file: path)
        #expect(config.components.count == 2)
    }

    @Test func unreadableFileIsNamed() {
        do {
            _ = try Fakes.loader().load(file: "/nonexistent/petrel.yaml")
            Issue.record("loading a missing file succeeded")
        } catch {
            #expect(error.description == "/nonexistent/petrel.yaml: cannot read the configuration: no such file")
        }
        do {
            _ = try Fakes.loader().load(file: "/tmp")
            Issue.record("loading a directory succeeded")
        } catch {
            #expect(error.description == "/tmp: cannot read the configuration: it is a directory")
        }
    }

    @Test func errorDescriptionIsOneErrorPerLine() {
        let error = ConfigLoadError(errors: [
            ConfigError(file: "p.yaml", line: 9, path: "sinks.b", message: "second"),
            ConfigError(file: "p.yaml", line: 2, path: "sources.a", message: "first"),
            ConfigError(file: "p.yaml", line: 9, path: "sinks.a", message: "also second"),
        ])
        #expect(
            error.description == """
                p.yaml:2: sources.a: first
                p.yaml:9: sinks.a: also second
                p.yaml:9: sinks.b: second
                """)
    }
}
