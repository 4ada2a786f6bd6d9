import PetrelComponents
import PetrelConfig
import PetrelCore
import Testing

@testable import PetrelTransforms

#if canImport(Glibc)
import Glibc
#endif

/// `remap` refuses programs VRL refuses, with VRL's error code, the place, and a hint.
@Suite struct RemapCompileErrorTests {
    struct Refusal: Sendable, CustomStringConvertible {
        var program: String
        var code: String
        var message: String
        var line: Int
        var column: Int
        /// A part of the hint a user needs to fix it.
        var hint: String

        var description: String { program }
    }

    static let refusals: [Refusal] = [
        Refusal(
            program: #".x = parse_json("{}")"#, code: "E103", message: "unhandled fallible assignment", line: 1,
            column: 6,
            hint: "parse_json can fail: handle its error with parse_json!(...)"),
        Refusal(
            program: "\n.a = 1\n.b = parse_json(.c)", code: "E103", message: "unhandled fallible assignment", line: 3,
            column: 6,
            hint: "parse_json can fail"),
        Refusal(
            program: #"parse_json("{}")"#, code: "E100", message: "unhandled error", line: 1, column: 1,
            hint: "parse_json can fail"),
        Refusal(
            program: ".x = upcase(.message)", code: "E110", message: "invalid argument type", line: 1, column: 13,
            hint: "this expression resolves to any but the parameter \"value\" of upcase expects string"),
        Refusal(
            program: "upcase(1)", code: "E110", message: "invalid argument type", line: 1, column: 8,
            hint: "this expression resolves to integer but the parameter \"value\" of upcase expects string"),
        Refusal(
            program: "if .a { .b = 1 }", code: "E102", message: "non-boolean predicate", line: 1, column: 4,
            hint: "this predicate resolves to any, not a boolean"),
        Refusal(
            program: "parse_jsn!(.a)", code: "E105", message: "call to undefined function", line: 1, column: 1,
            hint: "did you mean \"parse_json\"?"),
        Refusal(
            program: "x = y", code: "E701", message: "call to undefined variable", line: 1, column: 5,
            hint: "assign the variable before using it"),
        Refusal(
            program: #"upcase!("a")"#, code: "E620", message: "can't abort infallible function", line: 1, column: 1,
            hint: "remove the !"),
        Refusal(
            program: #""a" ?? "b""#, code: "E651", message: "unnecessary error coalescing operation", line: 1,
            column: 1,
            hint: "this expression cannot fail"),
        Refusal(
            program: #".x, .err = upcase("a")"#, code: "E104", message: "unnecessary error assignment", line: 1,
            column: 1,
            hint: "this expression cannot fail"),
        Refusal(
            program: #"truncate("a")"#, code: "E107", message: "required argument missing", line: 1, column: 1,
            hint: "truncate needs the argument \"limit\""),
        Refusal(
            program: #"upcase("a", nope: 1)"#, code: "E108", message: "unknown function argument keyword", line: 1,
            column: 13,
            hint: "upcase takes value"),
        Refusal(
            program: #"upcase("a", "b")"#, code: "E106", message: "function argument arity mismatch", line: 1,
            column: 13,
            hint: "upcase takes at most 1 argument(s)"),
        Refusal(
            program: "!.a", code: "E100", message: "unhandled error", line: 1, column: 2,
            hint: "this expression resolves to any, but ! needs a boolean"),
        Refusal(
            program: ".x = .a + 1", code: "E103", message: "unhandled fallible assignment", line: 1, column: 6,
            hint: "+ may fail"),
        Refusal(
            program: #".x = "unterminated"#, code: "E203", message: "syntax error", line: 1, column: 6,
            hint: "unterminated string"),
        Refusal(
            program: ".x = ", code: "E203", message: "syntax error", line: 1, column: 6,
            hint: "unexpected end of program, expected an expression"),
        Refusal(
            program: "r'(unclosed'", code: "E203", message: "syntax error", line: 1, column: 1,
            hint: "invalid regular expression"),
        Refusal(
            program: #"format_timestamp!(now(), format: "%Q")"#, code: "E110", message: "invalid argument", line: 1,
            column: 34,
            hint: "invalid time format \"%Q\": unknown specifier %Q"),
        Refusal(
            program: #"sha2("a", variant: "SHA-1")"#, code: "E110", message: "invalid argument", line: 1, column: 20,
            hint: "variant must be a literal, one of SHA-224"),
    ]

