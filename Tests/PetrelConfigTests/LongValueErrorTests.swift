import PetrelCore
import Testing

@testable import PetrelConfig

/// An error about a huge value quotes a short prefix of it, not the value (a 50 MB value was printed whole).
@Suite struct LongValueErrorTests {
    @Test func aHugeValueIsQuotedByItsPrefixAndLength() {
        let value = String(repeating: "x", count: 1_000_000)
        let yaml = minimalPipeline + "\nmemory_limit: \(value)\n"
        #expect(
            errors(yaml) == [
                "petrel.yaml:8: memory_limit: expected a size such as 4096, 512KiB, 32MiB or 10GiB, found \""
                    + String(repeating: "x", count: 60) + "…\" (1000000 bytes)"
            ])
    }

    @Test func aShortValueIsQuotedWhole() {
        #expect(errors(minimalPipeline + "\nmemory_limit: lots\n").first?.hasSuffix(#"found "lots""#) == true)
    }

    /// Whatever a component writes into its message, the message stays readable at both ends.
    @Test func aLongMessageIsCutInTheMiddle() throws {
        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let message = "bad value \"" + String(repeating: "y", count: 50_000) + "\": use a shorter one"
        diagnostics.error("sources.in.key", line: 3, message)
        let recorded = try #require(diagnostics.errors.first?.message)
        #expect(recorded.count < 1_100)
        #expect(recorded.hasPrefix("bad value \"yyy"))
        #expect(recorded.hasSuffix("\": use a shorter one"))
        #expect(recorded.contains("(49231 characters left out)"))
    }
}
