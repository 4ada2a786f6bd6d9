import Foundation
import PetrelTestSupport
import Testing

/// Log lines over HTTP, `log_to_metric`, remote-write out, into a real VictoriaMetrics: the series a user queries.
@Suite(.serialized) struct LogToMetricToVictoriaMetricsTests {
    @Test func countersAndHistogramsFromLogLinesLandWithTheirLabelsAndRunningTotals() async throws {
        let vm = VictoriaMetrics()
        try await vm.start()
        let pipeline = try RunningPipeline { port in
            """
            api: { enabled: false }
            sources:
              app: { type: http_server, address: "127.0.0.1:\(port)", codec: ndjson }
            transforms:
              requests:
                type: log_to_metric
                inputs: [app]
                flush_interval: 100ms
                metrics:
                  - type: counter
                    field: status
                    name: requests_total
                    namespace: web
                    tags: { status: "{{ fields.status }}", method: "{{ fields.method }}" }
                  - type: counter
                    field: bytes
                    name: web_response_bytes_total
                    increment_by_value: true
                  - type: histogram
                    field: duration
                    name: web_request_duration_seconds
                    buckets: [0.1, 1]
            sinks:
              vm:
                type: prometheus_remote_write
                inputs: [requests]
                endpoints: ["\(vm.writeURL)"]
                batch: { max_age: 50ms }
            """
        }
        try await pipeline.start()
        let requests: [(method: String, status: Int, bytes: Int, duration: Double)] = [
            ("GET", 200, 100, 0.05), ("GET", 200, 250, 0.5), ("POST", 500, 10, 2), ("GET", 404, 0, 0.1),
            ("GET", 200, 40, 0.02),
        ]
        // Two requests, so that some series are flushed between them and keep counting after.
        for part in [requests[..<2], requests[2...]] {
            let body = part.map {
                #"{"message":"\#($0.method) /","method":"\#($0.method)","status":\#($0.status),"bytes":\#($0.bytes),"duration":\#($0.duration)}"#
            }.joined(separator: "\n")
            let response = await httpRequest(
                port: pipeline.sourcePort, method: "POST", path: "/", body: Array(body.utf8))
            #expect(response?.status == 200)
            try await Task.sleep(for: .milliseconds(300))
        }
        try await pipeline.stop()
        // VictoriaMetrics makes freshly written samples searchable within a few seconds, not at once.
        var exported = try await vm.export(#"{__name__=~"web_.+"}"#)
        let deadline = ContinuousClock.now + .seconds(30)
        while exported.first(where: { $0.labels["__name__"] == "web_request_duration_seconds_count" })?.values.last
            != 5, ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(500))
            exported = try await vm.export(#"{__name__=~"web_.+"}"#)
        }
        func series(_ labels: [String: String]) -> PetrelTestSupport.VictoriaMetrics.ExportedSeries? {
            exported.first { $0.labels == labels }
        }
        #expect(exported.count == 3 + 1 + 5, "\(exported.map(\.labels))")
        let ok = try #require(series(["__name__": "web_requests_total", "method": "GET", "status": "200"]))
        #expect(ok.values.first == 0, "a new counter starts from 0, so increase() counts its first requests")
        #expect(ok.values.last == 3)
        #expect(zip(ok.values, ok.values.dropFirst()).allSatisfy { $0 <= $1 }, "monotonic: \(ok.values)")
        #expect(series(["__name__": "web_requests_total", "method": "POST", "status": "500"])?.values.last == 1)
        #expect(series(["__name__": "web_requests_total", "method": "GET", "status": "404"])?.values.last == 1)
        #expect(series(["__name__": "web_response_bytes_total"])?.values.last == 400)
        let buckets = [("0.1", 3.0), ("1", 4.0), ("+Inf", 5.0)].map { le, count in
            (series(["__name__": "web_request_duration_seconds_bucket", "le": le])?.values.last, count)
        }
        for (value, count) in buckets { #expect(value == count) }
        #expect(series(["__name__": "web_request_duration_seconds_count"])?.values.last == 5)
        let sum = try #require(series(["__name__": "web_request_duration_seconds_sum"])?.values.last)
        #expect(abs(sum - 2.67) < 1e-9)
        await vm.stop()
    }
}
