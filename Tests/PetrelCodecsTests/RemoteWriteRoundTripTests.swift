import PetrelCodecs
import PetrelCore
import Testing

@Suite struct RemoteWriteRoundTripTests {
    private let decoder = RemoteWriteDecoder()

    @Test func v1RoundTrip() throws {
        let batch = RemoteWriteFixtures.richBatch()
        var encoder = RemoteWriteEncoder()
        let decoded = try decoder.decodeV1(encoder.encodeV1(batch, includeMetadata: true))
        // 1.0 has no per-series type: types travel in the metadata only.
        #expect(RemoteWriteFixtures.snapshot(decoded) == RemoteWriteFixtures.snapshot(batch, types: false))
        #expect(decoded.metadata == batch.metadata)
    }

    @Test func v1MetadataOnlyWhenAsked() throws {
        let batch = RemoteWriteFixtures.richBatch()
        var encoder = RemoteWriteEncoder()
        #expect(try decoder.decodeV1(encoder.encodeV1(batch)).metadata.isEmpty)
        #expect(try decoder.decodeV1(encoder.encodeV1(batch, includeMetadata: true)).metadata.count == 3)
    }

    @Test func v2RoundTrip() throws {
        let batch = RemoteWriteFixtures.richBatch()
        var encoder = RemoteWriteEncoder()
        let decoded = try decoder.decodeV2(encoder.encodeV2(batch))
        #expect(RemoteWriteFixtures.snapshot(decoded) == RemoteWriteFixtures.snapshot(batch))
    }

