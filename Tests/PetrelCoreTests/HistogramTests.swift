import PetrelCore
import Testing

@Suite struct HistogramTests {
    @Test func observationsFallInTheFirstBucketAtOrAboveThem() {
        let histogram = Histogram(upperBounds: [0.1, 1, 10])
        for value in [0.05, 0.1, 0.5, 1, 5, 50, -1] { histogram.observe(value) }
        #expect(histogram.cumulativeCounts == [3, 5, 6, 7])
        #expect(histogram.count == 7)
        #expect(abs(histogram.sum - 56.65) < 1e-6)
    }

    @Test func durationsAreSeconds() {
        let histogram = Histogram(upperBounds: [0.001, 1])
        histogram.observe(Duration.milliseconds(250))
        histogram.observe(since: ContinuousClock.now)
        #expect(histogram.cumulativeCounts[1] == 2)
        #expect(abs(histogram.sum - 0.25) < 0.01)
    }

    @Test func concurrentObservationsAreAllCounted() async {
        let histogram = Histogram()
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<1000 { histogram.observe(Double(index % 20 + task) / 1000) }
                }
            }
        }
        #expect(histogram.count == 8000)
    }

    @Test func rendersBucketsSumAndCountWithComponentLabels() {
        let registry = TelemetryRegistry()
        let telemetry = ComponentTelemetry(id: "rw", type: "prometheus_remote_write", kind: .source, registry: registry)
        telemetry.requestDuration.observe(0.003)
        telemetry.requestDuration.observe(0.2)
        telemetry.requestDuration.observe(20)
        let text = registry.render()
        let labels = #"component_id="rw",component_kind="source",component_type="prometheus_remote_write""#
        let name = "petrel_component_request_duration_seconds"
        #expect(text.contains("# TYPE \(name) histogram\n"))
        let lines = text.split(separator: "\n").filter { $0.hasPrefix(name) }.map(String.init)
        let expected =
            [
                ("0.001", 0), ("0.0025", 0), ("0.005", 1), ("0.01", 1), ("0.025", 1), ("0.05", 1), ("0.1", 1),
                ("0.25", 2), ("0.5", 2), ("1", 2), ("2.5", 2), ("5", 2), ("10", 2), ("+Inf", 3),
            ].map { "\(name)_bucket{\(labels),le=\"\($0.0)\"} \($0.1)" }
            + ["\(name)_sum{\(labels)} 20.203", "\(name)_count{\(labels)} 3"]
        #expect(lines == expected)
        let labelPairs = [
            ("component_id", "rw"), ("component_kind", "source"), ("component_type", "prometheus_remote_write"),
        ]
        #expect(registry.value(name, labels: labelPairs) == 3)
    }

    @Test func rendersAHistogramWithoutLabels() {
        let registry = TelemetryRegistry()
        registry.histogram("x_seconds", help: "x", upperBounds: [1]).observe(0.5)
        #expect(
            registry.render()
                == "# HELP x_seconds x\n# TYPE x_seconds histogram\nx_seconds_bucket{le=\"1\"} 1\n"
                + "x_seconds_bucket{le=\"+Inf\"} 1\nx_seconds_sum 0.5\nx_seconds_count 1\n")
    }
}
