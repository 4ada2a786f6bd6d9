import Foundation
import GRPCCore
import OTLPServices
import PetrelCore
import PetrelNet
import PetrelSources
import PetrelTestSupport
import Testing

private typealias TraceService = Opentelemetry_Proto_Collector_Trace_V1_TraceService

/// The `otlp` source's listeners under clients that connect and say nothing, or connect by the hundred.
@Suite struct OTLPSourceListenerLimitTests {
    private static func config(maxConnections: Int = 4096) -> OTLPSourceConfig {
        var config = OTLPSourceConfig()
        config.listener.maxConnections = maxConnections
        // Short enough for the test, long enough that a real client on a loaded machine sends its preface in time.
        config.listener.requestHeaderTimeout = .seconds(1)
        config.listener.idleTimeout = .seconds(1)
        return config
    }

    @Test func grpcConnectionWithoutAPrefaceIsClosed() async throws {
        var config = Self.config()
        // The real client below must not lose its connection to the idle timeout while a loaded machine stalls.
        config.listener.requestHeaderTimeout = .seconds(2)
        config.listener.idleTimeout = .seconds(60)
        let source = try await RunningOTLPSource(config: config)
        let silent = try #require(await offload { RawConnection(port: source.grpcPort) })
        let halfPreface = try #require(await offload { RawConnection(port: source.grpcPort) })
        halfPreface.send("PRI * HTTP/2.0\r\n")
        let http = try #require(await offload { RawConnection(port: source.httpPort) })
        #expect(await offload { silent.closedByServer(within: .seconds(5)) })
        #expect(await offload { halfPreface.closedByServer(within: .seconds(5)) })
        #expect(await offload { http.closedByServer(within: .seconds(5)) })
        // A real client, which sends its preface at once, is served.
        let response = try await source.withClient { client in
            try await TraceService.Client(wrapping: client).export(OTLPFixtures.traceRequest(spans: 1))
        }
        #expect(response == TraceResponse())
        try await source.stop()
    }

