import Logging
import PetrelCore
import PetrelNet
import PetrelTestSupport
import PetrelTopology
import ServiceLifecycle
import Testing

@Suite struct APIServerTests {
    @Test func servesMetricsHealthAndReadiness() async throws {
        let registry = TelemetryRegistry()
        let telemetry = ComponentTelemetry(id: "demo", type: "demo", kind: .source, registry: registry)
        telemetry.sentEvents.increment(by: 42)
        let readiness = Readiness(componentIDs: ["demo"])
        let server = APIServer(
            host: "127.0.0.1", port: 0, telemetry: registry, readiness: readiness, logger: Logger(label: "test"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        async let running: Void = group.run()
        let port = await server.boundPort()

        let metrics = try #require(await httpGet(port: port, path: "/metrics"))
        #expect(metrics.status == 200)
        #expect(
            metrics.body.contains(
                "petrel_component_sent_events_total{component_id=\"demo\",component_kind=\"source\",component_type=\"demo\"} 42"
            ))
        #expect(await httpGet(port: port, path: "/health")?.status == 200)
        let notReady = try #require(await httpGet(port: port, path: "/ready"))
        #expect(notReady.status == 503)
        #expect(notReady.body.contains("demo"))
        readiness.markReady("demo")
        #expect(await httpGet(port: port, path: "/ready")?.status == 200)
        #expect(await httpGet(port: port, path: "/nope")?.status == 404)

        await group.triggerGracefulShutdown()
        try await running
        #expect(await httpGet(port: port, path: "/health") == nil, "the port is closed after shutdown")
    }

    @Test func headAnswersWithoutABodyAndOtherMethodsAreRefused() async throws {
        let server = APIServer(
            host: "127.0.0.1", port: 0, telemetry: TelemetryRegistry(), readiness: Readiness(componentIDs: []),
            logger: Logger(label: "test"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        async let running: Void = group.run()
        let port = await server.boundPort()
        let connection = try #require(await offload { RawConnection(port: port) })
        connection.send(rawRequestHead("HEAD", "/health") + rawRequestHead("POST", "/health", ["Content-Length": "0"]))
        let head = await offload { connection.readResponse() }
        #expect(head?.status == 200)
        #expect(head?.headers["content-length"] == "3")
        let post = await offload { connection.readResponse() }
        #expect(post?.status == 405)
        await group.triggerGracefulShutdown()
        try await running
    }

    @Test func answersWhileItsOwnConnectionLimitIsHeld() async throws {
        var limits = HTTPListenerLimits()
        limits.maxConnections = 3
        let server = APIServer(
            host: "127.0.0.1", port: 0, limits: limits, telemetry: TelemetryRegistry(),
            readiness: Readiness(componentIDs: []), logger: Logger(label: "test"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        async let running: Void = group.run()
        let port = await server.boundPort()
        var opened: [RawConnection] = []
        for _ in 0..<3 { opened.append(try #require(await offload { RawConnection(port: port) })) }
        let held = opened
        held[2].send(rawRequestHead("GET", "/health"))
        #expect(await offload { held[2].readResponse() }?.text == "ok\n")
        let refused = try #require(await offload { RawConnection(port: port) })
        #expect(await offload { refused.closedByServer(within: .seconds(5)) })
        // A held connection still answers: the limit refuses the flood, not the clients already in.
        held[0].send(rawRequestHead("GET", "/health"))
        #expect(await offload { held[0].readResponse() }?.status == 200)
        await group.triggerGracefulShutdown()
        try await running
    }
}
