import Foundation
import PetrelCodecs
import PetrelCore
import PetrelSources
import PetrelTestSupport
import SwiftProtobuf
import Testing

/// The `otlp` source over OTLP/HTTP on a loopback port: what each kind of request is answered, and what arrives.
@Suite struct OTLPSourceHTTPTests {
    private static let protobuf = "application/x-protobuf"
    private static let json = "application/json"

    @Test func spansArriveAsOneBatchInEveryEncoding() async throws {
        let source = try await RunningOTLPSource()
        let request = OTLPFixtures.traceRequest(spans: 3)
        let expected = OTLPTraceConversion.spanBatch(from: request, dropInvalid: true).batch
        let protobufBody = OTLPFixtures.protobuf(request)
        let jsonBody = OTLPJSON.encode(request)
        let cases: [(name: String, body: [UInt8], contentType: String, encoding: String?)] = [
            ("protobuf", protobufBody, Self.protobuf, nil),
            ("JSON", jsonBody, Self.json, nil),
            ("gzip protobuf", Zlib.compress(protobufBody, format: .gzip), Self.protobuf, "gzip"),
            ("gzip JSON", Zlib.compress(jsonBody, format: .gzip), Self.json, "GZIP"),
            ("JSON with a charset", jsonBody, "application/json; charset=utf-8", nil),
            ("identity encoding", protobufBody, "Application/X-Protobuf", "identity"),
        ]
        for item in cases {
            let response = try #require(
                await source.post(item.body, contentType: item.contentType, encoding: item.encoding), "\(item.name)")
            #expect(response.status == 200, "\(item.name): \(response.text)")
            #expect(response.headers["content-type"] == item.contentType, "\(item.name): the request's type")
            if item.contentType.lowercased().contains("json") {
                #expect(response.text == "{}", "\(item.name): an empty ExportTraceServiceResponse")
            } else {
                #expect(response.body.isEmpty, "\(item.name): an empty ExportTraceServiceResponse")
            }
            guard case .traces(let batch)? = await source.nextBatch() else {
                Issue.record("\(item.name): no span batch was queued")
                continue
            }
            #expect(batch == expected, "\(item.name)")
        }
        #expect(source.telemetry.receivedEvents.value == UInt64(3 * cases.count))
        #expect(source.telemetry.sentEvents.value == UInt64(3 * cases.count))
        let wireBytes = cases.reduce(0) { $0 + $1.body.count }
        #expect(source.telemetry.receivedBytes.value == UInt64(wireBytes), "bytes as they came over the wire")
        #expect(source.telemetry.requestDuration.count == UInt64(cases.count), "one duration per request")
        try await source.stop()
    }

    @Test func logsAndMetricsArriveAsBatches() async throws {
        let source = try await RunningOTLPSource()
        let logs = OTLPFixtures.logsRequest(records: 4)
        #expect(await source.post(OTLPFixtures.protobuf(logs), path: "/v1/logs")?.status == 200)
        guard case .logs(let logBatch)? = await source.nextBatch() else {
            Issue.record("no log batch was queued")
            return
        }
        #expect(logBatch == OTLPLogConversion.logBatch(from: logs))
        #expect(logBatch.records.map(\.message) == (0..<4).map { "order \($0) placed" })

        let metrics = OTLPFixtures.metricsRequest(points: 2)
        let response = try #require(
            await source.post(OTLPJSON.encode(metrics), path: "/v1/metrics", contentType: Self.json))
        #expect(response.status == 200, "\(response.text)")
        #expect(response.text == "{}")
        guard case .metrics(let metricBatch)? = await source.nextBatch() else {
            Issue.record("no metric batch was queued")
            return
        }
        #expect(metricBatch.seriesCount == 2)
        #expect(metricBatch.labelValue(series: 1, name: "queue") == "q1")
        #expect(source.telemetry.receivedEvents.value == 4 + 2)
        try await source.stop()
    }

    @Test func invalidSpansAreDroppedAndReportedAsPartialSuccess() async throws {
        let source = try await RunningOTLPSource()
        // 200 rejected spans make varints of two bytes, which only a byte body carries intact.
        let request = OTLPFixtures.traceRequest(spans: 2, invalid: 200)
        let response = try #require(await source.post(OTLPFixtures.protobuf(request)))
        #expect(response.status == 200, "\(response.text)")
        let decoded = try TraceResponse(serializedBytes: response.body)
        #expect(decoded.partialSuccess.rejectedSpans == 200)
        #expect(!decoded.partialSuccess.errorMessage.isEmpty)
        guard case .traces(let batch)? = await source.nextBatch() else {
            Issue.record("the valid spans were not queued")
            return
        }
        #expect(batch.spanCount == 2)
        #expect(source.telemetry.discardedCount("invalid") == 200)

        let jsonResponse = try #require(await source.post(OTLPJSON.encode(request), contentType: Self.json))
        #expect(jsonResponse.status == 200)
        let decodedJSON = try OTLPJSON.decode(jsonResponse.body, as: TraceResponse.self)
        #expect(decodedJSON.partialSuccess.rejectedSpans == 200)
        _ = await source.nextBatch()
        try await source.stop()
    }

    @Test func aRequestWithNothingValidIsBadData() async throws {
        let source = try await RunningOTLPSource()
        let response = try #require(
            await source.post(OTLPFixtures.protobuf(OTLPFixtures.traceRequest(spans: 0, invalid: 2))))
        #expect(response.status == 400)
        let status = try #require(DecodedStatus(protobuf: response.body))
        #expect(status.code == 3, "INVALID_ARGUMENT")
        #expect(source.queue.count == 0)
        try await source.stop()
    }

    @Test func anEmptyRequestSucceedsWithoutSendingABatch() async throws {
        let source = try await RunningOTLPSource()
        #expect(await source.post([])?.status == 200)
        #expect(await source.post(Array("{}".utf8), path: "/v1/logs", contentType: Self.json)?.status == 200)
        #expect(await source.post([], path: "/v1/metrics")?.status == 200)
        #expect(source.queue.count == 0)
        #expect(source.telemetry.sentEvents.value == 0)
        try await source.stop()
    }

    /// Malformed input of every kind gets a 4xx with a Status body in the request's encoding, and the source keeps
    /// serving.
    @Test func malformedRequestsGetAStatusAndTheSourceKeepsServing() async throws {
        var config = OTLPSourceConfig()
        config.maxMessageSize = 64 * 1024
        let source = try await RunningOTLPSource(config: config)
        let valid = OTLPFixtures.protobuf(OTLPFixtures.traceRequest())
        var lyingSize = Zlib.compress(Array(repeating: 0x0A, count: 200_000), format: .gzip)
        lyingSize.replaceSubrange(lyingSize.count - 4..<lyingSize.count, with: [1, 0, 0, 0])
        let cases: [(name: String, body: [UInt8], type: String, encoding: String?, status: Int, code: Int)] = [
            ("truncated protobuf", Array(valid.dropLast(3)), Self.protobuf, nil, 400, 3),
            ("wrong wire type", [0x0A, 0x01], Self.protobuf, nil, 400, 3),
            ("not JSON", Array("{\"resourceSpans\": [".utf8), Self.json, nil, 400, 3),
            ("JSON of the wrong shape", Array("{\"resourceSpans\": 7}".utf8), Self.json, nil, 400, 3),
            (
                "bad hex trace id", Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#.utf8),
                Self.json, nil, 400, 3
            ),
            ("not gzip", valid, Self.protobuf, "gzip", 400, 3),
            ("truncated gzip", Array(Zlib.compress(valid, format: .gzip).dropLast(5)), Self.protobuf, "gzip", 400, 3),
            ("body over the limit", Array(repeating: 0, count: 64 * 1024 + 1), Self.protobuf, nil, 413, 8),
            (
                "gzip declaring too much", Zlib.compress(Array(repeating: 0, count: 100_000), format: .gzip),
                Self.protobuf, "gzip", 413, 8
            ),
            ("gzip inflating past the limit", lyingSize, Self.json, "gzip", 413, 8),
            ("deflate encoding", valid, Self.protobuf, "deflate", 415, 12),
        ]
        for item in cases {
            let response = try #require(
                await source.post(item.body, contentType: item.type, encoding: item.encoding), "\(item.name)")
            #expect(response.status == item.status, "\(item.name): \(response.text)")
            #expect(response.headers["content-type"] == item.type, "\(item.name)")
            let status =
                item.type == Self.json ? DecodedStatus(json: response.body) : DecodedStatus(protobuf: response.body)
            #expect(status?.code == item.code, "\(item.name): \(response.text)")
            #expect(status?.message.isEmpty == false, "\(item.name): says why")
        }
        #expect(source.queue.count == 0, "nothing malformed went downstream")
        #expect(source.telemetry.errorCount(.receiving) == cases.count)
        #expect(await source.post(valid)?.status == 200, "the source still serves")
        try await source.stop()
    }

    @Test func unsupportedTypesPathsAndMethodsAreRefused() async throws {
        let source = try await RunningOTLPSource()
        let valid = OTLPFixtures.protobuf(OTLPFixtures.traceRequest())
        for contentType in ["text/plain", "application/protobuf", "application/x-protobuf-json", "multipart/form-data"]
        {
            let response = try #require(await source.post(valid, contentType: contentType))
            #expect(response.status == 415, "\(contentType)")
            #expect(response.text.contains("application/x-protobuf or application/json"), "\(contentType)")
        }
        #expect(await source.post(valid, contentType: nil)?.status == 415, "no Content-Type")
        #expect(await source.post(valid, path: "/v1/trace")?.status == 404)
        #expect(await source.post(valid, path: "/v1/traces/")?.status == 404)
        #expect(await source.post(valid, path: "/")?.status == 404)
        let get = try #require(await httpRequest(port: source.httpPort, path: "/v1/traces"))
        #expect(get.status == 405)
        #expect(get.headers["allow"] == "POST")
        #expect(await source.post(valid, path: "/v1/traces?x=1")?.status == 200, "a query string does not matter")
        _ = await source.nextBatch()
        #expect(source.queue.count == 0)
        try await source.stop()
    }

    @Test func fullPipelineAnswers429WithRetryAfter() async throws {
        var config = OTLPSourceConfig()
        config.retryAfter = .milliseconds(2500)
        let source = try await RunningOTLPSource(config: config, queueCapacity: 1)
        let body = OTLPFixtures.protobuf(OTLPFixtures.traceRequest())
        #expect(await source.post(body)?.status == 200)
        for (type, payload) in [(Self.protobuf, body), (Self.json, OTLPJSON.encode(OTLPFixtures.traceRequest()))] {
            let busy = try #require(await source.post(payload, contentType: type))
            #expect(busy.status == 429)
            #expect(busy.headers["retry-after"] == "3", "whole seconds, rounded up")
            let status = type == Self.json ? DecodedStatus(json: busy.body) : DecodedStatus(protobuf: busy.body)
            #expect(status?.code == 8, "RESOURCE_EXHAUSTED")
            #expect(status?.retryInfo == true)
        }
        #expect(source.telemetry.errorCount(.sending) == 2)
        _ = await source.queue.nextBatch()
        #expect(await source.post(body)?.status == 200, "accepted again once there is room")
        #expect(source.queue.count == 1, "the refused requests were not queued")
        try await source.stop()
    }

    @Test func randomBodiesNeverCrashTheSource() async throws {
        let source = try await RunningOTLPSource()
        var random = SeededRandom(seed: 7)
        let valid = OTLPFixtures.protobuf(OTLPFixtures.traceRequest(spans: 10))
        let validJSON = OTLPJSON.encode(OTLPFixtures.traceRequest(spans: 3))
        for round in 0..<200 {
            var body = round.isMultiple(of: 2) ? valid : validJSON
            for _ in 0..<(1 + round % 6) {
                body[Int(random.next() % UInt64(body.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            if round % 3 == 0 { body = Array(body.prefix(Int(random.next() % UInt64(body.count)))) }
            let type = round.isMultiple(of: 2) ? Self.protobuf : Self.json
            let response = try #require(await source.post(body, contentType: type))
            #expect([200, 400].contains(response.status), "round \(round): \(response.status) \(response.text)")
            while source.queue.count > 0 { _ = await source.queue.nextBatch() }
        }
        #expect(await source.post(valid)?.status == 200)
        try await source.stop()
    }
}

extension ComponentTelemetry {
    /// The errors counted at `stage`, as `/metrics` shows them.
    func errorCount(_ stage: ErrorStage) -> Int {
        let labels = [
            ("component_id", id), ("component_kind", kind.rawValue), ("component_type", type),
            ("stage", stage.rawValue),
        ]
        return Int(registry.value("petrel_component_errors_total", labels: labels) ?? 0)
    }

    /// The events discarded for `reason`.
    func discardedCount(_ reason: String) -> Int {
        let labels = [
            ("component_id", id), ("component_kind", kind.rawValue), ("component_type", type), ("reason", reason),
        ]
        return Int(registry.value("petrel_component_discarded_events_total", labels: labels) ?? 0)
    }
}
