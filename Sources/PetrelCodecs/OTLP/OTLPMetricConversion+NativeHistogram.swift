import OTLPProtos
import PetrelCore

extension OTLPMetricConversion {
    /// An exponential histogram point as a Prometheus native histogram, or nil when its scale is below the
    /// smallest schema (-4).
    ///
    /// Scales above 8 are brought down to schema 8 by merging 2^(scale-8) neighbouring buckets. OTLP bucket `i`
    /// covers (base^i, base^(i+1)] while Prometheus bucket `i` covers (base^(i-1), base^i], so indexes shift by one.
    static func nativeHistogram(_ point: Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint)
        -> NativeHistogram?
    {
        guard point.scale >= -4 else { return nil }
        let scaleDown = max(0, point.scale - 8)
        var histogram = NativeHistogram()
        histogram.schema = min(point.scale, 8)
        histogram.zeroThreshold = point.zeroThreshold != 0 ? point.zeroThreshold : defaultZeroThreshold
        histogram.zeroCount = .int(point.zeroCount)
        (histogram.positiveSpans, histogram.positiveDeltas) = spansAndDeltas(
            point.positive.bucketCounts, offset: point.positive.offset, scaleDown: scaleDown)
        (histogram.negativeSpans, histogram.negativeDeltas) = spansAndDeltas(
            point.negative.bucketCounts, offset: point.negative.offset, scaleDown: scaleDown)
        // Counter resets are Prometheus's to detect: a wrong "no" would corrupt its chunks, "unknown" never does.
        histogram.resetHint = .unknown
        histogram.timestamp = Int64(point.timeUnixNano / 1_000_000)
        let noRecordedValue =
            point.flags & UInt32(Opentelemetry_Proto_Metrics_V1_DataPointFlags.noRecordedValueMask.rawValue) != 0
        if noRecordedValue {
            // Prometheus reads a histogram whose sum is the stale NaN as a staleness marker; the count carries the
            // same bits, as Prometheus's own OTLP translator writes it.
            histogram.sum = staleNaN
            histogram.count = .int(staleNaN.bitPattern)
        } else {
            histogram.sum = point.hasSum ? point.sum : 0
            histogram.count = .int(point.count)
        }
        return histogram
    }

    /// Dense OTLP buckets as Prometheus spans and deltas: empty buckets are left out, except that gaps of up to
    /// two buckets are filled with zeros rather than opening a new span (as Prometheus's client library does,
    /// since a span costs more than two zero deltas).
    static func spansAndDeltas(_ counts: [UInt64], offset: Int32, scaleDown: Int32) -> ([BucketSpan], [Int64]) {
        var spans: [BucketSpan] = []
        var deltas: [Int64] = []
        var previousCount: Int64 = 0
        var lastIndex: Int32 = 0
        var mergedIndex: Int32 = 0
        var mergedCount: UInt64 = 0
        var haveMerged = false

        func emit(_ index: Int32, _ count: UInt64) {
            guard count > 0 else { return }
            if spans.isEmpty {
                spans.append(BucketSpan(offset: index, length: 0))
            } else {
                let gap = index - lastIndex - 1
                if gap > 2 {
                    spans.append(BucketSpan(offset: gap, length: 0))
                } else {
                    for _ in 0..<gap {
                        spans[spans.count - 1].length += 1
                        deltas.append(-previousCount)
                        previousCount = 0
                    }
                }
            }
            let value = Int64(clamping: count)
            spans[spans.count - 1].length += 1
            deltas.append(value &- previousCount)
            previousCount = value
            lastIndex = index
        }

        for (position, count) in counts.enumerated() {
            let index = (offset &+ Int32(truncatingIfNeeded: position)) >> scaleDown &+ 1
            if haveMerged && index == mergedIndex {
                mergedCount &+= count
            } else {
                if haveMerged { emit(mergedIndex, mergedCount) }
                mergedIndex = index
                mergedCount = count
                haveMerged = true
            }
        }
        if haveMerged { emit(mergedIndex, mergedCount) }
        return (spans, deltas)
    }
}
