import Logging
import Testing

@testable import PetrelCore
@testable import PetrelTransforms

/// `filter`'s `matches` and `relabel`'s `regex` are one regex type: a pattern keeps the same values in both, and a
/// pattern RE2 refuses is a configuration error in both.
@Suite struct RE2RegexSharedTests {
    static let values = [
        "GET", "get", "GET /api", "/api/orders", "/api/", "/apix", "x/api/orders", "line\nbreak", "500", "5000",
        "é", "e", "", "a.b", "aXb", "\u{0660}",
    ]

    static let patterns = [
        "GET", "GET|POST", "/api/.*", "/api/.+", ".*api.*", "(/api)/(.*)", "5..", "[45]\\d\\d", "\\d+", "line.break",
        "(?i)get", "\\w", "é|e", "a\\.b", "^/api/.*$", "\\pL", "[[:alpha:]]+", "(?U)a.*b",
    ]

    /// The values a filter on `pattern` keeps.
    private func filterKeeps(_ pattern: String) throws -> [String] {
        let built = buildComponent(
            FilterTransform.definition, at: "transforms.keep",
            componentConfig(["condition": ["key": "v", "matches": .scalar(pattern)]]))
        #expect(built.errors == [])
        guard case .transform(let transform, _)? = built.built else { throw BuildFailed() }
        var filter = try #require(transform as? FilterTransform)
        var batch = MetricBatch()
        for value in Self.values {
            batch.appendSeries(labels: [("__name__", "m"), ("v", value)], samples: [])
        }
        let context = TransformContext(
            id: "keep", telemetry: componentTestTelemetry(id: "keep", type: "filter", kind: .transform),
            logger: Logger(label: "test.filter"))
        guard case .metrics(let kept)? = filter.process(.metrics(batch), context) else { return [] }
        return kept.series.indices.compactMap { kept.labelValue(series: $0, name: "v") }
    }

    /// The values a relabel `keep` rule on `pattern` keeps.
    private func relabelKeeps(_ pattern: String) throws -> [String] {
        var rules = try Relabel.rules([["action": "keep", "source_labels": ["v"], "regex": .scalar(pattern)]])
        return Self.values.filter { rules.apply(to: [("__name__", "m"), ("v", $0)]) != nil }
    }

    struct BuildFailed: Error {}

    @Test(arguments: patterns)
    func filterAndRelabelKeepTheSameValues(pattern: String) throws {
        let kept = try filterKeeps(pattern)
        #expect(kept == (try relabelKeeps(pattern)), "\(pattern)")
        #expect(kept == Self.values.filter { (try? RE2Regex(pattern))?.matches($0) == true })
    }

    @Test func filterMatchesTheWholeValueAndDotTakesANewline() throws {
        #expect(try filterKeeps("/api") == [])
        #expect(try filterKeeps("line.break") == ["line\nbreak"])
        #expect(try filterKeeps("\\d+") == ["500", "5000"], "\\d is ASCII digits only, as in RE2")
    }

    @Test(arguments: ["(?=a)b", "(a)\\1", "a++", "(?<!x)y", "\\Z"])
    func nonRE2PatternIsAnErrorInBoth(pattern: String) throws {
        let filter = buildComponent(
            FilterTransform.definition, at: "transforms.keep",
            componentConfig(["condition": ["key": "v", "matches": .scalar(pattern)]]))
        #expect(filter.built == nil)
        #expect(filter.errors.count == 1)
        #expect(
            filter.errors.first?.hasPrefix(
                "petrel.yaml: transforms.keep.condition.matches: invalid regular expression \"\(pattern)\": ")
                == true,
            "\(filter.errors)")
        let relabel = Relabel.errors([["action": "keep", "source_labels": ["v"], "regex": .scalar(pattern)]])
        #expect(relabel.count == 1)
        #expect(relabel.first?.contains("regex: invalid regular expression \"\(pattern)\": ") == true, "\(relabel)")
        // The same reason in both.
        let reason = { (error: String?) in error?.components(separatedBy: "\": ").last }
        #expect(reason(filter.errors.first) == reason(relabel.first))
    }
}
