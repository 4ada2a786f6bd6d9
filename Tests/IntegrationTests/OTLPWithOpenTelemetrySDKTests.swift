import Foundation
import PetrelCore
import PetrelTestSupport
import Testing

/// Spans and metrics exported by the OpenTelemetry Python SDK, through Petrel, to a receiver.
@Suite(.serialized) struct OTLPWithOpenTelemetrySDKTests {
    private func hex(_ id: SpanID) -> String { id.description }

    /// SDK → Petrel (otlp source, tag, otlp sink) → a second Petrel's otlp source: every span once, intact.
    @Test(arguments: [("grpc", "grpc"), ("http", "http"), ("grpc", "http"), ("http", "grpc")])
    func spansArriveExactlyOnceWithTagAttributes(sdkProtocol: String, sinkProtocol: String) async throws {
        let receiverGRPC = freePort()
        let receiverHTTP = freePort()
        let receiver = try CapturePipeline(
            """
            api: { enabled: false }
            sources:
              otlp: { type: otlp, grpc_address: "127.0.0.1:\(receiverGRPC)", http_address: "127.0.0.1:\(receiverHTTP)" }
            sinks:
              spans: { type: capture, inputs: [otlp] }
            """)
        try await receiver.start()
        let edgeGRPC = freePort()
        let edgeHTTP = freePort()
        let receiverEndpoint =
            sinkProtocol == "grpc" ? "http://127.0.0.1:\(receiverGRPC)" : "http://127.0.0.1:\(receiverHTTP)"
        let edge = try CapturePipeline(
            """
            api: { enabled: false }
            sources:
              otlp: { type: otlp, grpc_address: "127.0.0.1:\(edgeGRPC)", http_address: "127.0.0.1:\(edgeHTTP)" }
            transforms:
              tag:
                type: tag
                inputs: [otlp]
                labels: { cloud: gcp, region: europe-west4, cluster: gke-prod, node: node-17 }
            sinks:
              forward:
                type: otlp
                inputs: [tag]
                protocol: \(sinkProtocol)
                endpoint: "\(receiverEndpoint)"
                batch: { max_age: 20ms }
                retry: { initial_backoff: 50ms, max_backoff: 200ms }
            """)
        try await edge.start()

        let endpoint = sdkProtocol == "grpc" ? "127.0.0.1:\(edgeGRPC)" : "http://127.0.0.1:\(edgeHTTP)"
        let sent = try await OpenTelemetrySDK.exportSpans(protocol: sdkProtocol, endpoint: endpoint, traces: 30)
        try await edge.stop()
        try await receiver.stop()

        #expect(sent.count == 60)
        let received = receiver.sink.spans
        #expect(received.count == sent.count, "every span exactly once")
        let byID = Dictionary(grouping: received, by: { $0.span.spanID.description })
        for expected in sent {
            let matches = byID[expected.spanID] ?? []
            #expect(matches.count == 1, "span \(expected.spanID) arrived \(matches.count) times")
            guard let (resource, span) = matches.first else { continue }
            #expect(span.traceID.description == expected.traceID)
            #expect((span.parentSpanID == .none ? "" : span.parentSpanID.description) == expected.parentSpanID)
            #expect(span.name == expected.name)
            #expect("\(span.kind)" == expected.kind)
            #expect(span.startTimeUnixNano == expected.start && span.endTimeUnixNano == expected.end)
            #expect(span.events.map(\.name) == expected.events.map(\.name))
            #expect(span.events.map(\.timeUnixNano) == expected.events.map(\.time))
            #expect(span.links.map { $0.spanID.description } == expected.links.map(\.spanID))
            #expect(span.links.map { $0.traceID.description } == expected.links.map(\.traceID))
            #expect("\(span.status.code)" == expected.status)
            #expect(span.status.message == expected.statusMessage)
            #expect(resource.attributes["service.name"] == .string("checkout"))
            #expect(resource.attributes["cloud.provider"] == .string("gcp"))
            #expect(resource.attributes["cloud.region"] == .string("europe-west4"))
            #expect(resource.attributes["k8s.cluster.name"] == .string("gke-prod"))
            #expect(resource.attributes["k8s.node.name"] == .string("node-17"))
            if expected.name == "POST /orders" {
                #expect(span.attributes["http.request.method"] == .string("POST"))
                #expect(span.attributes["order.tags"] == .array([.string("a"), .string("b")]))
                #expect(span.events.first.map { $0.attributes["ok"] } == .bool(true))
            } else {
                #expect(span.attributes["db.rows"] == .double(2.5))
            }
        }
    }

