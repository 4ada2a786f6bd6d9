import PetrelCodecs
import PetrelCore
import Testing

/// Whole-buffer decoders cannot be fed a byte at a time, so these cut and corrupt valid requests instead: every
/// outcome must be a batch or a `RemoteWriteDecodingError`, never a trap or a hang.
@Suite struct RemoteWriteMalformedInputTests {
    typealias Generator = RemoteWriteFixtures.SeededGenerator

    private let decoder = RemoteWriteDecoder()

    private static func validRequests() -> [(name: String, bytes: [UInt8], version2: Bool)] {
        var encoder = RemoteWriteEncoder()
        let rich = RemoteWriteFixtures.richBatch()
        let large = RemoteWriteFixtures.largeBatch(seriesCount: 20, labelsPerSeries: 4)
        return [
            ("rich v1", encoder.encodeV1(rich, includeMetadata: true), false),
            ("rich v2", encoder.encodeV2(rich), true),
            ("large v1", encoder.encodeV1(large), false),
            ("large v2", encoder.encodeV2(large), true),
            ("hand-written v1", RemoteWriteDecoderTests.upV1, false),
            ("hand-written v2", RemoteWriteDecoderTests.upV2, true),
        ]
    }

    private func decode(_ bytes: [UInt8], version2: Bool) -> Result<MetricBatch, RemoteWriteDecodingError> {
        Result { () throws(RemoteWriteDecodingError) in
            version2 ? try decoder.decodeV2(bytes) : try decoder.decodeV1(bytes)
        }
    }

    @Test func everyPrefixDecodesOrThrows() throws {
        for request in Self.validRequests() {
            let full = try decode(request.bytes, version2: request.version2).get()
            var failures = 0
            for length in 0..<request.bytes.count {
                switch decode(Array(request.bytes[..<length]), version2: request.version2) {
                case .success(let batch):
                    // A cut between top-level fields is a valid, shorter request.
                    #expect(batch.seriesCount <= full.seriesCount, "\(request.name) cut at \(length)")
                case .failure:
                    failures += 1
                }
            }
            #expect(failures > 0, "\(request.name)")
        }
    }

    @Test func randomByteFlipsDecodeOrThrow() {
        var generator = Generator(seed: 0x5EED_CAFE)
        var encoder = RemoteWriteEncoder()
        var outcomes = (decoded: 0, rejected: 0)
        for request in Self.validRequests() {
            for _ in 0..<1_000 {
                var bytes = request.bytes
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: bytes.indices, using: &generator)
                    bytes[index] ^= UInt8.random(in: 1...255, using: &generator)
                }
                switch decode(bytes, version2: request.version2) {
                case .success(let batch):
                    outcomes.decoded += 1
                    // Whatever decodes must also re-encode and decode to the same series.
                    let v1 = decode(encoder.encodeV1(batch, includeMetadata: true), version2: false)
                    let v2 = decode(encoder.encodeV2(batch), version2: true)
                    #expect(
                        (try? v1.get()).map { RemoteWriteFixtures.snapshot($0) }
                            == RemoteWriteFixtures.snapshot(batch, types: false))
                    #expect(
                        (try? v2.get()).map { RemoteWriteFixtures.snapshot($0) } == RemoteWriteFixtures.snapshot(batch))
                case .failure:
                    outcomes.rejected += 1
                }
            }
        }
        #expect(outcomes.decoded > 0 && outcomes.rejected > 0)
    }

    @Test func randomBytesDecodeOrThrow() {
        var generator = Generator(seed: 42)
        for _ in 0..<2_000 {
            let count = Int.random(in: 0...64, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = decode(bytes, version2: false)
            _ = decode(bytes, version2: true)
        }
    }

    @Test func paddingAfterASmallFirstSeriesDoesNotInflateReservations() throws {
        // The decoder sizes its arrays from the first series; unknown fields after it must not make a few bytes of
        // samples extrapolate to many megabytes of reserved memory.
        var request = RemoteWriteFixtures.Proto()
        request.message(1) { series in
            RemoteWriteFixtures.v1Label("__name__", "up", into: &series)
            for _ in 0..<1_000 {
                series.bytes(2, [])
            }
        }
        request.bytes(100, Array(repeating: 0, count: 4 << 20))
        let batch = try decoder.decodeV1(request.bytes)
        #expect(batch.samples.count == 1_000)
        #expect(batch.samples.capacity < 100_000)
    }

    @Test func swappedVersionsDecodeOrThrow() {
        // A sender that picks the wrong Content-Type: a 1.0 request read as 2.0 is an empty request (fields 1 to 3
        // are reserved in 2.0 for this), and a 2.0 request read as 1.0 is one too, its fields being unknown there.
        for request in Self.validRequests() {
            switch decode(request.bytes, version2: !request.version2) {
            case .success(let batch):
                #expect(batch.seriesCount == 0, "\(request.name)")
            case .failure:
                break
            }
        }
    }
}
