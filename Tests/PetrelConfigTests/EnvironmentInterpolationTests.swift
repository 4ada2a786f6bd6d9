import PetrelCore
import Testing

@testable import PetrelConfig

@Suite struct EnvironmentInterpolationTests {
    /// The interpolated text and the error descriptions.
    func interpolate(_ text: String, _ environment: [String: String]) -> (text: String, errors: [String]) {
        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let result = EnvironmentInterpolation(environment: environment).apply(to: text, diagnostics: diagnostics)
        return (result, diagnostics.errors.map(\.description))
    }

    @Test func setVariable() {
        let result = interpolate(
            "cluster: ${CLUSTER}\nnode: \"${NODE_NAME}-x\"", ["CLUSTER": "eks-1", "NODE_NAME": "n1"])
        #expect(result.text == "cluster: eks-1\nnode: \"n1-x\"")
        #expect(result.errors.isEmpty)
    }

    @Test func defaultWhenUnset() {
        let result = interpolate("cloud: ${CLOUD:-aws}", [:])
        #expect(result.text == "cloud: aws")
        #expect(result.errors.isEmpty)
    }

    @Test func defaultWhenEmpty() {
        let result = interpolate("cloud: ${CLOUD:-aws}", ["CLOUD": ""])
        #expect(result.text == "cloud: aws")
        #expect(result.errors.isEmpty)
    }

    @Test func setValueWinsOverDefault() {
        #expect(interpolate("cloud: ${CLOUD:-aws}", ["CLOUD": "gcp"]).text == "cloud: gcp")
    }

    @Test func emptyDefault() {
        #expect(interpolate("a: '${A:-}'", [:]) == ("a: ''", []))
    }

    @Test func defaultMayHoldColonsAndDashes() {
        #expect(interpolate("address: ${ADDR:-0.0.0.0:9201}", [:]).text == "address: 0.0.0.0:9201")
        #expect(interpolate("x: ${X:--1}", [:]).text == "x: -1")
    }

    @Test func setButEmptyWithoutDefaultIsEmpty() {
        #expect(interpolate("a: '${A}'", ["A": ""]) == ("a: ''", []))
    }

    @Test func unsetWithoutDefaultIsAnErrorWithItsLine() {
        let text = "a: 1\nb: 2\nc: ${CLUSTER}\nd: ${CLOUD}\n"
        let result = interpolate(text, [:])
        #expect(
            result.errors == [
                "petrel.yaml:3: environment variable CLUSTER is not set",
                "petrel.yaml:4: environment variable CLOUD is not set",
            ])
        #expect(result.text == "a: 1\nb: 2\nc: \nd: \n")
    }

    @Test func unsetVariableThroughTheLoader() {
        let yaml = """
            sources:
              in:
                type: metrics_gen
            sinks:
              out:
                type: metrics_sink
                inputs: [in]
                label: ${CLUSTER}
            """
        // Reported together with the errors found after it.
        #expect(
            errors(yaml) == [
                "petrel.yaml:8: environment variable CLUSTER is not set",
                "petrel.yaml:8: sinks.out.label: unknown key",
            ])
    }

    @Test func interpolatedValuesReachComponents() throws {
        let yaml = """
            data_dir: ${DATA_DIR:-/data}
            sources:
              in: { type: metrics_gen, address: "${HOST}:${PORT:-9201}" }
            sinks:
              out: { type: metrics_sink, inputs: [in] }
            """
        let config = try Fakes.loader(["HOST": "10.0.0.1", "PORT": ""]).parse(yaml, file: "petrel.yaml")
        #expect(config.dataDirectory == "/data")
        guard case .source(let source, _) = try #require(config.component("in")).component else {
            Issue.record("in is not a source")
            return
        }
        #expect((source as? FakeSource)?.address == "10.0.0.1:9201")
    }

    @Test func doubleDollarIsALiteralDollar() {
        let result = interpolate("replacement: \"$${1}\"\nprice: $$5\nregex: \"foo$\"\nref: $1", ["1": "x"])
        #expect(result.text == "replacement: \"${1}\"\nprice: $5\nregex: \"foo$\"\nref: $1")
        #expect(result.errors.isEmpty)
    }

    @Test func captureGroupReferencesStayAsWritten() {
        let result = interpolate(#"replacement: "${1}:${2}", target: "$1""#, ["1": "not used"])
        #expect(result.text == #"replacement: "${1}:${2}", target: "$1""#)
        #expect(result.errors.isEmpty)
    }

    @Test func malformedReferences() {
        let text = """
            a: ${CLUSTER
            b: ${}
            c: ${1x}
            d: ${CLUSTER NAME}
            e: ${:-x}
            f: ${VAR:default}
            """
        let result = interpolate(text, ["CLUSTER": "c"])
        let rule =
            "expected ${NAME} or ${NAME:-default}, where NAME is letters, digits and _, not starting with a"
            + " digit; write $$ for a literal $"
        #expect(
            result.errors == [
                #"petrel.yaml:1: unclosed "${" in "${CLUSTER": expected "}" on the same line; write $$ for a literal $"#,
                #"petrel.yaml:2: "${}" names no variable: "# + rule,
                #"petrel.yaml:3: "${1x}" has an invalid variable name "1x": "# + rule,
                #"petrel.yaml:4: "${CLUSTER NAME}" has an invalid variable name "CLUSTER NAME": "# + rule,
                #"petrel.yaml:5: "${:-x}" names no variable: "# + rule,
                #"petrel.yaml:6: "${VAR:default}" has an invalid variable name "VAR:default": "# + rule,
            ])
        // Malformed references stay as written.
        #expect(result.text == text)
    }

    @Test func lineBreakInAValueIsAnError() {
        let result = interpolate("a: ${EVIL}", ["EVIL": "x\nsinks: {}"])
        #expect(result.errors == ["petrel.yaml:1: environment variable EVIL contains a line break"])
        #expect(result.text == "a: ")
    }

    @Test func lineEndingsAndNonASCIIArePreserved() {
        let result = interpolate("a: ${A}\r\nb: \"é ${B}\"\r\n", ["A": "1", "B": "ü"])
        #expect(result.text == "a: 1\r\nb: \"é ü\"\r\n")
    }

    @Test func dollarAtEndOfLine() {
        #expect(interpolate("a: x$\nb: $", [:]) == ("a: x$\nb: $", []))
    }

    @Test func valuesAreNotInterpolatedAgain() {
        #expect(interpolate("a: ${A}", ["A": "${B}", "B": "no"]).text == "a: ${B}")
    }
}
