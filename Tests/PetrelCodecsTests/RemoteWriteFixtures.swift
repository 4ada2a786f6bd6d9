import PetrelCodecs
import PetrelCore

/// Request builders and comparison helpers for the remote-write and protobuf tests, namespaced so they cannot
/// collide with other test files of the module.
enum RemoteWriteFixtures {
    /// A protobuf builder independent of `ProtobufWriter`, so tests check the codec against a second encoder.
    struct Proto {
        var bytes: [UInt8] = []

        static func varint(_ value: UInt64) -> [UInt8] {
            var value = value
            var result: [UInt8] = []
            while value >= 0x80 {
                result.append(UInt8(value & 0x7F) | 0x80)
                value >>= 7
            }
            result.append(UInt8(value))
            return result
        }

        static func zigZag(_ value: Int64) -> UInt64 {
            UInt64(bitPattern: (value << 1) ^ (value >> 63))
        }

        mutating func key(_ field: Int, wireType: Int) {
            bytes += Self.varint(UInt64(field) << 3 | UInt64(wireType))
        }

        mutating func varint(_ field: Int, _ value: UInt64) {
            key(field, wireType: 0)
            bytes += Self.varint(value)
        }

        mutating func int64(_ field: Int, _ value: Int64) {
            varint(field, UInt64(bitPattern: value))
        }

        mutating func fixed64(_ field: Int, _ value: UInt64) {
            key(field, wireType: 1)
            for shift in stride(from: 0, to: 64, by: 8) {
                bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            }
        }

        mutating func double(_ field: Int, _ value: Double) {
            fixed64(field, value.bitPattern)
        }

        mutating func fixed32(_ field: Int, _ value: UInt32) {
            key(field, wireType: 5)
            for shift in stride(from: 0, to: 32, by: 8) {
                bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
            }
        }

        mutating func bytes(_ field: Int, _ value: [UInt8]) {
            key(field, wireType: 2)
            bytes += Self.varint(UInt64(value.count))
            bytes += value
        }

        mutating func string(_ field: Int, _ value: String) {
            bytes(field, Array(value.utf8))
        }

        mutating func message(_ field: Int, _ build: (inout Proto) -> Void) {
            var inner = Proto()
            build(&inner)
            bytes(field, inner.bytes)
        }

        mutating func packedVarints(_ field: Int, _ values: [UInt64]) {
            bytes(field, values.flatMap(Self.varint))
        }

        mutating func packedDoubles(_ field: Int, _ values: [Double]) {
            var inner = Proto()
            for value in values {
                for shift in stride(from: 0, to: 64, by: 8) {
                    inner.bytes.append(UInt8(truncatingIfNeeded: value.bitPattern >> UInt64(shift)))
                }
            }
            bytes(field, inner.bytes)
        }

        /// One field of every wire type the reader accepts, at field numbers no schema here uses.
        mutating func unknownFields() {
            varint(100, 300)
            fixed64(101, 0x0102_0304_0506_0708)
            fixed32(102, 0xDEAD_BEEF)
            bytes(103, [1, 2, 3])
            message(104) { $0.varint(1, 7) }
        }
    }

    // MARK: Building requests

    /// A 1.0 `Label` message body.
    static func v1Label(_ name: String, _ value: String, into proto: inout Proto, field: Int = 1) {
        proto.message(field) {
            $0.string(1, name)
            $0.string(2, value)
        }
    }

    /// A 1.0 `WriteRequest` with float samples only.
    static func v1Request(_ series: [(labels: [(String, String)], samples: [(Double, Int64)])]) -> [UInt8] {
        var request = Proto()
        for item in series {
            request.message(1) { timeSeries in
                for (name, value) in item.labels {
                    v1Label(name, value, into: &timeSeries)
                }
                for (value, timestamp) in item.samples {
                    timeSeries.message(2) {
                        $0.double(1, value)
                        $0.int64(2, timestamp)
                    }
                }
            }
        }
        return request.bytes
    }

