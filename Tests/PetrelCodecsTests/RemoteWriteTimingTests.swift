import PetrelCodecs
import PetrelCore
import Testing

@Suite struct RemoteWriteTimingTests {
    @Test func timing() throws {
        let batch = RemoteWriteFixtures.largeBatch(seriesCount: 1000, labelsPerSeries: 10)
        var encoder = RemoteWriteEncoder()
        let decoder = RemoteWriteDecoder()
        let v1 = encoder.encodeV1(batch)
        let v2 = encoder.encodeV2(batch)
        let decodedV1 = try decoder.decodeV1(v1)
        print("v1 bytes \(v1.count), v2 bytes \(v2.count)")
        let clock = ContinuousClock()
        func measure(_ name: String, _ body: () throws -> Int) rethrows {
            var sink = 0
            for _ in 0..<50 { sink &+= try body() }
            var best = Duration.seconds(100)
            for _ in 0..<10 {
                let start = clock.now
                for _ in 0..<100 { sink &+= try body() }
                best = min(best, (clock.now - start) / 100)
            }
            let us = Double(best.components.attoseconds) / 1e12 + Double(best.components.seconds) * 1e6
            print("\(name): \(us) us per 1000-series request, \(us * 1000 / 1000) ns/series (sink \(sink & 1))")
        }
        try measure("decodeV1") { try decoder.decodeV1(v1).seriesCount }
        try measure("decodeV2") { try decoder.decodeV2(v2).seriesCount }
        measure("encodeV1 (from generated batch)") { encoder.encodeV1(batch).count }
        measure("encodeV1 (from decoded v1 batch)") { encoder.encodeV1(decodedV1).count }
        measure("encodeV2 (from decoded v1 batch)") { encoder.encodeV2(decodedV1).count }
        var output: [UInt8] = []
        measure("encodeV1 into reused buffer") {
            encoder.encodeV1(decodedV1, series: decodedV1.series.indices, into: &output)
            return output.count
        }
    }
}