    @Test func v2RequestsDecodeLikeTheirV1Twins() throws {
        let batch = RemoteWriteFixtures.richBatch()
        var encoder = RemoteWriteEncoder()
        let v1 = try decoder.decodeV1(encoder.encodeV1(batch))
        let v2 = try decoder.decodeV2(encoder.encodeV2(batch))
        #expect(RemoteWriteFixtures.snapshot(v1) == RemoteWriteFixtures.snapshot(v2, types: false))

        // And twins written by hand, independently of the encoder.
        let series: [(labels: [(String, String)], samples: [(Double, Int64)])] = [
            (labels: [("__name__", "up"), ("job", "node"), ("instance", "a:9100")], samples: [(1, 1000)]),
            (labels: [("__name__", "up"), ("job", "node"), ("instance", "b:9100")], samples: [(0, 1000), (1, 2000)]),
            (labels: [("job", "no_name"), ("empty", "")], samples: [(-1, -1)]),
        ]
        #expect(
            RemoteWriteFixtures.snapshot(try decoder.decodeV1(RemoteWriteFixtures.v1Request(series)))
                == RemoteWriteFixtures.snapshot(try decoder.decodeV2(RemoteWriteFixtures.v2Request(series))))
    }

    @Test func v2SymbolsAreDeduplicatedWithEmptyFirst() throws {
        // Decoded from 1.0, every "job" has its own bytes in the arena: dedup must go by content.
        let series: [(labels: [(String, String)], samples: [(Double, Int64)])] = [
            (labels: [("__name__", "up"), ("job", "node")], samples: [(1, 1)]),
            (labels: [("__name__", "up"), ("job", "api")], samples: [(1, 1)]),
            (labels: [("__name__", "job"), ("job", "up")], samples: [(1, 1)]),
        ]
        let batch = try decoder.decodeV1(RemoteWriteFixtures.v1Request(series))
        var encoder = RemoteWriteEncoder()
        let bytes = encoder.encodeV2(batch)
        var symbols: [String] = []
        try bytes.withUnsafeBytes { buffer in
            var reader = ProtobufReader(buffer)
            while !reader.isAtEnd {
                let key = try reader.readFieldKey()
                if key.number == 4 {
                    symbols.append(String(decoding: reader.bytes(try reader.readLengthDelimited()), as: UTF8.self))
                } else {
                    try reader.skipField(key)
                }
            }
        }
        #expect(symbols == ["", "__name__", "up", "job", "node", "api"])
        #expect(RemoteWriteFixtures.snapshot(try decoder.decodeV2(bytes)) == RemoteWriteFixtures.snapshot(batch))
    }

    @Test func symbolTableGrowsPastItsFirstSize() throws {
        let batch = RemoteWriteFixtures.largeBatch(seriesCount: 500, labelsPerSeries: 10)
        var encoder = RemoteWriteEncoder()
        // Twice, so the second request reuses a table grown by the first.
        for _ in 0..<2 {
            let decoded = try decoder.decodeV2(encoder.encodeV2(batch))
            #expect(RemoteWriteFixtures.snapshot(decoded) == RemoteWriteFixtures.snapshot(batch))
        }
    }

    @Test func encodesOnlyTheChosenSeriesInTheirOrder() throws {
        let batch = RemoteWriteFixtures.richBatch()
        let all = RemoteWriteFixtures.snapshot(batch)
        let untyped = RemoteWriteFixtures.snapshot(batch, types: false)
        var encoder = RemoteWriteEncoder()
        let v1 = try decoder.decodeV1(encoder.encodeV1(batch, series: [3, 0]))
        #expect(RemoteWriteFixtures.snapshot(v1) == [untyped[3], untyped[0]])
        let v2 = try decoder.decodeV2(encoder.encodeV2(batch, series: [2]))
        #expect(RemoteWriteFixtures.snapshot(v2) == [all[2]])
        #expect(try decoder.decodeV1(encoder.encodeV1(batch, series: [])).seriesCount == 0)
        #expect(encoder.encodeV2(batch, series: []) == [0x22, 0x00])
    }

    @Test func reusedOutputMatchesFreshOutput() {
        let rich = RemoteWriteFixtures.richBatch()
        let large = RemoteWriteFixtures.largeBatch(seriesCount: 50, labelsPerSeries: 5)
        var encoder = RemoteWriteEncoder()
        var output: [UInt8] = [1, 2, 3]
        for batch in [large, rich, large] {
            encoder.encodeV1(batch, series: batch.series.indices, includeMetadata: true, into: &output)
            #expect(output == encoder.encodeV1(batch, includeMetadata: true))
            encoder.encodeV2(batch, series: batch.series.indices, into: &output)
            #expect(output == encoder.encodeV2(batch))
        }
    }

    @Test func appendedV1RequestsConcatenate() throws {
        let rich = RemoteWriteFixtures.richBatch()
        let large = RemoteWriteFixtures.largeBatch(seriesCount: 3, labelsPerSeries: 2)
        var encoder = RemoteWriteEncoder()
        var output: [UInt8] = []
        encoder.appendV1(rich, series: [0, 2], includeMetadata: true, to: &output)
        encoder.appendV1(large, series: large.series.indices, to: &output)
        let decoded = try decoder.decodeV1(output)
        let expected =
            [0, 2].map { RemoteWriteFixtures.snapshot(rich, types: false)[$0] }
            + RemoteWriteFixtures.snapshot(large, types: false)
        #expect(RemoteWriteFixtures.snapshot(decoded) == expected)
        #expect(decoded.metadata == rich.metadata)
    }

    @Test func encodesLabelsRewrittenAfterDecoding() throws {
        let request = RemoteWriteFixtures.v1Request([
            (labels: [("__name__", "up"), ("job", "x")], samples: [(1, 1)]),
            (labels: [("__name__", "up"), ("job", "y")], samples: [(2, 2)]),
        ])
        var batch = try decoder.decodeV1(request)
        // What the tag transform does: new labels appended to the arena, the series' labels still sorted.
        batch.setLabel(series: 0, name: "cluster", value: "eu-1")
        batch.setLabel(series: 1, name: "job", value: "rewritten")
        batch.deleteLabel(series: 1, name: "__name__")
        var encoder = RemoteWriteEncoder()
        for decoded in [
            try decoder.decodeV1(encoder.encodeV1(batch)), try decoder.decodeV2(encoder.encodeV2(batch)),
        ] {
            #expect(
                decoded.labelPairs(of: 0).map { "\($0.name)=\($0.value)" } == ["__name__=up", "cluster=eu-1", "job=x"])
            #expect(decoded.labelPairs(of: 1).map { "\($0.name)=\($0.value)" } == ["job=rewritten"])
        }
    }

    @Test func staleMarkersSurviveBitForBit() throws {
        // Prometheus marks stale series with this NaN; another NaN would not mean the same.
        let staleMarker = Double(bitPattern: 0x7FF0_0000_0000_0002)
        var batch = MetricBatch()
        batch.appendSeries(
            labels: [(name: "__name__", value: "up")], samples: [Sample(timestamp: 5, value: staleMarker)])
        var encoder = RemoteWriteEncoder()
        let v1 = try decoder.decodeV1(encoder.encodeV1(batch))
        let v2 = try decoder.decodeV2(encoder.encodeV2(batch))
        #expect(v1.samples[0].value.bitPattern == staleMarker.bitPattern)
        #expect(v2.samples[0].value.bitPattern == staleMarker.bitPattern)
    }
}
