import PetrelCore
import PetrelNet
import Testing

@testable import PetrelSinks

/// Reading the `otlp` sink's settings, and the pieces of the sink that need no receiver.
@Suite struct OTLPSinkConfigTests {
    private func build(_ node: ConfigNode) -> (config: OTLPSinkConfig?, accepts: SignalSet?, errors: [String]) {
        let outcome = buildComponent(OTLPSink.definition, at: "sinks.tempo", node)
        guard case .sink(let sink as OTLPSink, let accepts)? = outcome.built else { return (nil, nil, outcome.errors) }
        return (sink.config, accepts, outcome.errors)
    }

    @Test func defaultsFollowTheCollectorAndTheOTelExporters() throws {
        let (config, accepts, errors) = build(componentConfig(["endpoint": "http://tempo:4317"]))
        #expect(errors == [])
        let built = try #require(config)
        #expect(accepts == [.traces, .logs])
        #expect(built.endpoint == HTTPEndpoint(host: "tempo", port: 4317, target: "/"))
        #expect(built.transport == .grpc)
        #expect(built.request.compression == .gzip)
        #expect(built.request.maxEvents == 8192)
        #expect(built.request.maxBytes == 4 * 1024 * 1024)
        #expect(built.request.maxAge == .milliseconds(200))
        #expect(built.request.concurrency == 4)
        #expect(built.request.timeout == .seconds(10))
        #expect(built.request.initialBackoff == .seconds(5))
        #expect(built.request.maxBackoff == .seconds(30))
        #expect(built.request.headers.isEmpty && built.request.bearerTokenFile == nil)
    }

    @Test func readsEverySetting() throws {
        let (config, _, errors) = build(
            componentConfig([
                "endpoint": "http://tempo:4318/otlp", "protocol": "http", "compression": "none",
                "headers": ["X-Scope-OrgID": "tenant-a"],
                "batch": ["max_events": 100, "max_bytes": "1MiB", "max_age": "1s"], "concurrency": 2,
                "timeout": "3s", "retry": ["initial_backoff": "100ms", "max_backoff": "2s"],
            ]))
        #expect(errors == [])
        let built = try #require(config)
        #expect(built.transport == .http)
        #expect(built.request.compression == .none)
        #expect(
            built.request.headers.map(\.name) == ["X-Scope-OrgID"] && built.request.headers.map(\.value) == ["tenant-a"]
        )
        #expect(
            built.request.maxEvents == 100 && built.request.maxBytes == 1 << 20 && built.request.maxAge == .seconds(1))
        #expect(built.request.concurrency == 2 && built.request.timeout == .seconds(3))
        #expect(built.request.initialBackoff == .milliseconds(100) && built.request.maxBackoff == .seconds(2))
        #expect(built.httpEndpoint(for: .traces).description == "http://tempo:4318/otlp/v1/traces")
        #expect(built.httpEndpoint(for: .logs).description == "http://tempo:4318/otlp/v1/logs")
    }

    @Test func httpPathsAppendToTheBaseURL() throws {
        let bare = OTLPSinkConfig(endpoint: try HTTPEndpoint.parse("http://otel:4318").get(), transport: .http)
        #expect(bare.httpEndpoint(for: .traces).target == "/v1/traces")
        let slashed = OTLPSinkConfig(endpoint: try HTTPEndpoint.parse("http://otel:4318/base/").get(), transport: .http)
        #expect(slashed.httpEndpoint(for: .logs).target == "/base/v1/logs")
    }

    @Test func errorsNameTheKey() {
        let (_, _, errors) = build(
            componentConfig([
                "protocol": "udp", "compression": "zstd", "batch": ["max_events": 0, "max_spans": 5],
                "retry": ["initial_backoff": "soon"], "concurrency": 0, "timeout": "0s", "endpoints": ["x"],
            ]))
        #expect(
            errors.sorted() == [
                "petrel.yaml: sinks.tempo.batch.max_events: must be between 1 and 10000000, found 0",
                "petrel.yaml: sinks.tempo.batch.max_spans: unknown key",
                "petrel.yaml: sinks.tempo.compression: expected one of gzip, none, found \"zstd\"",
                "petrel.yaml: sinks.tempo.concurrency: must be between 1 and 1024, found 0",
                "petrel.yaml: sinks.tempo.endpoint: is required",
                "petrel.yaml: sinks.tempo.endpoints: unknown key; did you mean \"endpoint\"?",
                "petrel.yaml: sinks.tempo.protocol: expected one of grpc, http, found \"udp\"",
                "petrel.yaml: sinks.tempo.retry.initial_backoff: expected a duration such as 500ms, 30s, 5m or 1h, found \"soon\"",
                "petrel.yaml: sinks.tempo.timeout: must be longer than zero",
            ], "\(errors.sorted())")
    }

    @Test func endpointProblemsAreReported() {
        let withPath = build(componentConfig(["endpoint": "http://tempo:4317/v1/traces"])).errors
        #expect(withPath.first?.contains("sinks.tempo.endpoint: a gRPC endpoint is a host and port") == true)
        let tls = build(componentConfig(["endpoint": "https://tempo:4317", "tls": ["ca_file": "/nonexistent/ca.crt"]]))
            .errors
        #expect(
            tls.first?.contains("sinks.tempo.tls.ca_file: cannot read PEM certificates from /nonexistent/ca.crt")
                == true)
        let half = build(componentConfig(["endpoint": "https://tempo:4317", "tls": ["crt_file": "/tmp/client.crt"]]))
            .errors
        #expect(
            half == [
                "petrel.yaml: sinks.tempo.tls.key_file: crt_file and key_file go together: a client certificate needs its key"
            ])
        let backoff = build(
            componentConfig([
                "endpoint": "http://tempo:4317", "retry": ["initial_backoff": "10s", "max_backoff": "1s"],
            ])
        ).errors
        #expect(backoff == ["petrel.yaml: sinks.tempo.retry.max_backoff: must not be shorter than initial_backoff"])
        let token = build(componentConfig(["endpoint": "http://tempo:4317", "bearer_token_file": "/nonexistent/t"]))
        #expect(token.errors == ["petrel.yaml: sinks.tempo.bearer_token_file: cannot read /nonexistent/t"])
    }
}
