import Logging
import PetrelCore
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
}