    /// A 2.0 `Request` with float samples only; symbols are deduplicated with "" first, as a sender would.
    static func v2Request(
        _ series: [(labels: [(String, String)], samples: [(Double, Int64)])],
        symbolsLast: Bool = false
    ) -> [UInt8] {
        var symbols = [""]
        func ref(_ text: String) -> UInt64 {
            if let index = symbols.firstIndex(of: text) { return UInt64(index) }
            symbols.append(text)
            return UInt64(symbols.count - 1)
        }
        var body = Proto()
        for item in series {
            let refs = item.labels.flatMap { [ref($0.0), ref($0.1)] }
            body.message(5) { timeSeries in
                timeSeries.packedVarints(1, refs)
                for (value, timestamp) in item.samples {
                    timeSeries.message(2) {
                        $0.double(1, value)
                        $0.int64(2, timestamp)
                    }
                }
            }
        }
        var symbolTable = Proto()
        for symbol in symbols {
            symbolTable.string(4, symbol)
        }
        return symbolsLast ? body.bytes + symbolTable.bytes : symbolTable.bytes + body.bytes
    }

    /// A 2.0 request from raw symbols and one series' raw parts, for malformed cases.
    static func v2Request(symbols: [String], series: (inout Proto) -> Void) -> [UInt8] {
        var request = Proto()
        for symbol in symbols {
            request.string(4, symbol)
        }
        request.message(5, series)
        return request.bytes
    }

    /// A batch exercising every part of the model: labels, float samples, integer, float and custom-bucket
    /// histograms, exemplars with and without labels, series types and metadata.
    static func richBatch() -> MetricBatch {
        var batch = MetricBatch()
        batch.appendSeries(
            labels: [
                ("__name__", "http_requests_total"), ("job", "api"), ("code", "200"), ("instance", "10.0.0.1:80"),
            ],
            samples: [
                Sample(timestamp: 1_712_345_678_000, value: 1027), Sample(timestamp: 1_712_345_693_000, value: 1031),
            ],
            type: .counter)
        batch.appendSeries(
            labels: [("__name__", "temperature"), ("job", "api"), ("room", "kitchen ☕")],
            samples: [
                Sample(timestamp: -5, value: -12.5), Sample(timestamp: 0, value: 0), Sample(timestamp: 7, value: -0.0),
                Sample(timestamp: 8, value: .infinity),
            ],
            type: .gauge)

        // An integer histogram with exemplars, one of them with no labels.
        var integer = NativeHistogram()
        integer.count = .int(42)
        integer.sum = 1234.5
        integer.schema = 3
        integer.zeroThreshold = 1e-128
        integer.zeroCount = .int(2)
        integer.negativeSpans = [BucketSpan(offset: -2, length: 2)]
        integer.negativeDeltas = [1, -1]
        integer.positiveSpans = [BucketSpan(offset: 0, length: 3), BucketSpan(offset: 5, length: 1)]
        integer.positiveDeltas = [5, 10, -7, 0]
        integer.resetHint = .no
        integer.timestamp = 1_712_345_678_123
        appendHistogramSeries(
            to: &batch, labels: [("__name__", "rpc_latency_seconds"), ("job", "api")], histograms: [integer],
            exemplars: [
                (
                    labels: [("trace_id", "4bf92f3577b34da6"), ("span_id", "00f067aa0ba902b7")], value: 0.25,
                    timestamp: 1
                ),
                (labels: [], value: 3, timestamp: 0),
            ],
            type: .histogram)

        // A float gauge histogram and a custom-bucket one on the same series.
        var float = NativeHistogram()
        float.count = .float(10.5)
        float.sum = -3
        float.schema = -4
        float.zeroCount = .float(0)
        float.positiveSpans = [BucketSpan(offset: 1, length: 2)]
        float.positiveCounts = [4.25, 6.25]
        float.negativeSpans = [BucketSpan(offset: 0, length: 1)]
        float.negativeCounts = [0.5]
        float.resetHint = .gauge
        float.timestamp = 99
        var custom = NativeHistogram()
        custom.count = .int(3)
        custom.schema = -53
        custom.positiveSpans = [BucketSpan(offset: 0, length: 3)]
        custom.positiveDeltas = [1, 0, 0]
        custom.customValues = [0.1, 0.5, 1]
        custom.resetHint = .yes
        appendHistogramSeries(
            to: &batch, labels: [("__name__", "queue_fill"), ("shard", "7")], histograms: [float, custom],
            exemplars: [], type: .gaugeHistogram)

        batch.metadata = [
            MetricMetadata(
                type: .counter, familyName: "http_requests_total", help: "Requests served.", unit: "requests"),
            MetricMetadata(type: .gauge, familyName: "temperature", help: "", unit: "celsius"),
            MetricMetadata(type: .unknown, familyName: "odd", help: "Ünïcode help"),
        ]
        return batch
    }

