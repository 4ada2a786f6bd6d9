import PetrelCore

/// Keeps a fixed share of traces, deciding from the trace id alone so every span of a trace gets the same decision.
///
/// The decision is OpenTelemetry's consistent probability sampling (the `TraceIdRatioBased` sampler, and the
/// Collector's `probabilistic_sampler` in proportional mode): the 56 least-significant bits of the trace id are
/// the randomness value R (W3C Trace Context level 2 makes them random), the rate p sets the rejection threshold
/// T = 2^56 − round(p × 2^56), and a span is kept when R ≥ T. Every Petrel, every run, and every sampler that
/// follows that specification at the same rate makes the same decision for a trace; a lower rate keeps a subset
/// of what a higher rate keeps, so sampling stages compose. (The Collector rounds T to `sampling_precision` hex
/// digits, 4 by default, so at a rate such as 30% the two differ on about 3 traces in a million.)
///
/// ```yaml
/// transforms:
///   sample:
///     type: sample
///     inputs: [otlp_in]
///     rate: 10                  # percent
///     always_keep_errors: true
/// ```
///
/// With `always_keep_errors`, an error span is kept even when its trace is not sampled, so a trace can arrive
/// with its error spans and without the spans around them. Spans sampled out are not counted as discarded:
/// dropping them is what was asked for.
public struct SampleTransform: Transform {
    public let config: SampleTransformConfig
    /// Spans whose randomness value is at least this are kept: 0 keeps all, 2^56 keeps none.
    public let threshold: UInt64

    /// The number of randomness values, 2^56.
    public static let randomnessRange: UInt64 = 1 << 56

    public init(config: SampleTransformConfig) {
        self.config = config
        self.threshold = Self.threshold(percent: config.rate)
    }

    public static let definition = ComponentDefinition(type: "sample", kind: .transform) { reader, _ in
        guard let config = SampleTransformConfig(from: reader) else { return nil }
        return .transform(SampleTransform(config: config), accepts: .traces)
    }

    /// The rejection threshold for a rate in percent, clamped to 0–100, as OpenTelemetry computes it.
    public static func threshold(percent: Double) -> UInt64 {
        guard percent > 0 else { return randomnessRange }
        guard percent < 100 else { return 0 }
        let probability = percent / 100
        return randomnessRange - UInt64((probability * Double(randomnessRange)).rounded())
    }

    /// The randomness value of a trace: the 56 least-significant bits of its id.
    @inlinable
    public static func randomness(of traceID: TraceID) -> UInt64 {
        traceID.low & (randomnessRange - 1)
    }

    /// Whether the trace is sampled, whatever its spans' status.
    @inlinable
    public func keeps(_ traceID: TraceID) -> Bool {
        Self.randomness(of: traceID) >= threshold
    }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        switch consume batch {
        case .traces(var traces):
            let keepErrors = config.alwaysKeepErrors
            traces.retainSpans { _, span in
                keeps(span.traceID) || (keepErrors && span.status.code == .error)
            }
            return traces.resourceSpans.isEmpty ? nil : .traces(traces)
        case let other:
            return other
        }
    }
}
