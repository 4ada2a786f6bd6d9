import Testing

@testable import PetrelConfig

/// Errors in the top-level settings and in the keys of each component.
@Suite struct ComponentSettingsTests {
    @Test func unknownTopLevelKey() {
        #expect(errors(minimalPipeline + "\nsinkz: {}\n") == ["petrel.yaml:8: sinkz: unknown key"])
    }

    @Test func unknownComponentKeyNamesFileComponentAndKey() {
        let yaml = """
            sources:
              in:
                type: metrics_gen
            sinks:
              out:
                type: metrics_sink
                inputs: [in]
                foo: 1
            """
        #expect(errors(yaml) == ["petrel.yaml:8: sinks.out.foo: unknown key"])
        #expect(errors(yaml, file: "config/agent.yaml") == ["config/agent.yaml:8: sinks.out.foo: unknown key"])
    }

    @Test func acceptanceUnknownInputAndUnknownKeyAreBothReported() throws {
        let yaml = """
            sources:
              demo:
                type: metrics_gen
            sinks:
              out:
                type: metrics_sink
                inputs: [dmeo]
                batch_sise: 10
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:7: sinks.out.inputs[0]: unknown component "dmeo"; did you mean "demo"?"#,
                "petrel.yaml:8: sinks.out.batch_sise: unknown key; did you mean \"batch_size\"?",
            ])
        // Both in one error, as `petrel validate` prints it.
        do {
            _ = try Fakes.loader().parse(yaml, file: "petrel.yaml")
            Issue.record("the configuration loaded")
        } catch {
            #expect(error.errors.count == 2)
            #expect(
                error.description == """
                    petrel.yaml:7: sinks.out.inputs[0]: unknown component "dmeo"; did you mean "demo"?
                    petrel.yaml:8: sinks.out.batch_sise: unknown key; did you mean "batch_size"?
                    """)
        }
    }

    @Test func missingType() {
        let yaml = """
            sources:
              in:
                address: 0.0.0.0:9201
            sinks:
              out: { type: metrics_sink, inputs: [in] }
            """
        #expect(errors(yaml) == ["petrel.yaml:2: sources.in.type: is required"])
    }

    @Test func emptyComponent() {
        let yaml = """
            sources:
              in:
            sinks:
              out: { type: metrics_sink, inputs: [in] }
            """
        #expect(errors(yaml) == ["petrel.yaml:2: sources.in.type: is required"])
    }

    @Test func unknownTypeListsKnownTypesOfThatKind() {
        let yaml = """
            sources:
              in:
                type: metrics_gne
                address: 0.0.0.0:9201
              other:
                type: statsd
            sinks:
              out: { type: metrics_sink, inputs: [in, other] }
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:3: sources.in.type: unknown source type "metrics_gne"; did you mean "metrics_gen"?"#
                    + " source types: logs_gen, metrics_gen, otlp",
                #"petrel.yaml:6: sources.other.type: unknown source type "statsd"; source types: logs_gen,"#
                    + " metrics_gen, otlp",
            ])
    }

    @Test func typeOfAnotherKindSaysWhereItBelongs() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              out: { type: pass, inputs: [in] }
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:4: sinks.out.type: unknown sink type "pass" (pass is a transform type, written under"#
                    + " transforms); sink types: console, metrics_sink, otlp"
            ])
    }

    @Test func typeMustBeASingleValue() {
        let yaml = """
            sources:
              in: { type: [metrics_gen] }
            sinks:
              out: { type: console, inputs: [in] }
            """
        #expect(errors(yaml) == ["petrel.yaml:2: sources.in.type: expected a single value, found a list"])
    }

    @Test func missingInputs() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              out:
                type: metrics_sink
            """
        #expect(
            errors(yaml) == [
                "petrel.yaml:4: sinks.out.inputs: is required: list the ids of the components this sink reads from"
            ])
    }

    @Test func inputsMustBeAList() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            transforms:
              t:
                type: pass
                inputs: in
            sinks:
              out: { type: metrics_sink, inputs: [t] }
            """
        #expect(
            errors(yaml) == [
                "petrel.yaml:6: transforms.t.inputs: expected a list of component ids, found a single value;"
                    + " write [in]"
            ])
    }

    @Test func inputsMustNotBeEmpty() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              out: { type: metrics_sink, inputs: [] }
            """
        #expect(errors(yaml) == ["petrel.yaml:4: sinks.out.inputs: must list at least one component"])
    }

    @Test func inputsMustBeIds() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              out:
                type: metrics_sink
                inputs:
                  - in
                  - [in]
            """
        #expect(errors(yaml) == ["petrel.yaml:8: sinks.out.inputs[1]: expected a component id, found a list"])
    }

    @Test func sourceTakesNoInputs() {
        let yaml = """
            sources:
              in: { type: metrics_gen, inputs: [x] }
            sinks:
              out: { type: metrics_sink, inputs: [in] }
            """
        #expect(
            errors(yaml) == [
                "petrel.yaml:2: sources.in.inputs: a source takes no inputs; it reads from outside the pipeline"
            ])
    }

    @Test func componentMustBeAMapping() {
        let yaml = """
            sources:
              in: metrics_gen
            sinks:
              out: { type: metrics_sink, inputs: [in] }
            """
        #expect(errors(yaml) == ["petrel.yaml:2: sources.in: expected a mapping, found a single value"])
    }

    @Test func componentSettingErrorsAreReported() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              out:
                type: metrics_sink
                inputs: [in]
                batch_size: lots
            """
        #expect(errors(yaml) == [#"petrel.yaml:7: sinks.out.batch_size: expected a whole number, found "lots""#])
    }

    @Test func invalidIdCharacters() {
        let yaml = """
            sources:
              "prom in": { type: metrics_gen }
              "k8s.logs": { type: logs_gen }
              "": { type: logs_gen }
            sinks:
              out: { type: console, inputs: ["prom in", k8s.logs, ""] }
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:2: sources.prom in: invalid component id "prom in": use only letters, digits, _ and -"#,
                #"petrel.yaml:3: sources.k8s.logs: invalid component id "k8s.logs": use only letters, digits, _ and -"#,
                "petrel.yaml:4: sources.: a component id must not be empty",
            ])
    }

    @Test func idsMayUseDashesAndUnderscores() throws {
        let yaml = """
            sources:
              Prom_In-2: { type: metrics_gen }
            sinks:
              out: { type: console, inputs: [Prom_In-2] }
            """
        #expect(errors(yaml) == [])
    }

    @Test func sectionMustBeAMapping() {
        let yaml = """
            sources:
              - type: metrics_gen
            sinks:
              out: { type: console, inputs: [in] }
            """
        #expect(
            errors(yaml) == [
                "petrel.yaml:1: sources: expected a mapping of source ids to sources, found a list",
                #"petrel.yaml:4: sinks.out.inputs[0]: unknown component "in""#,
            ])
    }

    @Test func dataDirectoryMustNotBeEmpty() {
        #expect(errors("data_dir: \"\"\n" + minimalPipeline) == ["petrel.yaml:1: data_dir: must not be empty"])
    }

    @Test(arguments: [
        ("8686", "expected host:port, such as 127.0.0.1:8686"),
        ("localhost:99999", #"the port must be a number from 0 to 65535, found "99999""#),
        ("localhost:http", #"the port must be a number from 0 to 65535, found "http""#),
        ("localhost:", #"the port must be a number from 0 to 65535, found """#),
        ("::1:8686", "write an IPv6 address in brackets, such as [::1]:8686"),
        ("[::1]8686", "expected :port after the host"),
        ("[::1:8686", #"an IPv6 address is missing its closing "]""#),
        (":8686", "the host is missing; use 0.0.0.0 to listen on every interface"),
        ("my host:8686", #""my host" is not a host name or an IP address"#),
    ])
    func invalidAPIAddress(address: String, problem: String) {
        let yaml = "api:\n  address: \"\(address)\"\n" + minimalPipeline
        #expect(errors(yaml) == [#"petrel.yaml:2: api.address: invalid address "\#(address)": \#(problem)"#])
    }

    @Test func apiSettingsAreChecked() {
        let yaml = "api:\n  enabled: maybe\n  port: 8686\n" + minimalPipeline
        #expect(
            errors(yaml) == [
                #"petrel.yaml:2: api.enabled: expected true or false, found "maybe""#,
                "petrel.yaml:3: api.port: unknown key",
            ])
    }

    @Test func documentMustBeAMapping() {
        #expect(
            errors("- sources\n- sinks\n") == [
                "petrel.yaml:1: expected a mapping with sources, transforms and sinks, found a list"
            ])
    }

    @Test func emptyDocumentNeedsSourcesAndSinks() {
        #expect(
            errors("") == [
                "petrel.yaml: sinks: the pipeline needs at least one sink",
                "petrel.yaml: sources: the pipeline needs at least one source",
            ])
    }
}
