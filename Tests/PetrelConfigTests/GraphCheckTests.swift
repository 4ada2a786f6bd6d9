import Testing

@testable import PetrelConfig

/// Checks over the whole graph: ids, inputs, cycles, unread components and signals.
@Suite struct GraphCheckTests {
    @Test func duplicateIdsNameBothPlaces() {
        let yaml = """
            sources:
              main: { type: metrics_gen }
            transforms:
              tag: { type: pass, inputs: [main] }
            sinks:
              main: { type: console, inputs: [tag] }
              tag: { type: console, inputs: [main] }
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:6: sinks.main: id "main" is already used by sources.main on line 2; ids must be"#
                    + " unique across sources, transforms and sinks",
                #"petrel.yaml:7: sinks.tag: id "tag" is already used by transforms.tag on line 4; ids must be"#
                    + " unique across sources, transforms and sinks",
            ])
    }

    @Test func componentReadingItself() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            transforms:
              t: { type: pass, inputs: [in, t] }
            sinks:
              out: { type: console, inputs: [t] }
            """
        #expect(errors(yaml) == ["petrel.yaml:4: transforms.t.inputs[1]: a component cannot read its own output"])
    }

    @Test func cycleBetweenTwoTransforms() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            transforms:
              a:
                type: pass
                inputs: [in, b]
              b:
                type: pass
                inputs: [a]
            sinks:
              out: { type: console, inputs: [b] }
            """
        #expect(
            errors(yaml) == ["petrel.yaml:6: transforms.a.inputs[1]: cycle: a -> b -> a (each reads the one before it)"]
        )
    }

    @Test func cycleThroughThreeTransformsIsReportedOnce() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            transforms:
              c: { type: pass, inputs: [b] }
              a: { type: pass, inputs: [c, in] }
              b: { type: pass, inputs: [a] }
            sinks:
              out: { type: console, inputs: [c] }
            """
        #expect(
            errors(yaml) == [
                "petrel.yaml:4: transforms.c.inputs[0]: cycle: c -> a -> b -> c (each reads the one before it)"
            ])
    }

    @Test func unknownInputWithoutSuggestion() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              out: { type: console, inputs: [in, kafka_events] }
            """
        #expect(errors(yaml) == [#"petrel.yaml:4: sinks.out.inputs[1]: unknown component "kafka_events""#])
    }

    @Test func inputListedTwice() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              out: { type: console, inputs: [in, in] }
            """
        #expect(errors(yaml) == [#"petrel.yaml:4: sinks.out.inputs[1]: "in" is listed more than once"#])
    }

    @Test func inputNamingASink() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              first: { type: console, inputs: [in] }
              second: { type: console, inputs: [first] }
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:5: sinks.second.inputs[0]: "first" is a sink, and a sink has no output to read"#
            ]
        )
    }

    @Test func unreadSource() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
              forgotten:
                type: logs_gen
            sinks:
              out: { type: console, inputs: [in] }
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:3: sources.forgotten: no component reads from "forgotten"; list it in the inputs of"#
                    + " a transform or a sink, or remove it"
            ])
    }

    @Test func unreadTransform() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            transforms:
              tag: { type: pass, inputs: [in] }
            sinks:
              out: { type: console, inputs: [in] }
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:4: transforms.tag: no component reads from "tag", so its output goes nowhere; list it"#
                    + " in the inputs of a transform or a sink, or remove it"
            ])
    }

    @Test func signalMismatchAtASink() {
        let yaml = """
            sources:
              logs_in: { type: logs_gen }
            sinks:
              vm:
                type: metrics_sink
                inputs: [logs_in]
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:6: sinks.vm.inputs[0]: "logs_in" emits logs but the metrics_sink sink takes metrics"#
            ])
    }

    @Test func signalMismatchAtATransformIsReportedThereOnly() {
        let yaml = """
            sources:
              logs_in: { type: logs_gen }
            transforms:
              only_metrics: { type: metrics_filter, inputs: [logs_in] }
            sinks:
              out: { type: metrics_sink, inputs: [only_metrics] }
            """
        #expect(
            errors(yaml) == [
                #"petrel.yaml:4: transforms.only_metrics.inputs[0]: "logs_in" emits logs but the metrics_filter"#
                    + " transform takes metrics"
            ])
    }

    @Test func signalsAreCheckedThroughTransforms() {
        let yaml = """
            sources:
              everything: { type: otlp }
            transforms:
              metrics: { type: metrics_filter, inputs: [everything] }
            sinks:
              tempo: { type: otlp, inputs: [everything] }
              vm: { type: metrics_sink, inputs: [metrics] }
            """
        #expect(errors(yaml) == [])
        let yaml2 = """
            sources:
              app: { type: logs_gen }
            transforms:
              tag: { type: pass, inputs: [app] }
            sinks:
              tempo: { type: otlp, inputs: [tag] }
            """
        #expect(
            errors(yaml2) == [
                #"petrel.yaml:6: sinks.tempo.inputs[0]: "tag" emits logs but the otlp sink takes metrics and traces"#
            ])
    }

    @Test func partialSignalOverlapIsFine() throws {
        let yaml = """
            sources:
              prom: { type: metrics_gen }
              app: { type: logs_gen }
            transforms:
              tag: { type: pass, inputs: [prom, app] }
            sinks:
              vm: { type: metrics_sink, inputs: [tag] }
              debug: { type: console, inputs: [tag] }
            """
        #expect(errors(yaml) == [])
    }

    @Test func pipelineWithoutSourcesOrSinks() {
        #expect(
            errors("sources: {}\nsinks:\n") == [
                "petrel.yaml: sinks: the pipeline needs at least one sink",
                "petrel.yaml:1: sources: the pipeline needs at least one source",
            ])
    }

    @Test func missingInputsDoNotMakeSourcesLookUnread() {
        let yaml = """
            sources:
              in: { type: metrics_gen }
            sinks:
              out: { type: console }
            """
        #expect(
            errors(yaml) == [
                "petrel.yaml:4: sinks.out.inputs: is required: list the ids of the components this sink reads from"
            ])
    }

    @Test func allErrorsAreReportedInFileOrder() {
        let yaml = """
            sources:
              in: { type: metrics_gen, adress: "${ADDRESS}" }
              logs: { type: logs_gen }
            transforms:
              t: { type: pass, inputs: [t] }
            sinks:
              out: { type: metrics_sink, inputs: [logs, nope] }
            extra: true
            """
        #expect(
            errors(yaml) == [
                "petrel.yaml:2: environment variable ADDRESS is not set",
                #"petrel.yaml:2: sources.in: no component reads from "in"; list it in the inputs of a transform or"#
                    + " a sink, or remove it",
                "petrel.yaml:2: sources.in.adress: unknown key; did you mean \"address\"?",
                #"petrel.yaml:5: transforms.t: no component reads from "t", so its output goes nowhere; list it in"#
                    + " the inputs of a transform or a sink, or remove it",
                "petrel.yaml:5: transforms.t.inputs[0]: a component cannot read its own output",
                #"petrel.yaml:7: sinks.out.inputs[0]: "logs" emits logs but the metrics_sink sink takes metrics"#,
                #"petrel.yaml:7: sinks.out.inputs[1]: unknown component "nope""#,
                "petrel.yaml:8: extra: unknown key",
            ])
    }

    /// A chain this long overflowed the stack when the graph walks recursed; listed last-first, it also
    /// made the placement quadratic.
    @Test func chainOfEightyThousandTransformsListedBackwardsIsValid() throws {
        let length = 80_000
        var yaml = "sources:\n  in: { type: metrics_gen }\ntransforms:\n"
        for step in stride(from: length - 1, through: 0, by: -1) {
            yaml += "  t\(step): { type: pass, inputs: [\(step == 0 ? "in" : "t\(step - 1)")] }\n"
        }
        yaml += "sinks:\n  out: { type: console, inputs: [t\(length - 1)] }\n"
        let config = try Fakes.loader().parse(yaml, file: "petrel.yaml")
        let transforms = config.components.filter { $0.kind == .transform }.map(\.id)
        #expect(transforms == (0..<length).map { "t\($0)" })
    }
}
