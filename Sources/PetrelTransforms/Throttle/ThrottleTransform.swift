import PetrelCore

/// Lets at most `threshold` log records through per `window` for each key, as Vector's `throttle`: a token bucket
/// per value of `key_field` (a template), full at the start, refilled at `threshold / window`. What is over the
/// limit is dropped and counted per key. At most `max_keys` keys are tracked; records of further keys share one
/// bucket. Metrics and spans pass through.
public struct ThrottleTransform: Transform {
    public let threshold: Int
    public let window: Duration
    public let keyField: LogTemplate?
    public let maxKeys: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private var buckets: [String: Bucket] = [:]

    /// The key of records beyond `max_keys`, and of records whose key renders nothing.
    public static let overflowKey = "_other"

    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    public init(
        threshold: Int, window: Duration, keyField: LogTemplate?, maxKeys: Int,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.threshold = threshold
        self.window = window
        self.keyField = keyField
        self.maxKeys = maxKeys
        self.now = now
    }

    public static let definition = ComponentDefinition(type: "throttle", kind: .transform) { reader, _ in
        guard reader.contains("threshold") else {
            reader.error("threshold", "is required: the events let through per window")
            return nil
        }
        let threshold = reader.int("threshold", default: 1, range: 1...Int(Int32.max))
        let window = reader.duration("window_secs", default: .seconds(1))
        if window <= .zero { reader.error("window_secs", "must be positive") }
        let keyField = reader.contains("key_field") ? reader.logTemplate("key_field") : nil
        let maxKeys = reader.int("max_keys", default: 10_000, range: 1...1_000_000)
        guard window > .zero, !reader.contains("key_field") || keyField != nil else { return nil }
        return .transform(
            ThrottleTransform(threshold: threshold, window: window, keyField: keyField, maxKeys: maxKeys),
            accepts: .all)
    }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        guard case .logs(var logs) = batch else { return batch }
        let instant = now()
        var dropped: [String: Int] = [:]
        logs.records.removeAll { record in
            var key = keyField.map { $0.render(record) ?? Self.overflowKey } ?? ""
            if buckets[key] == nil && buckets.count >= maxKeys { key = Self.overflowKey }
            guard !take(key, at: instant) else { return false }
            dropped[key, default: 0] += 1
            return true
        }
        for (key, count) in dropped {
            context.telemetry.discarded(count, reason: "throttled")
            context.telemetry.registry.counter(
                "petrel_throttle_discarded_events_total", help: "Events over the throttle's limit, by key.",
                labels: [("component_id", context.id), ("component_type", "throttle"), ("key", key)]
            ).increment(by: count)
        }
        return logs.records.isEmpty ? nil : .logs(logs)
    }

    /// Takes a token from the key's bucket if it has one.
    private mutating func take(_ key: String, at instant: ContinuousClock.Instant) -> Bool {
        let capacity = Double(threshold)
        var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: instant)
        let elapsed = instant - bucket.updated
        let perSecond = capacity / (Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket.tokens = min(capacity, bucket.tokens + max(0, seconds) * perSecond)
        bucket.updated = instant
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[key] = bucket
        return allowed
    }
}
