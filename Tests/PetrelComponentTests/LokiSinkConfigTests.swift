import PetrelCore
import PetrelNet
import Testing

@testable import PetrelSinks

/// Reading the `loki` sink's settings: templates compiled at load, and label templates that would make a stream per
/// pod or trace refused with the place and a hint.
@Suite struct LokiSinkConfigTests {
    private func build(_ node: ConfigNode) -> (config: LokiSinkConfig?, errors: [String]) {
        let outcome = buildComponent(LokiSink.definition, at: "sinks.loki", node)
        guard case .sink(let sink as LokiSink, let accepts)? = outcome.built else { return (nil, outcome.errors) }
        #expect(accepts == [.logs])
        return (sink.config, outcome.errors)
    }

    @Test func defaultsArePromtailsAndSnappyProtobuf() throws {
        let (config, errors) = build(componentConfig(["endpoint": "http://loki:3100"]))
        #expect(errors == [])
        let built = try #require(config)
        #expect(built.encoding == .protobuf)
        #expect(built.request.compression == .snappy)
        #expect(built.pushEndpoint.description == "http://loki:3100/loki/api/v1/push")
        #expect(built.maxStreams == 1000)
        #expect(built.request.maxBytes == 1024 * 1024 && built.request.maxAge == .seconds(1))
        #expect(built.labels.isEmpty && built.structuredMetadata.isEmpty && built.tenantID == nil)
    }

    @Test func readsEverySetting() throws {
        let (config, errors) = build(
            componentConfig([
                "endpoint": "https://logs.example.com/tenant-a/", "encoding": "json", "compression": "gzip",
                "tenant_id": "team-a",
                "labels": ["namespace": "{{ resource.k8s.namespace.name }}", "app": "{{ fields.app }}", "env": "prod"],
                "structured_metadata": ["pod": "{{ resource.k8s.pod.name }}", "trace_id": "{{ fields.trace_id }}"],
                "max_streams": 50, "batch": ["max_events": 500], "retry": ["initial_backoff": "50ms"],
            ]))
        #expect(errors == [])
        let built = try #require(config)
        #expect(built.encoding == .json && built.request.compression == .gzip && built.tenantID == "team-a")
        #expect(built.pushEndpoint.description == "https://logs.example.com:443/tenant-a/loki/api/v1/push")
        #expect(built.labels.map(\.name) == ["namespace", "app", "env"])
        #expect(
            built.labels.map(\.value.description) == ["{{ resource.k8s.namespace.name }}", "{{ fields.app }}", "prod"])
        #expect(built.structuredMetadata.map(\.name) == ["pod", "trace_id"])
        #expect(built.maxStreams == 50 && built.request.maxEvents == 500)
        #expect(built.request.initialBackoff == .milliseconds(50))
    }

    @Test func jsonIsPlainUnlessGzipIsAskedFor() throws {
        let (config, errors) = build(componentConfig(["endpoint": "http://loki:3100", "encoding": "json"]))
        #expect(errors == [])
        #expect(config?.request.compression == SinkRequestSettings.Compression.none)
    }

    @Test func protobufIsAlwaysSnappy() {
        let (_, errors) = build(componentConfig(["endpoint": "http://loki:3100", "compression": "gzip"]))
        #expect(errors == ["petrel.yaml: sinks.loki.compression: expected one of snappy, found \"gzip\""])
    }

    @Test func highCardinalityLabelsAreRefusedWithAHint() {
        let node = ConfigNode(
            .mapping([
                (key: "endpoint", node: ConfigNode(.scalar("http://loki:3100"), line: 3)),
                (
                    key: "labels",
                    node: ConfigNode(
                        .mapping([
                            (key: "namespace", node: ConfigNode(.scalar("{{ resource.k8s.namespace.name }}"), line: 5)),
                            (key: "uid", node: ConfigNode(.scalar("pod-{{ resource.k8s.pod.uid }}"), line: 6)),
                            (key: "trace", node: ConfigNode(.scalar("{{ fields.trace_id }}"), line: 7)),
                            (key: "span", node: ConfigNode(.scalar("{{ fields.otel.span_id }}"), line: 8)),
                        ]), line: 4)
                ),
            ]), line: 2)
        let (config, errors) = build(node)
        #expect(config != nil)
        #expect(errors.count == 3)
        #expect(
            errors.first?.hasPrefix("petrel.yaml:6: sinks.loki.labels.uid: resource.k8s.pod.uid has a value per")
                == true)
        #expect(errors.allSatisfy { $0.contains("put it in structured_metadata instead") })
        #expect(errors.dropFirst().first?.hasPrefix("petrel.yaml:7: sinks.loki.labels.trace: fields.trace_id") == true)
        #expect(errors.last?.hasPrefix("petrel.yaml:8: sinks.loki.labels.span: fields.otel.span_id") == true)
        // The same keys are what structured metadata is for.
        let (_, metadataErrors) = build(
            componentConfig([
                "endpoint": "http://loki:3100",
                "structured_metadata": ["pod_uid": "{{ resource.k8s.pod.uid }}", "trace_id": "{{ fields.trace_id }}"],
            ]))
        #expect(metadataErrors == [])
    }

    @Test func labelNamesAndTemplatesAreChecked() {
        let (_, errors) = build(
            componentConfig([
                "endpoint": "http://loki:3100",
                "labels": ["k8s.namespace": "{{ resource.k8s.namespace.name }}", "app": "{{ fields.app"],
                "structured_metadata": ["pod": "{{ pod }}"], "max_streams": 0, "encoding": "text", "colour": "red",
            ]))
        #expect(
            errors.contains {
                $0.contains("sinks.loki.labels.k8s.namespace: \"k8s.namespace\" is not a Loki label name")
            })
        #expect(errors.contains { $0.contains("sinks.loki.labels.app: invalid template") })
        #expect(
            errors.contains { $0.contains("sinks.loki.structured_metadata.pod: invalid template: unknown reference") })
        #expect(errors.contains { $0.contains("sinks.loki.max_streams") })
        #expect(errors.contains { $0.contains("sinks.loki.encoding: expected one of protobuf, json") })
        #expect(errors.contains { $0.contains("sinks.loki.colour: unknown key") })
    }

    @Test func theEndpointIsRequiredAndABaseURL() {
        #expect(build(componentConfig([:])).errors == ["petrel.yaml: sinks.loki.endpoint: is required"])
        #expect(build(componentConfig(["endpoint": "http://loki:3100/?x=1"])).errors.count == 1)
        #expect(build(componentConfig(["endpoint": "loki:3100"])).errors.count == 1)
    }
}
