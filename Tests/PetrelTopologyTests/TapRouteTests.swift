import Foundation
import Logging
import PetrelCore
import PetrelTestSupport
import PetrelTopology
import ServiceLifecycle
import Testing

/// `/tap` and `/components` on an in-process API server, fed by an `Output` as the topology builds them.
@Suite struct TapRouteTests {
    @Test func tapStreamsWhatAnOutputSendsAndEndsAtTheLimit() async throws {
        let registry = TelemetryRegistry()
        let telemetry = ComponentTelemetry(id: "demo", type: "demo", kind: .source, registry: registry)
        let output = Output(edges: [], telemetry: telemetry)
        let server = APIServer(
            host: "127.0.0.1", port: 0, telemetry: registry, readiness: Readiness(componentIDs: []),
            logger: Logger(label: "test"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        async let running: Void = group.run()
        let port = await server.boundPort()

        // HTTP/1.0: the answer ends with the connection, so the test reads it whole.
        async let answer = httpRequest(port: port, path: "/tap?outputs_of=dem%2A&limit=3")
        while !output.tap.isAttached { try await Task.sleep(for: .milliseconds(10)) }
        let records = (0..<5).map { LogRecord(timestamp: 1_000_000_000 * Int64($0), message: "line \($0)") }
        _ = output.trySend(.logs(LogBatch(records: records)))
        let response = try #require(await answer)
        #expect(response.status == 200)
        let lines = response.text.split(separator: "\n").map(String.init)
        #expect(lines.first == #"{"tap":"matched","outputs":["demo"]}"#)
        let events = lines.filter { !$0.hasPrefix(#"{"tap":"#) }
        #expect(
            events
                == (0..<3).map {
                    #"{"component_id":"demo","output":"demo","kind":"log","timestamp":"1970-01-01T00:00:0\#($0).000000000Z","message":"line \#($0)"}"#
                })
        #expect(lines.last == #"{"tap":"end","reason":"limit"}"#)
        #expect(!output.tap.isAttached, "the tap is detached once its answer ends")

        #expect(await httpGet(port: port, path: "/tap?rate=0")?.status == 400)
        #expect(await httpGet(port: port, path: "/tap?limit=x")?.status == 400)
        await group.triggerGracefulShutdown()
        try await running
    }

    @Test func componentsListsTotalsAndQueueBounds() async throws {
        let registry = TelemetryRegistry()
        let source = ComponentTelemetry(id: "demo", type: "demo", kind: .source, registry: registry)
        let sink = ComponentTelemetry(id: "out", type: "console", kind: .sink, registry: registry)
        registry.publish([
            ComponentLayout(id: "demo", type: "demo", kind: .source, inputs: []),
            ComponentLayout(id: "out", type: "console", kind: .sink, inputs: ["demo"], queueMaxEvents: 500),
        ])
        source.sentEvents.increment(by: 12)
        sink.receivedEvents.increment(by: 10)
        sink.error(.sending)
        sink.discarded(2, reason: "http_400")
        sink.queueEvents.add(7)
        var up = ScrapeTargetStatus.Target(
            job: "node", url: "http://10.0.0.1:9100/metrics", labels: [], scrapeIntervalSeconds: 15)
        up.health = "up"
        var down = up
        down.url = "http://10.0.0.2:9100/metrics"
        down.health = "down"
        let fresh = ScrapeTargetStatus.Target(
            job: "node", url: "http://10.0.0.3:9100/metrics", labels: [], scrapeIntervalSeconds: 15)
        registry.scrapeTargets.update(source: "demo", key: "a", up)
        registry.scrapeTargets.update(source: "demo", key: "b", down)
        registry.scrapeTargets.update(source: "demo", key: "c", fresh)
        let server = APIServer(
            host: "127.0.0.1", port: 0, telemetry: registry, readiness: Readiness(componentIDs: []),
            logger: Logger(label: "test"))
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        async let running: Void = group.run()
        let port = await server.boundPort()
        let response = try #require(await httpGet(port: port, path: "/components"))
        #expect(response.status == 200)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: [[String: Any]]])
        let components = try #require(object["components"])
        #expect(components.map { $0["id"] as? String } == ["demo", "out"])
        #expect(components[0]["sent_events"] as? Int == 12)
        #expect(components[1]["inputs"] as? [String] == ["demo"])
        #expect(components[1]["received_events"] as? Int == 10)
        #expect(components[1]["errors"] as? Int == 1)
        #expect(components[1]["discarded_events"] as? Int == 2)
        #expect(components[1]["queue_events"] as? Int == 7)
        #expect(components[1]["queue_max_events"] as? Int == 500)
        #expect(components[0]["targets_up"] as? Int == 1)
        #expect(components[0]["targets_down"] as? Int == 1)
        #expect(components[0]["targets_total"] as? Int == 3)
        #expect(components[1]["targets_total"] == nil, "a sink has no targets")
        await group.triggerGracefulShutdown()
        try await running
    }
}