    @Test func grpcConnectionsPastMaxConnectionsAreRefused() async throws {
        var config = Self.config(maxConnections: 3)
        config.listener.requestHeaderTimeout = .seconds(30)
        let source = try await RunningOTLPSource(config: config)
        var opened: [RawConnection] = []
        for _ in 0..<3 { opened.append(try #require(await offload { RawConnection(port: source.grpcPort) })) }
        let held = opened
        let refused = try #require(await offload { RawConnection(port: source.grpcPort) })
        #expect(await offload { refused.closedByServer(within: .seconds(5)) })
        #expect(await offload { !held[0].closedByServer(within: .milliseconds(200)) })
        for connection in held { connection.close() }
        // Room again once they are gone.
        var served = false
        for _ in 0..<20 where !served {
            served =
                (try? await source.withClient { client in
                    try await TraceService.Client(wrapping: client).export(OTLPFixtures.traceRequest(spans: 1))
                }) != nil
        }
        #expect(served)
        try await source.stop()
    }

    @Test func bodiesHoldingTheMemoryLimitAreAnsweredAsOTLPWantsOnBothTransports() async throws {
        let memory = MemoryLimit(limit: 256 << 10)
        var config = OTLPSourceConfig()
        config.retryAfter = .milliseconds(2500)
        let source = try await RunningOTLPSource(config: config, memory: memory)
        let stalled = try #require(await offload { RawConnection(port: source.httpPort) })
        stalled.send(
            rawRequestHead(
                "POST", "/v1/traces", ["Content-Length": String(1 << 20), "Content-Type": "application/x-protobuf"]))
        stalled.send([UInt8](repeating: 0, count: 512 << 10))
        #expect(await componentEventually { memory.bytes == 512 << 10 })
        // Over HTTP: 429 with Retry-After and a google.rpc.Status in the request's encoding.
        let refused = try #require(await offload { RawConnection(port: source.httpPort) })
        refused.send(
            rawRequestHead(
                "POST", "/v1/traces", ["Content-Length": String(1 << 20), "Content-Type": "application/x-protobuf"]))
        refused.send([UInt8](repeating: 0, count: 64 << 10))
        let response = try #require(await offload { refused.readResponse() })
        #expect(response.status == 429)
        #expect(response.headers["retry-after"] == "3")
        let status = DecodedStatus(protobuf: response.body)
        #expect(status?.code == 8, "RESOURCE_EXHAUSTED")
        #expect(status?.retryInfo == true)
        // Over gRPC: the batch is refused with RESOURCE_EXHAUSTED while the bodies hold the limit.
        let request = OTLPFixtures.traceRequest(spans: 1)
        try await source.withClient { client in
            let error = await #expect(throws: RPCError.self) {
                try await TraceService.Client(wrapping: client).export(request)
            }
            #expect(error?.code == .resourceExhausted)
        }
        stalled.close()
        #expect(await componentEventually { memory.bytes == 0 })
        try await source.stop()
    }

    @Test func grpcStreamThatStallsBeforeItsEndIsReset() async throws {
        var config = Self.config()
        config.listener.requestBodyTimeout = .seconds(1)
        config.listener.idleTimeout = .seconds(60)
        let source = try await RunningOTLPSource(config: config)
        // A call that announces a message of 1,000 bytes, sends 100 and then nothing: without a stall timeout the
        // server would hold it, and its bytes, for ever.
        let stalled = try await RawGRPCStream.open(port: source.grpcPort, path: Self.exportPath)
        try await stalled.sendMessageStart(declaredLength: 1000, bytes: [UInt8](repeating: 7, count: 100))
        #expect(await stalled.ending() == .reset)
        // And one that sends its headers and nothing else.
        let silent = try await RawGRPCStream.open(port: source.grpcPort, path: Self.exportPath)
        #expect(await silent.ending() == .reset)
        #expect(source.queue.count == 0, "nothing of a stalled request is sent on")
        let response = try await source.withClient { client in
            try await TraceService.Client(wrapping: client).export(OTLPFixtures.traceRequest(spans: 1))
        }
        #expect(response == TraceResponse(), "the source still serves")
        await stalled.close()
        await silent.close()
        try await source.stop()
    }

    /// grpc-swift reset both streams, which clients see as UNAVAILABLE and retry for ever.
    @Test func grpcMessagesRefusedByTheirPrefixGetAStatusAtOnce() async throws {
        var config = Self.config()
        config.maxMessageSize = 16 * 1024
        let source = try await RunningOTLPSource(config: config)
        // Announced far over the limit, with only its first bytes sent: answered before the rest is read, and
        // without RetryInfo, so the client does not retry it.
        let large = try await RawGRPCStream.open(port: source.grpcPort, path: Self.exportPath)
        try await large.sendMessageStart(declaredLength: 1 << 20, bytes: [UInt8](repeating: 7, count: 100))
        #expect(await large.ending() == .status(code: 8, details: nil), "RESOURCE_EXHAUSTED")
        // Flagged compressed in a request that names no grpc-encoding.
        let unlabelled = try await RawGRPCStream.open(port: source.grpcPort, path: Self.exportPath)
        try await unlabelled.sendMessageStart(
            declaredLength: 10, bytes: [UInt8](repeating: 1, count: 10), compressed: true)
        #expect(await unlabelled.ending() == .status(code: 13, details: nil), "INTERNAL")
        #expect(source.queue.count == 0)
        #expect(source.telemetry.errorCount(.receiving) == 2)
        let response = try await source.withClient { client in
            try await TraceService.Client(wrapping: client).export(OTLPFixtures.traceRequest(spans: 1))
        }
        #expect(response == TraceResponse(), "the source still serves")
        await large.close()
        await unlabelled.close()
        try await source.stop()
    }

    @Test func grpcStreamsBeingReadCountAgainstTheMemoryLimit() async throws {
        let memory = MemoryLimit(limit: 256 << 10)
        var config = OTLPSourceConfig()
        config.retryAfter = .milliseconds(2500)
        let source = try await RunningOTLPSource(config: config, memory: memory)
        // 300 KiB of a 1 MiB message on a stream that then stalls: the server holds those bytes.
        let stalled = try await RawGRPCStream.open(port: source.grpcPort, path: Self.exportPath)
        try await stalled.sendMessageStart(declaredLength: 1 << 20, bytes: [UInt8](repeating: 1, count: 300 << 10))
        #expect(await componentEventually { memory.bytes >= 300 << 10 })
        // The next call is refused as OTLP clients retry it: RESOURCE_EXHAUSTED with RetryInfo.
        let refused = try await RawGRPCStream.open(port: source.grpcPort, path: Self.exportPath)
        try await refused.sendMessageStart(declaredLength: 1000, bytes: [UInt8](repeating: 2, count: 1000))
        let ending = await refused.ending()
        guard case .status(let code, let details) = ending else {
            Issue.record("the call past the limit was not answered with a status: \(ending)")
            await stalled.close()
            try await source.stop()
            return
        }
        #expect(code == 8, "RESOURCE_EXHAUSTED")
        let status = try #require(details.flatMap(Self.base64Decoded).flatMap { DecodedStatus(protobuf: $0) })
        #expect(status.retryInfo, "RetryInfo is what makes OTLP clients retry RESOURCE_EXHAUSTED")
        await stalled.close()
        await refused.close()
        #expect(await componentEventually { memory.bytes == 0 }, "a closed stream gives its bytes back")
        let response = try await source.withClient { client in
            try await TraceService.Client(wrapping: client).export(OTLPFixtures.traceRequest(spans: 1))
        }
        #expect(response == TraceResponse(), "accepted again once the bytes are given back")
        try await source.stop()
    }

    private static let exportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

    /// gRPC's binary metadata: base64, padding optional.
    private static func base64Decoded(_ text: String) -> [UInt8]? {
        var padded = text
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map { Array($0) }
    }
}
