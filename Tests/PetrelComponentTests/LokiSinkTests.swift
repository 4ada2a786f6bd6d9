import Logging
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Testing

@testable import PetrelSinks

/// The `loki` sink against a receiver that holds to Loki's push API and its refusals: every record stored once in
/// the right stream, 429 and 5xx retried, a 400 never retried (Loki stored the rest) and its refusals counted by
/// reason.
@Suite struct LokiSinkTests {
    private static func config(_ receiver: LokiReceiver, encoding: LokiSinkConfig.Encoding = .protobuf) throws
        -> LokiSinkConfig
    {
        var config = LokiSinkConfig(
            endpoint: try HTTPEndpoint.parse(receiver.baseURL).get(),
            labels: [
                LokiSinkConfig.Label(
                    name: "namespace", value: try LogTemplate.parse("{{ resource.k8s.namespace.name }}").get()),
                LokiSinkConfig.Label(name: "app", value: try LogTemplate.parse("{{ fields.app }}").get()),
            ])
        config.structuredMetadata = [
            LokiSinkConfig.Label(name: "pod", value: try LogTemplate.parse("{{ resource.k8s.pod.name }}").get())
        ]
        config.encoding = encoding
        config.tenantID = "team-a"
        config.request.initialBackoff = .milliseconds(20)
        config.request.maxBackoff = .milliseconds(100)
        config.request.maxAge = .milliseconds(50)
        return config
    }

    private static func records(_ count: Int, from first: Int = 0, at time: Int64 = WallClock.nowNanoseconds())
        -> [LogRecord]
    {
        (first..<first + count).map { index in
            LogRecord(
                timestamp: time + Int64(index), message: "line \(index)", fields: ["app": .string("app-\(index % 2)")],
                resource: [
                    Attribute("k8s.namespace.name", .string("ns-\(index % 3)")),
                    Attribute("k8s.pod.name", .string("pod-\(index)")),
                ])
        }
    }

    private func run(_ config: LokiSinkConfig, _ batches: [[LogRecord]]) async throws -> ComponentTelemetry {
        let queue = BatchQueue(capacity: max(batches.count, 1), producers: 1)
        for batch in batches { try await queue.send(.logs(LogBatch(records: batch))) }
        queue.producerFinished()
        let telemetry = componentTestTelemetry(id: "loki", type: "loki", kind: .sink)
        try await LokiSink(config: config).run(
            SinkInput(queue: queue, telemetry: telemetry),
            SinkContext(id: "loki", telemetry: telemetry, logger: Logger(label: "test")))
        return telemetry
    }

    private func expectStoredOnce(_ receiver: LokiReceiver, _ count: Int) {
        let stored = receiver.stored
        #expect(stored.count == count)
        #expect(Set(stored.map(\.line)).count == stored.count, "no line twice")
        for entry in stored {
            let index = Int(entry.line.dropFirst("line ".count))!
            #expect(entry.labels == ["namespace": "ns-\(index % 3)", "app": "app-\(index % 2)"], "\(entry.line)")
            #expect(entry.structuredMetadata == ["pod": "pod-\(index)"])
        }
        #expect(receiver.duplicatesDropped == 0 && receiver.unsortedStreams == 0 && receiver.emptyStreams == 0)
    }

