import Foundation
import NIOCore
import PetrelBench
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelSinks
import Testing

/// `petrel bench`'s load: what it generates, and that what it reports is what the target received.
@Suite struct LoadGeneratorTests {
    @Test func remoteWriteLoadHasTheAskedShapeAndChurnsSeries() throws {
        var options = LoadProfile.RemoteWrite()
        options.series = 2000
        options.seriesPerRequest = 500
        options.labelsPerSeries = 6
        options.churn = 0.25
        let profile = LoadProfile.remoteWrite(options)
        #expect(profile.bodies.count == 4 * 16, "four requests a round, sixteen rounds of churn")
        #expect(profile.events.allSatisfy { $0 == 500 })
        var seen: [Set<String>] = []
        for round in [0, 15] {
            var ids = Set<String>()
            for request in 0..<4 {
                let body = profile.bodies[round * 4 + request]
                let bytes = try Snappy.decompress(Array(body.readableBytesView), maxDecompressedLength: 1 << 24)
                let batch = try RemoteWriteDecoder().decodeV1(bytes)
                #expect(batch.seriesCount == 500)
                for series in batch.series.indices {
                    #expect(batch.labelPairs(of: series).count == 6)
                    ids.insert(batch.labelValue(series: series, name: "series_id") ?? "")
                }
            }
            #expect(ids.count == 2000)
            seen.append(ids)
        }
        let replaced = seen[1].subtracting(seen[0]).count
        #expect(replaced > 1000 && replaced < 2000, "about 1 - 0.75^15 of the series were replaced: \(replaced)")
    }

    @Test func atAFixedRateItSendsTheScheduledRequestsAndCountsWhatTheTargetReceived() async throws {
        let pipeline = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              rw: { type: prometheus_remote_write, address: "127.0.0.1:\(port)" }
            sinks:
              bh: { type: blackhole, inputs: [rw] }
            """
        }
        try await pipeline.start()
        var options = LoadProfile.RemoteWrite()
        options.series = 1000
        options.seriesPerRequest = 250
        let profile = LoadProfile.remoteWrite(options)
        let endpoint = try HTTPEndpoint.parse("http://127.0.0.1:\(pipeline.sourcePort)/api/v1/write").get()
        // 10,000 samples/s in requests of 250 for one second: requests are due every 25 ms, 40 of them.
        let runner = LoadRunner(endpoint: endpoint, connections: 2, duration: .seconds(1), rate: 10_000)
        let summary = await runner.run(profile, progress: LoadRunner.Progress())
        try await pipeline.stop()
        #expect(summary.requests == 40)
        #expect(summary.statuses == [204: 40])
        #expect(summary.acceptedEvents == 10_000)
        #expect(summary.latency.totalCount == 40)
        let received = pipeline.counter(
            "petrel_component_received_events_total", component: "bh", kind: "sink", type: "blackhole")
        #expect(received == 10_000, "every sample the generator counted reached the sink")
    }
}