    @Test(arguments: refusals) func refusedWithCodePlaceAndHint(_ refusal: Refusal) throws {
        let diagnostics: [RemapDiagnostic]
        switch RemapProgram.compile(refusal.program) {
        case .success:
            Issue.record("compiled: \(refusal.program)")
            return
        case .failure(let found): diagnostics = found.diagnostics
        }
        #expect(diagnostics.count == 1, "\(diagnostics)")
        let first = try #require(diagnostics.first)
        #expect(first.code == refusal.code)
        #expect(first.message == refusal.message)
        let position = first.position(in: refusal.program)
        #expect(position.line == refusal.line && position.column == refusal.column, "\(position)")
        #expect(first.hint.contains(refusal.hint), "\(first.hint)")
    }

    @Test func everyErrorIsReportedAtOnce() {
        let program = """
            .a = parse_json(.m)
            .b = nope(1)
            .c = )
            .d = 1
            .e = [1,
            """
        guard case .failure(let failure) = RemapProgram.compile(program) else {
            Issue.record("compiled")
            return
        }
        // Syntax errors stop before checking; each is found, the parser skipping to the next line after one.
        #expect(failure.diagnostics.map(\.code) == ["E203", "E203"])
        #expect(failure.diagnostics.map { $0.position(in: program).line } == [3, 5])
        let checked = """
            .a = parse_json(.m)
            .b = nope(1)
            if .d { 1 }
            """
        guard case .failure(let allFailure) = RemapProgram.compile(checked) else {
            Issue.record("compiled")
            return
        }
        let all = allFailure.diagnostics
        #expect(all.map(\.code) == ["E103", "E105", "E102"])
        #expect(all.map { $0.position(in: checked).line } == [1, 2, 3])
    }

    @Test func renderedWithTheLineAndACaret() {
        let program = ".a = 1\n.b = parse_json(.c)"
        guard case .failure(let failure) = RemapProgram.compile(program) else {
            Issue.record("compiled")
            return
        }
        #expect(
            failure.diagnostics[0].rendered(in: program) == """
                error[E103]: unhandled fallible assignment
                  |
                2 | .b = parse_json(.c)
                  |      ^^^^^^^^^^^^^^ parse_json can fail: handle its error with parse_json!(...), with ?? default, or with value, err = parse_json(...)
                """)
    }

    /// What `petrel validate` prints: the configuration loader reports each program error at file:line:column.
    @Test func configurationErrorsPointIntoTheProgram() throws {
        let yaml = """
            sources:
              in: {type: demo}
            transforms:
              shape:
                type: remap
                inputs: [in]
                source: |
                  .a = 1
                  .b = parse_json(.message)
                  .c = upcase(1)
            sinks:
              out: {type: blackhole, inputs: [shape]}
            """
        do {
            _ = try ConfigLoader(registry: BuiltinComponents.registry, environment: [:]).parse(
                yaml, file: "petrel.yaml")
            Issue.record("the configuration was accepted")
        } catch {
            let lines = error.errors.map(\.description)
            #expect(lines.count == 2)
            #expect(
                lines.first?.hasPrefix(
                    "petrel.yaml:9:6: transforms.shape.source: error[E103]: unhandled fallible assignment") == true)
            #expect(
                lines.last?.hasPrefix("petrel.yaml:10:13: transforms.shape.source: error[E110]: invalid argument type")
                    == true)
            #expect(lines.last?.contains("10 | .c = upcase(1)") == true)
        }
    }

    @Test func configurationNeedsSourceOrFile() throws {
        let outcome = buildComponent(
            RemapTransform.definition, at: "transforms.shape", componentConfig(["drop_on_error": true]))
        #expect(outcome.built == nil)
        #expect(outcome.errors.contains { $0.contains("needs exactly one of source (the program) or file") })
    }

    @Test func programFromAFileIsLocatedInThatFile() throws {
        let path = "/tmp/petrel-remap-test-\(UInt64.random(in: 0...UInt64.max)).vrl"
        let text = "# shape\n.x = to_int(.y)\n"
        #expect(writeTestFile(path, text))
        defer { removeTestFile(path) }
        let outcome = buildComponent(
            RemapTransform.definition, at: "transforms.shape", componentConfig(["file": .scalar(path)]))
        #expect(outcome.built == nil)
        #expect(
            outcome.diagnostics.errors.first?.description.hasPrefix("\(path):2:6: transforms.shape.file: error[E103]")
                == true)
    }
}

private func writeTestFile(_ path: String, _ text: String) -> Bool {
    guard let file = fopen(path, "w") else { return false }
    defer { fclose(file) }
    return fputs(text, file) >= 0
}

private func removeTestFile(_ path: String) {
    unlink(path)
}
