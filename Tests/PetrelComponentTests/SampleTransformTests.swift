import Logging
import PetrelCore
import PetrelTransforms
import Testing

/// The `sample` transform: its settings, and that it keeps whole traces at the configured rate, the same way
/// on every node.
@Suite struct SampleTransformTests {
    // MARK: Helpers

    private func build(_ node: ConfigNode) -> (sample: SampleTransform?, accepts: SignalSet?, errors: [String]) {
        let outcome = buildComponent(SampleTransform.definition, at: "transforms.sample", node)
        guard case .transform(let transform, let accepts)? = outcome.built else { return (nil, nil, outcome.errors) }
        return (transform as? SampleTransform, accepts, outcome.errors)
    }

    /// A transform built from its configuration, which must have no errors.
    private func sampler(_ entries: KeyValuePairs<String, ComponentConfigValue>) throws -> SampleTransform {
        let result = build(componentConfig(entries))
        #expect(result.errors == [])
        return try #require(result.sample)
    }

    private let telemetry = componentTestTelemetry(id: "sample", type: "sample", kind: .transform)

    private var context: TransformContext {
        TransformContext(id: "sample", telemetry: telemetry, logger: Logger(label: "test.sample"))
    }

    private func span(_ trace: TraceID, _ id: UInt64, status: SpanStatus.Code = .unset) -> Span {
        Span(
            traceID: trace, spanID: SpanID(id), name: "op \(id)", startTimeUnixNano: 1, endTimeUnixNano: 2,
            status: SpanStatus(code: status))
    }

