import Synchronization

/// A distribution of observed values in fixed buckets, safe to observe from any thread without a lock.
///
/// Each observation bumps one bucket, the sum and nothing else (atomics, relaxed); `/metrics` renders the buckets
/// cumulatively, as Prometheus' `_bucket{le=…}`, `_sum` and `_count`. The sum is kept in nanounits (nanoseconds for
/// durations in seconds), so adding to it needs no compare-and-swap loop.
public final class Histogram: @unchecked Sendable {
    // @unchecked: `counts` is written only through its atomics after `init`, and freed only in `deinit`.
    /// The buckets' inclusive upper bounds, ascending; a last bucket, `+Inf`, takes everything above.
    public let upperBounds: [Double]
    /// One non-cumulative count per bound, then the `+Inf` bucket.
    private let counts: UnsafeMutablePointer<Atomic<UInt64>>
    private let nanoSum = Atomic<UInt64>(0)

    /// Latency buckets in seconds, from a millisecond to ten seconds: Prometheus' defaults with 1 ms and 2.5 ms
    /// below them, since a pipeline's requests are often faster than 5 ms.
    public static let defaultDurationBounds: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    /// A histogram over `upperBounds`, which must be finite and ascending.
    public init(upperBounds: [Double] = Histogram.defaultDurationBounds) {
        precondition(
            zip(upperBounds, upperBounds.dropFirst()).allSatisfy { $0 < $1 } && upperBounds.allSatisfy(\.isFinite),
            "histogram bounds must be finite and ascending")
        self.upperBounds = upperBounds
        counts = .allocate(capacity: upperBounds.count + 1)
        for index in 0...upperBounds.count {
            (counts + index).initialize(to: Atomic(0))
        }
    }

    deinit {
        counts.deinitialize(count: upperBounds.count + 1)
        counts.deallocate()
    }

    /// Records one value (seconds, for a duration); negative values and NaN count as 0.
    public func observe(_ value: Double) {
        let value = value > 0 ? value : 0
        // The first bound at or above the value; bounds are few, and a linear scan stays in one cache line or two.
        var bucket = 0
        while bucket < upperBounds.count && value > upperBounds[bucket] { bucket += 1 }
        counts[bucket].wrappingAdd(1, ordering: .relaxed)
        let nanounits = value * 1e9
        nanoSum.wrappingAdd(nanounits < 1.8e19 ? UInt64(nanounits) : UInt64.max / 2, ordering: .relaxed)
    }

    /// Records a duration, in seconds.
    public func observe(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        observe(Double(seconds) + Double(attoseconds) * 1e-18)
    }

    /// Records the time since `start`, in seconds: `defer { histogram.observe(since: start) }`.
    public func observe(since start: ContinuousClock.Instant) {
        observe(ContinuousClock.now - start)
    }

    /// Cumulative counts, one per bound and then `+Inf` (which is the count of every observation).
    public var cumulativeCounts: [UInt64] {
        var total: UInt64 = 0
        return (0...upperBounds.count).map { index in
            total &+= counts[index].load(ordering: .relaxed)
            return total
        }
    }

    /// Observations so far.
    public var count: UInt64 { cumulativeCounts.last ?? 0 }

    /// The sum of the observed values.
    public var sum: Double { Double(nanoSum.load(ordering: .relaxed)) / 1e9 }
}