    static func appendHistogramSeries(
        to batch: inout MetricBatch,
        labels: [(String, String)],
        histograms: [NativeHistogram],
        exemplars: [(labels: [(String, String)], value: Double, timestamp: Int64)],
        type: MetricType
    ) {
        let index = batch.appendSeries(labels: labels.map { (name: $0.0, value: $0.1) }, samples: [], type: type)
        batch.series[index].histogramStart = UInt32(batch.histograms.count)
        batch.series[index].histogramCount = UInt32(histograms.count)
        batch.histograms += histograms
        batch.series[index].exemplarStart = UInt32(batch.exemplars.count)
        batch.series[index].exemplarCount = UInt32(exemplars.count)
        for exemplar in exemplars {
            let start = UInt32(batch.labels.count)
            for (name, value) in exemplar.labels {
                batch.labels.append(batch.makeLabel(name: name, value: value))
            }
            batch.exemplars.append(
                Exemplar(
                    labelStart: start, labelCount: UInt32(exemplar.labels.count), value: exemplar.value,
                    timestamp: exemplar.timestamp))
        }
    }

    /// A request of `seriesCount` series with `labelsPerSeries` labels and one sample each, the benchmark shape.
    static func largeBatch(seriesCount: Int, labelsPerSeries: Int) -> MetricBatch {
        var batch = MetricBatch()
        for index in 0..<seriesCount {
            var labels = [(name: "__name__", value: "node_cpu_seconds_total")]
            for label in 1..<labelsPerSeries {
                labels.append((name: "label_\(label)", value: "value_\(label)_\(index % (label * 7))"))
            }
            batch.appendSeries(
                labels: labels, samples: [Sample(timestamp: 1_712_345_678_000 + Int64(index), value: Double(index))])
        }
        return batch
    }

    // MARK: Comparing

    /// A batch's content in plain values, so batches with different arenas and layouts compare equal.
    struct SeriesSnapshot: Hashable, CustomStringConvertible {
        var labels: [String]
        var samples: [String]
        var histograms: [String]
        var exemplars: [String]
        var type: MetricType

        var description: String {
            "\(labels) \(samples) \(histograms.count) histograms \(exemplars) \(type)"
        }
    }

    static func snapshot(_ batch: MetricBatch, types: Bool = true) -> [SeriesSnapshot] {
        batch.series.indices.map { index in
            let series = batch.series[index]
            return SeriesSnapshot(
                labels: batch.labelPairs(of: index).map { "\($0.name)=\($0.value)" },
                // Bit patterns, so -0.0, infinities and NaN stale markers compare exactly.
                samples: batch.samples(of: index).map { "\($0.timestamp):\($0.value.bitPattern)" },
                // Descriptions, so a NaN (which a fuzzed request can produce) still equals itself.
                histograms: batch.histograms[series.histogramRange].map { "\($0)" },
                exemplars: batch.exemplars[series.exemplarRange].map { exemplar in
                    let labels = batch.labels[
                        Int(exemplar.labelStart)..<Int(exemplar.labelStart + exemplar.labelCount)]
                    let pairs = labels.map { "\(batch.name($0))=\(batch.value($0))" }
                    return "\(pairs) \(exemplar.value.bitPattern) \(exemplar.timestamp)"
                },
                type: types ? series.type : .unknown)
        }
    }

    // MARK: Randomness

    /// A seeded xorshift64* generator, so a failing fuzz case reproduces exactly.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64

        init(seed: UInt64) {
            state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
        }

        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
    }
}
