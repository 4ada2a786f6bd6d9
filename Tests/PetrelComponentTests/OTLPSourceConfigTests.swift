import PetrelCodecs
import PetrelCore
import PetrelSources
import Testing

/// The `otlp` source's settings as the configuration file gives them.
@Suite struct OTLPSourceConfigTests {
    private func build(_ node: ConfigNode) -> (config: OTLPSourceConfig?, emits: SignalSet?, errors: [String]) {
        let outcome = buildComponent(OTLPSource.definition, at: "sources.otel", node)
        guard case .source(let source, let emits)? = outcome.built else { return (nil, nil, outcome.errors) }
        return ((source as? OTLPSource)?.config, emits, outcome.errors)
    }

    @Test func definitionIsTheOTLPSourceForEverySignal() throws {
        #expect(OTLPSource.definition.type == "otlp")
        #expect(OTLPSource.definition.kind == .source)
        let result = build(componentConfig([:]))
        #expect(result.errors == [])
        #expect(result.emits == [.metrics, .logs, .traces])
        let config = try #require(result.config)
        #expect(config.grpcAddress == HostPort(host: "0.0.0.0", port: 4317))
        #expect(config.httpAddress == HostPort(host: "0.0.0.0", port: 4318))
        #expect(config.protocols == [.grpc, .http])
        #expect(config.maxMessageSize == 4 * 1024 * 1024)
        #expect(config.retryAfter == .seconds(1))
        #expect(config.metrics == OTLPMetricOptions())
    }

    @Test func everySettingOverridden() throws {
        let result = build(
            componentConfig([
                "grpc_address": "127.0.0.1:14317", "http_address": "[::1]:14318", "protocols": ["http"],
                "max_message_size": "16MiB", "retry_after": "5s",
                "metrics": [
                    "add_unit_and_type_suffixes": false, "resource_attributes": "promote",
                    "promote_resource_attributes": ["k8s.namespace.name", "k8s.pod.name"], "add_scope_labels": true,
                ],
            ]))
        #expect(result.errors == [])
        let config = try #require(result.config)
        #expect(config.grpcAddress == HostPort(host: "127.0.0.1", port: 14317))
        #expect(config.httpAddress == HostPort(host: "::1", port: 14318))
        #expect(config.protocols == [.http])
        #expect(config.maxMessageSize == 16 * 1024 * 1024)
        #expect(config.retryAfter == .seconds(5))
        #expect(config.metrics.addUnitAndTypeSuffixes == false)
        #expect(config.metrics.resourceAttributes == .promote)
        #expect(config.metrics.promotedResourceAttributes == ["k8s.namespace.name", "k8s.pod.name"])
        #expect(config.metrics.addScopeLabels)
    }

    @Test func errorsNameTheKeyAtFault() {
        let result = build(
            componentConfig([
                "grpc_address": "4317", "protocols": ["grpc", "smtp", "grpc"], "max_message_size": "0",
                "retry_after": "soon", "metrics": ["resource_attributes": "all", "colour": "red"],
                "http_adress": "0.0.0.0:4318",
            ]))
        #expect(
            result.errors == [
                "petrel.yaml: sources.otel.grpc_address: invalid address \"4317\": expected host:port, such as 127.0.0.1:8686",
                "petrel.yaml: sources.otel.protocols: unknown protocol \"smtp\"; expected grpc or http",
                "petrel.yaml: sources.otel.protocols: grpc is listed twice",
                "petrel.yaml: sources.otel.max_message_size: must be between 1 byte and 4GiB, found 0",
                "petrel.yaml: sources.otel.retry_after: expected a duration such as 500ms, 30s, 5m or 1h, found \"soon\"",
                "petrel.yaml: sources.otel.metrics.resource_attributes: expected one of target_info, promote, none, found \"all\"",
                "petrel.yaml: sources.otel.metrics.colour: unknown key",
                "petrel.yaml: sources.otel.http_adress: unknown key; did you mean \"http_address\"?",
            ])
    }

    @Test func promotionNeedsItsListAndTheListNeedsPromotion() {
        #expect(
            build(componentConfig(["metrics": ["resource_attributes": "promote"]])).errors == [
                "petrel.yaml: sources.otel.metrics.resource_attributes: promote needs promote_resource_attributes: the resource attributes to make labels"
            ])
        #expect(
            build(componentConfig(["metrics": ["promote_resource_attributes": ["service.name"]]])).errors == [
                "petrel.yaml: sources.otel.metrics.promote_resource_attributes: applies only with resource_attributes: promote, found target_info"
            ])
    }

    @Test func protocolsAndAddressesMustMakeSense() {
        #expect(
            build(componentConfig(["protocols": []])).errors == [
                "petrel.yaml: sources.otel.protocols: must name at least one of grpc and http"
            ])
        #expect(
            build(componentConfig(["grpc_address": "0.0.0.0:4000", "http_address": "0.0.0.0:4000"])).errors == [
                "petrel.yaml: sources.otel.http_address: must differ from grpc_address (0.0.0.0:4000)"
            ])
        #expect(
            build(
                componentConfig(["grpc_address": "0.0.0.0:4000", "http_address": "0.0.0.0:4000", "protocols": ["grpc"]])
            )
            .errors == [], "one server needs one address")
        #expect(
            build(componentConfig(["protocols": "grpc"])).errors == [
                "petrel.yaml: sources.otel.protocols: expected a list, found a single value"
            ])
    }
}
