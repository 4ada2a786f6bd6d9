import Foundation
import PetrelTestSupport
import Testing

/// The real binary against clients that walk away mid-request or hold sockets open by the thousand.
@Suite(.serialized) struct HostileClientTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-hostile-\(UUID().uuidString)")

    @Test func requestsAbortedMidBodyDoNotHangShutdown() async throws {
        let remoteWrite = freePort()
        let otlpHTTP = freePort()
        let petrel = try PetrelProcess(
            config: """
                shutdown_timeout: 2s
                sources:
                  rw: { type: prometheus_remote_write, address: "127.0.0.1:\(remoteWrite)" }
                  otel: { type: otlp, protocols: [http], http_address: "127.0.0.1:\(otlpHTTP)" }
                sinks:
                  bh: { type: blackhole, inputs: [rw, otel] }
                """, directory: directory)
        try await petrel.start()
        // Headers promise 100 bytes, 10 come, then the client is gone.
        for (port, path) in [(remoteWrite, "/api/v1/write"), (otlpHTTP, "/v1/traces")] {
            let aborted = try #require(await offload { RawConnection(port: port) })
            aborted.send(
                rawRequestHead("POST", path, ["Content-Length": "100", "Content-Type": "application/x-protobuf"])
                    + "0123456789")
            try await Task.sleep(for: .milliseconds(100))
            aborted.close()
        }
        #expect(await httpGet(port: petrel.apiPort, path: "/health")?.status == 200)
        let status = await petrel.stop(within: .seconds(10))
        #expect(status == 0, "petrel did not exit after SIGTERM; its log:\n\(petrel.logText)")
    }

    @Test func healthAnswersWhileIdleSocketsFloodASource() async throws {
        let remoteWrite = freePort()
        let petrel = try PetrelProcess(
            config: """
                sources:
                  rw: { type: prometheus_remote_write, address: "127.0.0.1:\(remoteWrite)", max_connections: 50 }
                sinks:
                  bh: { type: blackhole, inputs: [rw] }
                """, directory: directory)
        try await petrel.start()
        let flood = await offload { (0..<300).compactMap { _ in RawConnection(port: remoteWrite) } }
        #expect(flood.count == 300)
        #expect(await httpGet(port: petrel.apiPort, path: "/health")?.status == 200)
        // Past the first fifty, the source closes what it accepts.
        let refused = await offload { flood[50...].filter { $0.closedByServer(within: .seconds(2)) }.count }
        #expect(refused == 250)
        #expect(await httpGet(port: petrel.apiPort, path: "/health")?.status == 200)
        for connection in flood { connection.close() }
        #expect(await petrel.stop(within: .seconds(10)) == 0)
    }

    @Test func stalledUploadsAreRefusedAtTheMemoryLimit() async throws {
        let remoteWrite = freePort()
        let petrel = try PetrelProcess(
            config: """
                memory_limit: 32MiB
                sources:
                  rw: { type: prometheus_remote_write, address: "127.0.0.1:\(remoteWrite)" }
                sinks:
                  bh: { type: blackhole, inputs: [rw] }
                """, directory: directory)
        try await petrel.start()
        // Sixty uploads declare 16MiB each, send 1MiB and stall: 60MiB of bodies against a 32MiB limit.
        let uploads = await offload {
            (0..<60).compactMap { _ -> RawConnection? in
                guard let connection = RawConnection(port: remoteWrite) else { return nil }
                connection.send(
                    rawRequestHead("POST", "/api/v1/write", ["Content-Length": String(16 << 20)])
                        + String(repeating: "x", count: 1 << 20))
                return connection
            }
        }
        #expect(uploads.count == 60)
        let refused = await offload {
            uploads.filter { $0.readResponse(timeout: .milliseconds(100))?.status == 429 }.count
        }
        // About 32 fit; the others were refused as their bytes arrived.
        #expect((20...40).contains(refused), "\(refused) of 60 stalled uploads were refused")
        #expect(await httpGet(port: petrel.apiPort, path: "/health")?.status == 200)
        let peak = try #require(petrel.peakResidentBytes())
        #expect(peak < 200 << 20, "peak RSS \(peak >> 20)MiB")
        for upload in uploads { upload.close() }
        #expect(await petrel.stop(within: .seconds(10)) == 0)
    }
}
