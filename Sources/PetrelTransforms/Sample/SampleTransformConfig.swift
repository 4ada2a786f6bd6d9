import PetrelCore

/// Settings of the `sample` transform.
public struct SampleTransformConfig: Sendable, Equatable {
    /// The share of traces to keep, in percent (0–100).
    public var rate: Double
    /// Keep spans whose status is error even when their trace is not sampled.
    public var alwaysKeepErrors: Bool

    public init(rate: Double, alwaysKeepErrors: Bool = false) {
        self.rate = rate
        self.alwaysKeepErrors = alwaysKeepErrors
    }

    /// Reads the settings, reporting problems to `reader`; `nil` when `rate` is missing or invalid.
    public init?(from reader: ConfigReader) {
        alwaysKeepErrors = reader.bool("always_keep_errors", default: false)
        guard let text = reader.requiredString("rate") else { return nil }
        // A percentage, unlike Vector's 1-in-N `rate`; `30%` is accepted so the unit can be written down.
        let number = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let rate = Double(number), rate.isFinite else {
            reader.error("rate", "expected a percentage between 0 and 100, found \(text.quotedForMessage)")
            return nil
        }
        guard (0...100).contains(rate) else {
            reader.error("rate", "must be a percentage between 0 and 100, found \(text)")
            return nil
        }
        self.rate = rate
    }
}
