import PetrelCore
import Testing

@Suite struct TelemetryRegistryTests {
    @Test func rendersPrometheusTextWithComponentLabels() {
        let registry = TelemetryRegistry()
        let telemetry = ComponentTelemetry(id: "demo", type: "demo", kind: .source, registry: registry)
        telemetry.sentEvents.increment(by: 10)
        telemetry.discarded(3, reason: "queue_full")
        telemetry.error(.receiving)
        let text = registry.render()
        #expect(text.contains("# TYPE petrel_component_sent_events_total counter"))
        #expect(
            text.contains(
                "petrel_component_sent_events_total{component_id=\"demo\",component_kind=\"source\",component_type=\"demo\"} 10"
            ))
        #expect(text.contains("reason=\"queue_full\"} 3"))
        #expect(text.contains("stage=\"receiving\"} 1"))
        #expect(text.contains("stage=\"sending\"} 0"), "error counters exist from the start")
    }

    @Test func escapesLabelValues() {
        let registry = TelemetryRegistry()
        registry.counter("x_total", help: "x", labels: [("id", "a\"b\\c\nd")]).increment()
        #expect(registry.render().contains(#"x_total{id="a\"b\\c\nd"} 1"#))
    }
}