    /// One resource and scope holding `spans`.
    private func batch(_ spans: [Span], service: String = "api") -> SpanBatch {
        SpanBatch(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [Attribute("service.name", .string(service))]),
                scopeSpans: [ScopeSpans(spans: spans)])
        ])
    }

    private func keptSpans(_ result: EventBatch?) -> [Span] {
        guard let result else { return [] }
        guard case .traces(let traces) = result else {
            Issue.record("a traces batch became \(result.signal)")
            return []
        }
        return traces.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
    }

    /// Trace ids from a seeded generator: random as W3C level 2 wants them, the same in every run.
    private func traceIDs(_ count: Int, seed: UInt64) -> [TraceID] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in TraceID(high: generator.next(), low: generator.next()) }
    }

    // MARK: Configuration

    @Test func definitionIsATracesTransform() {
        #expect(SampleTransform.definition.type == "sample")
        #expect(SampleTransform.definition.kind == .transform)
        let result = build(componentConfig(["rate": 30]))
        #expect(result.errors == [])
        #expect(result.accepts == .traces)
        #expect(result.sample?.config == SampleTransformConfig(rate: 30, alwaysKeepErrors: false))
    }

    @Test func rateAndAlwaysKeepErrors() throws {
        #expect(
            try sampler(["rate": 12.5, "always_keep_errors": true]).config
                == SampleTransformConfig(
                    rate: 12.5, alwaysKeepErrors: true))
        #expect(try sampler(["rate": "25%"]).config.rate == 25, "a trailing % is allowed")
        #expect(try sampler(["rate": 0]).config.rate == 0)
        #expect(try sampler(["rate": 100]).config.rate == 100)
    }

    @Test func rateIsRequired() {
        let result = build(componentConfig(["always_keep_errors": true]))
        #expect(result.sample == nil)
        #expect(result.errors == ["petrel.yaml: transforms.sample.rate: is required"])
    }

    static let badRates: [(ComponentConfigValue, String)] = [
        (101, "must be a percentage between 0 and 100, found 101"),
        (-1, "must be a percentage between 0 and 100, found -1"),
        ("150%", "must be a percentage between 0 and 100, found 150%"),
        (100.5, "must be a percentage between 0 and 100, found 100.5"),
        ("ten", #"expected a percentage between 0 and 100, found "ten""#),
        ("nan", #"expected a percentage between 0 and 100, found "nan""#),
        ("1/10", #"expected a percentage between 0 and 100, found "1/10""#),
        ([30], "expected a single value, found a list"),
    ]

    @Test(arguments: badRates)
    func badRateNamesTheKey(rate: ComponentConfigValue, message: String) {
        let result = build(componentConfig(["rate": rate]))
        #expect(result.sample == nil)
        #expect(result.errors == ["petrel.yaml: transforms.sample.rate: \(message)"])
    }

    @Test func unknownKeysAreRejected() {
        let result = build(componentConfig(["rate": 10, "always_keep_error": true, "seed": 1]))
        #expect(
            result.errors == [
                #"petrel.yaml: transforms.sample.always_keep_error: unknown key; did you mean "always_keep_errors"?"#,
                "petrel.yaml: transforms.sample.seed: unknown key",
            ])
    }

    @Test func alwaysKeepErrorsNeedsABoolean() {
        let result = build(componentConfig(["rate": 10, "always_keep_errors": "sometimes"]))
        #expect(
            result.errors == [
                #"petrel.yaml: transforms.sample.always_keep_errors: expected true or false, found "sometimes""#
            ])
    }

    // MARK: The threshold

    @Test func thresholdIsOpenTelemetrys() {
        // T = 2^56 − round(p × 2^56): OpenTelemetry's th:c is 25%, th:8 is 50%, th:0 is 100%.
        #expect(SampleTransform.threshold(percent: 25) == 0xC0_0000_0000_0000)
        #expect(SampleTransform.threshold(percent: 50) == 0x80_0000_0000_0000)
        #expect(SampleTransform.threshold(percent: 10) == 0xE6_6666_6666_6666)
        #expect(SampleTransform.threshold(percent: 100) == 0)
        #expect(SampleTransform.threshold(percent: 0) == 1 << 56)
        #expect(SampleTransform.threshold(percent: 250) == 0, "clamped")
        #expect(SampleTransform.threshold(percent: -5) == 1 << 56, "clamped")
    }

    @Test func keepsTracesAtOrAboveTheThreshold() {
        let half = SampleTransform(config: SampleTransformConfig(rate: 50))
        #expect(half.keeps(TraceID(high: 0, low: 0x0080_0000_0000_0000)))
        #expect(!half.keeps(TraceID(high: 0, low: 0x007F_FFFF_FFFF_FFFF)))
        #expect(half.keeps(TraceID(high: 0, low: 0x00FF_FFFF_FFFF_FFFF)))
        #expect(!half.keeps(TraceID(high: .max, low: 0xFF00_0000_0000_0000)), "the top byte is not randomness")
    }

    // MARK: Sampling

    @Test func zeroPercentKeepsNothing() throws {
        var transform = try sampler(["rate": 0])
        let spans = traceIDs(1000, seed: 1).enumerated().map { span($1, UInt64($0)) }
        #expect(transform.process(.traces(batch(spans)), context) == nil)
    }

    @Test func hundredPercentKeepsEverything() throws {
        var transform = try sampler(["rate": 100])
        let spans = traceIDs(1000, seed: 2).enumerated().map { span($1, UInt64($0)) }
        // Even ids whose randomness is all ones, the largest value.
        let all = spans + [span(TraceID(high: .max, low: .max), 5000)]
        guard case .traces(let kept)? = transform.process(.traces(batch(all)), context) else {
            Issue.record("nothing kept")
            return
        }
        #expect(kept == batch(all))
    }

    @Test(arguments: [1.0, 10, 30, 50, 75, 99])
    func keptShareIsTheRate(rate: Double) throws {
        var transform = try sampler(["rate": .scalar(String(rate))])
        let ids = traceIDs(20_000, seed: 30)
        let spans = ids.enumerated().map { span($1, UInt64($0)) }
        let kept = keptSpans(transform.process(.traces(batch(spans)), context)).count
        let share = Double(kept) / Double(ids.count) * 100
        #expect(abs(share - rate) < 2, "kept \(share)% at \(rate)%")
    }

    @Test func thirtyPercentOfTenThousandTraces() throws {
        var transform = try sampler(["rate": 30])
        var kept = 0
        // In batches of 100 spans, as a source would send them.
        let ids = traceIDs(10_000, seed: 42)
        for start in stride(from: 0, to: ids.count, by: 100) {
            let spans = ids[start..<start + 100].enumerated().map { span($1, UInt64(start + $0)) }
            kept += keptSpans(transform.process(.traces(batch(spans)), context)).count
        }
        #expect((2800...3200).contains(kept), "kept \(kept) of 10000")
    }

    @Test func wholeTracesOnly() throws {
        // 300 traces of 6 spans each, spread over 3 batches, 2 services and 2 scopes, sampled by
        // separately built transforms as if on different nodes.
        let ids = traceIDs(300, seed: 7)
        var keptPerTrace: [TraceID: Int] = [:]
        for part in 0..<3 {
            var transform = try sampler(["rate": 40])
            var resources: [ResourceSpans] = []
            for service in ["api", "db"] {
                let scopes = ["http", "sql"].enumerated().map { scopeIndex, scope in
                    ScopeSpans(
                        scope: InstrumentationScope(name: scope),
                        spans: ids.enumerated().compactMap { traceIndex, trace in
                            // Each (batch, service, scope) triple holds one or two spans of every other trace.
                            guard (traceIndex + part + scopeIndex) % 2 == 0 else { return nil }
                            return span(trace, UInt64(traceIndex * 100 + part * 10 + scopeIndex))
                        })
                }
                resources.append(
                    ResourceSpans(
                        resource: Resource(attributes: [Attribute("service.name", .string(service))]),
                        scopeSpans: scopes))
            }
            for span in keptSpans(transform.process(.traces(SpanBatch(resourceSpans: resources)), context)) {
                keptPerTrace[span.traceID, default: 0] += 1
            }
        }
        // Every trace had 6 spans in all: 3 batches × 2 services × one scope of the two.
        #expect(keptPerTrace.values.allSatisfy { $0 == 6 }, "a trace was kept in part")
        #expect((90...150).contains(keptPerTrace.count), "kept \(keptPerTrace.count) of 300 traces at 40%")
    }

    @Test func sameRateSameDecisionsOnEveryNode() throws {
        let first = try sampler(["rate": 37.5])
        let second = SampleTransform(config: SampleTransformConfig(rate: 37.5))
        let decisions = traceIDs(10_000, seed: 11).map { ($0, first.keeps($0), second.keeps($0)) }
        #expect(decisions.allSatisfy { $0.1 == $0.2 })
        // And the decision is the documented one, not something the transform keeps to itself.
        #expect(decisions.allSatisfy { $0.1 == (SampleTransform.randomness(of: $0.0) >= first.threshold) })
    }

    @Test func lowerRatesKeepASubsetOfHigherRates() {
        let low = SampleTransform(config: SampleTransformConfig(rate: 10))
        let high = SampleTransform(config: SampleTransformConfig(rate: 30))
        let ids = traceIDs(10_000, seed: 12)
        #expect(ids.filter(low.keeps).allSatisfy(high.keeps))
    }

    @Test func decisionUsesOnlyTheLow56Bits() {
        let transform = SampleTransform(config: SampleTransformConfig(rate: 50))
        var generator = SplitMix64(seed: 13)
        for trace in traceIDs(5000, seed: 14) {
            let topByte = UInt64(UInt8.random(in: 0...255, using: &generator)) << 56
            let other = TraceID(high: generator.next(), low: (trace.low & 0x00FF_FFFF_FFFF_FFFF) | topByte)
            #expect(transform.keeps(trace) == transform.keeps(other))
        }
    }

    @Test func alwaysKeepErrorsKeepsErrorSpansOfDroppedTraces() throws {
        var transform = try sampler(["rate": 0, "always_keep_errors": true])
        let trace = TraceID(high: 1, low: 2)
        let input = SpanBatch(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [Attribute("service.name", .string("api"))]),
                scopeSpans: [
                    ScopeSpans(spans: [span(trace, 1), span(trace, 2, status: .error), span(trace, 3, status: .ok)]),
                    ScopeSpans(spans: [span(trace, 4)]),
                ]),
            ResourceSpans(scopeSpans: [ScopeSpans(spans: [span(trace, 5)])]),
        ])
        guard case .traces(let kept)? = transform.process(.traces(input), context) else {
            Issue.record("the error span was dropped")
            return
        }
        #expect(kept.resourceSpans.count == 1, "groups left empty are pruned")
        #expect(kept.resourceSpans.first?.scopeSpans.count == 1)
        #expect(kept.resourceSpans.first?.scopeSpans.first?.spans == [span(trace, 2, status: .error)])
        #expect(kept.resourceSpans.first?.resource == input.resourceSpans[0].resource)

        var without = try sampler(["rate": 0])
        #expect(without.process(.traces(input), context) == nil, "without the setting, errors are sampled too")
    }

    @Test func emptyBatchesGiveNothing() throws {
        var transform = try sampler(["rate": 100])
        #expect(transform.process(.traces(SpanBatch()), context) == nil)
        let hollow = SpanBatch(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans()])])
        #expect(transform.process(.traces(hollow), context) == nil)
    }

    @Test func sampledOutSpansAreNotCountedAsDiscarded() throws {
        var transform = try sampler(["rate": 10])
        let spans = traceIDs(1000, seed: 15).enumerated().map { span($1, UInt64($0)) }
        _ = transform.process(.traces(batch(spans)), context)
        #expect(!telemetry.registry.render().contains("petrel_component_discarded_events_total"))
    }
}