    /// SDK spans → span_metrics → remote-write → VictoriaMetrics: the RED counts match the spans sent.
    @Test func spanMetricsFromSDKSpansLandInVictoriaMetrics() async throws {
        let vm = VictoriaMetrics()
        try await vm.start()
        let grpcPort = freePort()
        let httpPort = freePort()
        let pipeline = try CapturePipeline(
            """
            api: { enabled: false }
            sources:
              otlp: { type: otlp, grpc_address: "127.0.0.1:\(grpcPort)", http_address: "127.0.0.1:\(httpPort)" }
            transforms:
              red: { type: span_metrics, inputs: [otlp] }
            sinks:
              vm: { type: prometheus_remote_write, inputs: [red], endpoints: ["\(vm.writeURL)"], batch: { max_age: 20ms } }
            """)
        try await pipeline.start()
        let sent = try await OpenTelemetrySDK.exportSpans(
            protocol: "grpc", endpoint: "127.0.0.1:\(grpcPort)", traces: 30)
        try await pipeline.stop()

        func latest(_ selector: String) async throws -> Double? {
            for _ in 0..<50 {
                if let value = try await vm.export(selector).first?.values.last { return value }
                try await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }
        let errors = sent.filter { $0.name == "POST /orders" && $0.status == "error" }.count
        let servers = sent.filter { $0.name == "POST /orders" }.count
        let clients = sent.filter { $0.name == "SELECT stock" }.count
        #expect(errors == 10 && servers == 30 && clients == 30)
        let serverErrors =
            #"traces_spanmetrics_calls_total{service="checkout",span_name="POST /orders",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR"}"#
        #expect(try await latest(serverErrors) == Double(errors))
        let serverOK =
            #"traces_spanmetrics_calls_total{service="checkout",span_name="POST /orders",status_code="STATUS_CODE_UNSET"}"#
        #expect(try await latest(serverOK) == Double(servers - errors))
        let client = #"traces_spanmetrics_calls_total{span_name="SELECT stock",span_kind="SPAN_KIND_CLIENT"}"#
        #expect(try await latest(client) == Double(clients))
        let count = #"traces_spanmetrics_latency_count{span_name="SELECT stock"}"#
        #expect(try await latest(count) == Double(clients))
        let infinity = #"traces_spanmetrics_latency_bucket{span_name="SELECT stock",le="+Inf"}"#
        #expect(try await latest(infinity) == Double(clients))
    }

    /// SDK metrics → Petrel's otlp source → remote-write → VictoriaMetrics, under Prometheus names.
    @Test func sdkMetricsLandInVictoriaMetricsUnderPrometheusNames() async throws {
        let vm = VictoriaMetrics()
        try await vm.start()
        let grpcPort = freePort()
        let httpPort = freePort()
        let pipeline = try CapturePipeline(
            """
            api: { enabled: false }
            sources:
              otlp: { type: otlp, grpc_address: "127.0.0.1:\(grpcPort)", http_address: "127.0.0.1:\(httpPort)" }
            sinks:
              vm: { type: prometheus_remote_write, inputs: [otlp], endpoints: ["\(vm.writeURL)"], batch: { max_age: 20ms } }
            """)
        try await pipeline.start()
        _ = try await OpenTelemetrySDK.run("export_metrics.py", ["http", "http://127.0.0.1:\(httpPort)"])
        try await pipeline.stop()

        // Freshly written series can take a moment to become searchable in VictoriaMetrics.
        func value(_ selector: String) async throws -> Double? {
            for _ in 0..<50 {
                if let value = try await vm.export(selector).first?.values.last { return value }
                try await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }
        let ok =
            #"http_server_requests_total{http_route="/orders",http_response_status_code="200",job="checkout",instance="pod-7"}"#
        #expect(try await value(ok) == 3)
        let failed = #"http_server_requests_total{http_response_status_code="500"}"#
        #expect(try await value(failed) == 1)
        #expect(try await value(#"http_server_request_duration_seconds_bucket{le="0.1"}"#) == 1)
        #expect(try await value(#"http_server_request_duration_seconds_bucket{le="0.5"}"#) == 2)
        #expect(try await value(#"http_server_request_duration_seconds_bucket{le="1"}"#) == 3)
        #expect(try await value(#"http_server_request_duration_seconds_bucket{le="+Inf"}"#) == 4)
        #expect(try await value("http_server_request_duration_seconds_count") == 4)
        let sum = try #require(try await value("http_server_request_duration_seconds_sum"))
        #expect(abs(sum - 2.95) < 1e-9)
        #expect(try await value("http_server_active_requests") == 3, "an up-down counter is a gauge, no _total")
        #expect(try await value(#"process_memory_usage_bytes{kind="rss"}"#) == 1_048_576)
        _ = try await value("target_info")
        let targetInfo = try #require(try await vm.export("target_info").first)
        #expect(targetInfo.labels["cloud_region"] == "eu-west-1")
        #expect(targetInfo.labels["job"] == "checkout")
        #expect(targetInfo.labels["instance"] == "pod-7")
    }
}
