import PetrelCore
import Testing

@testable import PetrelConfig

@Suite struct YAMLDocumentTests {
    func parse(_ text: String) -> (node: ConfigNode?, errors: [String]) {
        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let node = YAMLDocument.parse(text, diagnostics: diagnostics)
        return (node, diagnostics.errors.map(\.description))
    }

    /// A compact rendering of a node tree: scalars quoted, null as `~`, lines after `@`.
    func render(_ node: ConfigNode?, lines: Bool = false) -> String {
        guard let node else { return "<none>" }
        let at = lines ? "@\(node.line)" : ""
        switch node.value {
        case .null: return "~" + at
        case .scalar(let text): return "\"\(text)\"" + at
        case .sequence(let items):
            return "[" + items.map { render($0, lines: lines) }.joined(separator: ", ") + "]" + at
        case .mapping(let entries):
            return "{" + entries.map { "\($0.key): \(render($0.node, lines: lines))" }.joined(separator: ", ") + "}"
                + at
        }
    }

    @Test func scalarsSequencesAndMappings() {
        let result = parse(
            """
            a: 1
            b: [x, "y", 'z']
            c:
              d: true
              e:
                - 1.5
                - text with spaces
            """)
        #expect(result.errors.isEmpty)
        #expect(
            render(result.node)
                == #"{a: "1", b: ["x", "y", "z"], c: {d: "true", e: ["1.5", "text with spaces"]}}"#)
    }

    @Test func linesAreOneBasedAndMappingValuesCarryTheirKeyLine() {
        let result = parse(
            """
            # comment
            sources:
              in:
                type: x
            sinks:
              out:
                inputs:
                  - in
                  - other
            """)
        #expect(
            render(result.node, lines: true)
                == #"{sources: {in: {type: "x"@4}@3}@2, sinks: {out: {inputs: ["in"@8, "other"@9]@7}@6}@5}@2"#)
    }

    @Test func nullsAreNullButQuotedNullIsAString() {
        let result = parse(
            """
            a: ~
            b: null
            c:
            d: "null"
            e: '~'
            f: ""
            g: NULL
            h: !!str null
            """)
        #expect(result.errors.isEmpty)
        #expect(render(result.node) == #"{a: ~, b: ~, c: ~, d: "null", e: "~", f: "", g: ~, h: "null"}"#)
    }

    @Test func emptyDocumentIsNull() {
        #expect(render(parse("").node) == "~")
        #expect(render(parse("# nothing here\n").node) == "~")
    }

    @Test func blockScalarsKeepTheirText() {
        let result = parse("a: |\n  line 1\n  line 2\nb: >\n  folded\n  text\n")
        #expect(render(result.node) == "{a: \"line 1\nline 2\n\", b: \"folded text\n\"}")
    }

    @Test func aliasesAreExpanded() {
        let result = parse(
            """
            a: &endpoints [http://a, http://b]
            b: *endpoints
            """)
        #expect(result.errors.isEmpty)
        #expect(render(result.node) == #"{a: ["http://a", "http://b"], b: ["http://a", "http://b"]}"#)
    }

    @Test func mergeKeysApplyWithExplicitKeysWinning() {
        let result = parse(
            """
            base: &base { type: metrics_sink, batch_size: 100 }
            other: &other { batch_size: 5, timeout: 1s }
            vm:
              <<: [*base, *other]
              batch_size: 500
              inputs: [in]
            """)
        #expect(result.errors.isEmpty)
        let vm = result.node?["vm"]
        #expect(render(vm) == #"{type: "metrics_sink", timeout: "1s", batch_size: "500", inputs: ["in"]}"#)
    }

    @Test func mergeKeyNeedsAMapping() {
        let result = parse("a:\n  <<: 5\n  b: 1\n")
        #expect(
            result.errors == [
                "petrel.yaml:2: a.<<: a merge key takes a mapping or a list of mappings, found a single value"
            ])
        #expect(render(result.node) == #"{a: {b: "1"}}"#)
    }

    @Test func duplicateKeysAreAnError() {
        let result = parse(
            """
            sources:
              in: { type: a }
              out: { type: b }
              in: { type: c }
            """)
        #expect(result.node == nil)
        #expect(result.errors == [#"petrel.yaml:2: duplicate key "in" in the same mapping"#])
    }

    @Test func keysThatAreEqualAsTextAreDuplicates() {
        // YAML tells `1` (an integer) from "1" (a string); a configuration key is text, so they clash.
        let result = parse("a:\n  1: x\n  \"1\": y\n")
        #expect(result.errors == ["petrel.yaml:3: a.1: duplicate key, first written on line 2"])
        #expect(render(result.node) == #"{a: {1: "x"}}"#)
    }

    @Test func keysMustBeSingleValues() {
        let result = parse("? [a, b]\n: c\nd: e\n")
        #expect(result.errors == ["petrel.yaml:1: a key must be a single value, found a list"])
        #expect(render(result.node) == #"{d: "e"}"#)
    }

    @Test func syntaxErrorIsOneErrorWithItsLine() {
        let result = parse(
            """
            sources:
              in:
                type: metrics_gen
              - out
            """)
        #expect(result.node == nil)
        #expect(
            result.errors == [
                "petrel.yaml:4: invalid YAML: did not find expected key (while parsing a block mapping on line 2)"
            ])
    }

    @Test func syntaxErrorsOfSeveralKinds() {
        #expect(
            parse("a: [1, 2\nb: 3\n").errors == [
                "petrel.yaml:2: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence on line 1)"
            ])
        #expect(
            parse("a: 1\n  b: 2\n").errors == [
                "petrel.yaml:2: invalid YAML: mapping values are not allowed in this context"
            ])
        #expect(parse("a: *nowhere\n").errors == ["petrel.yaml:1: invalid YAML: found undefined alias"])
        #expect(
            parse("a: 1\n---\nb: 2\n").errors == [
                "petrel.yaml:2: invalid YAML: expected a single document in the stream but found another document"
            ])
        #expect(
            parse("a: 1\nb: \"\u{01}\"\n").errors == ["petrel.yaml:2: invalid YAML: control characters are not allowed"]
        )
    }

    @Test func syntaxErrorThroughTheLoaderKeepsEnvironmentErrors() {
        let yaml = """
            data_dir: ${DIR}
            sources:
              in: { type: metrics_gen
            sinks: {}
            """
        #expect(
            errors(yaml) == [
                "petrel.yaml:1: environment variable DIR is not set",
                "petrel.yaml:4: invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping on line 3)",
            ])
    }

    @Test func aliasBombIsStopped() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...7 {
            let previous = "*a\(level - 1)"
            let items = Array(repeating: previous, count: 10).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(items)]\n"
        }
        let result = parse(text)
        #expect(result.errors.count == 1)
        #expect(
            result.errors.first?.hasSuffix(
                "the document holds more than 1000000 values (each use of an alias counts its values again);"
                    + " split the pipeline or use fewer aliases") == true)
    }

    /// A document too large without any alias was blamed on aliases, and the part cut off brought false
    /// errors about the sections it held.
    @Test func documentWithTooManyValuesGetsOneErrorAndNoFalseOnes() {
        let values = Array(repeating: "1", count: YAMLDocument.maximumNodeCount).joined(separator: ",")
        let yaml = "padding: [\(values)]\n" + minimalPipeline
        #expect(
            errors(yaml) == [
                "petrel.yaml:1: padding[999998]: the document holds more than 1000000 values (each use of an alias"
                    + " counts its values again); split the pipeline or use fewer aliases"
            ])
    }
}