    @Test(arguments: [LokiSinkConfig.Encoding.protobuf, .json])
    func everyRecordIsStoredOnceInItsStream(encoding: LokiSinkConfig.Encoding) async throws {
        let receiver = try LokiReceiver()
        var config = try Self.config(receiver, encoding: encoding)
        if encoding == .json { config.request.compression = .gzip }
        let telemetry = try await run(config, [Self.records(500), Self.records(500, from: 500)])
        await receiver.stop()
        expectStoredOnce(receiver, 1000)
        let pushes = receiver.pushes
        #expect(pushes.allSatisfy { $0.status == 204 && $0.tenant == "team-a" })
        #expect(
            pushes.allSatisfy {
                encoding == .protobuf
                    ? $0.contentType == "application/x-protobuf" && $0.contentEncoding == nil
                    : $0.contentType == "application/json" && $0.contentEncoding == "gzip"
            })
        #expect(telemetry.sentEvents.value == 1000)
        #expect(telemetry.discardedEvents == 0)
    }

    @Test func a429ThenSuccessDeliversEverythingOnce() async throws {
        let receiver = try LokiReceiver()
        receiver.script([
            .init(status: 429, body: "Ingestion rate limit exceeded for user team-a", retryAfter: "0"),
            .init(status: 429, body: "Ingestion rate limit exceeded for user team-a"),
            .init(status: 503, body: "no healthy ingesters"),
        ])
        let telemetry = try await run(try Self.config(receiver), [Self.records(300)])
        await receiver.stop()
        expectStoredOnce(receiver, 300)
        #expect(receiver.pushes.map(\.status).prefix(3) == [429, 429, 503])
        #expect(telemetry.discardedEvents == 0)
        #expect(telemetry.sentEvents.value == 300)
        #expect(
            telemetry.registry.value(
                "petrel_loki_retries_total", labels: [("component_id", "loki"), ("endpoint", receiver.baseURL + "/")])
                == 3)
    }

    /// Loki stores the valid entries and answers 400 naming the others: the sink must not send the push again (the
    /// stored entries would be stored twice), and counts the refused ones by reason.
    @Test func a400ForSomeEntriesDeliversTheRestAndCountsTheRefusals() async throws {
        var limits = LokiReceiver.Limits()
        limits.maxLineSize = 100
        let receiver = try LokiReceiver(limits: limits)
        var config = try Self.config(receiver)
        config.request.maxAge = .seconds(5)
        let now = WallClock.nowNanoseconds()
        var batch = Self.records(20, at: now)
        let eightDays: Int64 = 8 * 86_400 * 1_000_000_000
        batch[3].timestamp = now - eightDays
        batch[7].timestamp = now - eightDays - 1
        batch[11].message = "line 11 " + String(repeating: "x", count: 200)
        let telemetry = try await run(config, [batch])
        await receiver.stop()
        #expect(receiver.pushes.map(\.status) == [400], "one push, not retried")
        let stored = receiver.stored.map(\.line)
        #expect(stored.count == 17)
        #expect(Set(stored) == Set((0..<20).filter { ![3, 7, 11].contains($0) }.map { "line \($0)" }))
        #expect(receiver.refused.count == 3)
        let registry = telemetry.registry
        #expect(
            registry.value(
                "petrel_loki_rejected_entries_total", labels: [("component_id", "loki"), ("reason", "too_old")]) == 2)
        #expect(
            registry.value(
                "petrel_loki_rejected_entries_total", labels: [("component_id", "loki"), ("reason", "line_too_long")])
                == 1)
        #expect(telemetry.discardedEvents == 3)
        #expect(telemetry.sentEvents.value == 17)
    }

    @Test func aPushLokiRefusesWholeIsDroppedNotRetried() async throws {
        var limits = LokiReceiver.Limits()
        limits.maxLineSize = 5
        let receiver = try LokiReceiver(limits: limits)
        let telemetry = try await run(try Self.config(receiver), [Self.records(4)])
        await receiver.stop()
        #expect(receiver.pushes.map(\.status) == [400])
        #expect(receiver.stored.isEmpty)
        #expect(telemetry.discardedEvents == 4)
        #expect(
            telemetry.registry.value(
                "petrel_component_discarded_events_total",
                labels: [
                    ("component_id", "loki"), ("component_kind", "sink"), ("component_type", "loki"),
                    ("reason", "http_400"),
                ])
                == 4)
    }

    /// What a published client sends (python-logging-loki 0.3.1's bodies, captured from the real library), so the
    /// receiver is known to take what Loki takes from others too.
    @Test func theReceiverTakesAPublishedClientsPayload() async throws {
        let receiver = try LokiReceiver()
        let now = WallClock.nowNanoseconds()
        let captured = [
            #"{"streams": [{"stream": {"application": "shop-api", "severity": "error", "logger": "capture", "service": "payments"}, "values": [["1796608134956561920", "payment \"declined\" for order 42"]]}]}"#,
            #"{"streams": [{"stream": {"application": "shop-api", "severity": "warning", "logger": "capture"}, "values": [["1796608134960524800", "retrying\nsecond line"]]}]}"#,
        ].map {
            // The capture's times, moved to now so that they are not too old for the receiver.
            $0.replacingOccurrences(of: "1796608134956561920", with: "\(now)")
                .replacingOccurrences(of: "1796608134960524800", with: "\(now + 1)")
        }
        for body in captured {
            let answer = receiver.handle(
                method: "POST", path: "/loki/api/v1/push", headers: ["content-type": "application/json"],
                body: Array(body.utf8))
            #expect(answer.status == 204, "\(answer.body)")
        }
        #expect(receiver.stored.map(\.line) == ["payment \"declined\" for order 42", "retrying\nsecond line"])
        #expect(
            receiver.stored.first?.labels
                == ["application": "shop-api", "severity": "error", "logger": "capture", "service": "payments"])
        await receiver.stop()
    }

    @Test func theReceiverRefusesWhatLokiRefuses() async throws {
        let receiver = try LokiReceiver()
        let now = WallClock.nowNanoseconds()
        func push(_ streams: [LokiStream]) -> (status: Int, body: String) {
            let answer = receiver.handle(
                method: "POST", path: "/loki/api/v1/push", headers: ["content-type": "application/x-protobuf"],
                body: Snappy.compress(LokiPushEncoder.protobuf(streams)))
            return (answer.status, answer.body)
        }
        func stream(_ labels: String, _ times: [Int64]) -> LokiStream {
            LokiStream(
                labels: [], labelText: labels,
                entries: times.map { LokiEntry(timestamp: $0, line: "at \($0)", structuredMetadata: []) })
        }
        #expect(push([stream(#"{app="a"}"#, [now])]).status == 204)
        for bad in [#"{app="a}"#, #"{9app="a"}"#, #"{app=a}"#, "{}", #"{app="a", app="b"}"#, #"app="a""#] {
            let answer = push([stream(bad, [now + 1])])
            #expect(answer.status == 400, "\(bad)")
        }
        let hourAndMore: Int64 = 3_601 * 1_000_000_000
        let behind = push([stream(#"{app="a"}"#, [now - hourAndMore, now + 2])])
        #expect(behind.status == 400 && behind.body.contains("entry too far behind"), "\(behind.body)")
        #expect(push([stream(#"{app="a"}"#, [now + 3_600 * 1_000_000_000])]).body.contains("too new"))
        #expect(push([stream(#"{app="a"}"#, [])]).status == 204)
        #expect(receiver.emptyStreams == 1)
        // Not snappy, truncated protobuf: the whole push is refused.
        let raw = receiver.handle(
            method: "POST", path: "/loki/api/v1/push", headers: [:],
            body: LokiPushEncoder.protobuf([stream(#"{a="b"}"#, [now])]))
        #expect(raw.status == 400)
        var truncated = LokiPushEncoder.protobuf([stream(#"{a="b"}"#, [now])])
        truncated.removeLast(3)
        #expect(
            receiver.handle(method: "POST", path: "/loki/api/v1/push", headers: [:], body: Snappy.compress(truncated))
                .status == 400)
        #expect(
            receiver.handle(
                method: "POST", path: "/loki/api/v1/push", headers: ["content-type": "application/json"],
                body: Array(#"{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}"#.utf8)
            ).status == 400, "a number as the timestamp")
        #expect(receiver.stored.map(\.line) == ["at \(now)", "at \(now + 2)"])
        await receiver.stop()
    }

    /// The receiver's HTTP reading, fed one byte per write, and two pushes on one keep-alive connection.
    @Test func theReceiverReadsAPushSentByteAtATime() async throws {
        let receiver = try LokiReceiver()
        let now = WallClock.nowNanoseconds()
        let body = Snappy.compress(
            LokiPushEncoder.protobuf([
                LokiStream(
                    labels: [], labelText: #"{app="a"}"#,
                    entries: [LokiEntry(timestamp: now, line: "one byte at a time", structuredMetadata: [])])
            ]))
        let request =
            Array(
                rawRequestHead(
                    "POST", "/loki/api/v1/push",
                    ["Content-Type": "application/x-protobuf", "Content-Length": "\(body.count)"]
                ).utf8) + body
        let statuses = await offload { () -> [Int] in
            guard let connection = RawConnection(port: receiver.port) else { return [] }
            defer { connection.close() }
            var statuses: [Int] = []
            for _ in 0..<2 {
                for byte in request { _ = connection.send([byte]) }
                statuses.append(connection.readResponse(timeout: .seconds(10))?.status ?? 0)
            }
            return statuses
        }
        await receiver.stop()
        #expect(statuses == [204, 204])
        #expect(receiver.stored.map(\.line) == ["one byte at a time"])
        #expect(receiver.duplicatesDropped == 1, "the same entry again is dropped silently, as Loki does")
    }
}
