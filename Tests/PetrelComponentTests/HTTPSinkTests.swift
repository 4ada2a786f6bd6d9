import Logging
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelSinks
import PetrelTestSupport
import Synchronization
import Testing

/// The `http` sink against a scripted receiver (429, 503, 400 and 501 on demand): what arrives, in which encoding,
/// how often, and when input batches are let go.
@Suite struct HTTPSinkTests {
    typealias Receiver = OTLPSinkHTTPTests.ScriptedReceiver

    /// `count` records with every kind of field, numbered from `first`.
    static func records(_ count: Int, first: Int = 0) -> LogBatch {
        LogBatch(
            records: (first..<first + count).map { index in
                LogRecord(
                    timestamp: 1_765_069_323_000_000_000 + Int64(index), message: "event \(index) \"quoted\"\nsecond",
                    severity: index.isMultiple(of: 2) ? "INFO" : "",
                    fields: [
                        "index": .int(Int64(index)), "ratio": .double(Double(index) / 4), "ok": .bool(true),
                        "none": .null, "tags": .array([.string("a"), .int(1)]),
                        "nested": .object(["deep": .string("é€")]),
                    ],
                    metadata: ["source_type": "test", "file": "/var/log/\(index).log"],
                    resource: [
                        Attribute("k8s.cluster.name", .string("eu-1")), Attribute("service.name", .string("shop")),
                    ])
            })
    }

    private func config(_ receiver: Receiver, path: String = "/ingest?tenant=a") throws -> HTTPSinkConfig {
        var config = HTTPSinkConfig(uri: try HTTPEndpoint.parse(receiver.url + path).get())
        config.request.maxAge = .milliseconds(10)
        config.request.initialBackoff = .milliseconds(10)
        config.request.maxBackoff = .milliseconds(50)
        return config
    }

    /// Runs the sink over `batches` until it has delivered or dropped everything; each batch's acknowledgement
    /// records how many requests the receiver had seen when it came.
    private func run(
        _ config: HTTPSinkConfig, _ batches: [LogBatch], receiver: Receiver? = nil
    ) async throws -> (telemetry: ComponentTelemetry, acknowledgedAfter: [Int]) {
        let acknowledgedAfter = Mutex<[Int]>([])
        let queue = BatchQueue(capacity: max(batches.count, 1), producers: 1)
        for batch in batches {
            let acknowledgement = Acknowledgement {
                let seen = receiver?.requests.count ?? 0
                acknowledgedAfter.withLock { $0.append(seen) }
            }
            try await queue.send(Envelope(.logs(batch), acknowledgement: acknowledgement))
        }
        queue.producerFinished()
        let telemetry = componentTestTelemetry(id: "out", type: "http", kind: .sink)
        try await HTTPSink(config: config).run(
            SinkInput(queue: queue, telemetry: telemetry),
            SinkContext(id: "out", telemetry: telemetry, logger: Logger(label: "test")))
        return (telemetry, acknowledgedAfter.withLock { $0 })
    }

    /// The records of a request body, read back by the `http_server` source's decoder.
    private func decoded(_ request: OTLPSinkHTTPTests.Received, as codec: LogBodyDecoder.Codec) throws -> [LogRecord] {
        var body = request.rawBody
        switch request.headers.first(name: "Content-Encoding") {
        case "gzip": body = try Zlib.decompress(body, format: .gzip, maxDecompressedLength: 1 << 26)
        case "zstd": body = try Zstd.decompress(body, maxDecompressedLength: 1 << 26)
        default: break
        }
        return try LogBodyDecoder(codec: codec).decode(body, receivedAt: 0)
    }

    @Test func everyRecordArrivesOnceAsNDJSONFieldByField() async throws {
        let receiver = try await Receiver([])
        let sent = [Self.records(3), Self.records(5, first: 3), Self.records(1, first: 8)]
        let (telemetry, acknowledged) = try await run(config(receiver), sent, receiver: receiver)
        let requests = receiver.requests
        #expect(requests.allSatisfy { $0.path == "/ingest" })
        #expect(requests.allSatisfy { $0.headers.first(name: "Content-Type") == "application/x-ndjson" })
        #expect(requests.allSatisfy { $0.headers.first(name: "Content-Encoding") == nil })
        #expect(requests.allSatisfy { $0.headers.first(name: "User-Agent")?.hasPrefix("petrel/") == true })
        // Requests go out concurrently, so they may arrive in any order; each record's time is its own.
        let arrived = try requests.flatMap { try decoded($0, as: .ndjson) }.sorted { $0.timestamp < $1.timestamp }
        #expect(arrived == sent.flatMap(\.records), "every record once, every field intact")
        #expect(acknowledged.count == 3)
        #expect(telemetry.sentEvents.value == 9)
        #expect(telemetry.sentBytes.value == UInt64(requests.reduce(0) { $0 + $1.rawBody.count }))
        try await receiver.stop()
    }

    @Test(arguments: [SinkRequestSettings.Compression.none, .gzip, .zstd])
    func aJSONArrayInEveryCompression(compression: SinkRequestSettings.Compression) async throws {
        let receiver = try await Receiver([])
        var config = try config(receiver)
        config.encoding = .json
        config.request.compression = compression
        config.request.headers = [(name: "X-Tenant", value: "acme")]
        let sent = Self.records(4)
        _ = try await run(config, [sent])
        let request = try #require(receiver.requests.first)
        #expect(receiver.requests.count == 1)
        #expect(request.headers.first(name: "Content-Type") == "application/json")
        #expect(request.headers.first(name: "X-Tenant") == "acme")
        let expectedEncoding: String? = compression == .none ? nil : compression.rawValue
        #expect(request.headers.first(name: "Content-Encoding") == expectedEncoding)
        let records = try decoded(request, as: .json)
        #expect(records == sent.records)
        if compression == .none {
            #expect(request.rawBody.first == UInt8(ascii: "[") && request.rawBody.last == UInt8(ascii: "]"))
        }
        try await receiver.stop()
    }

    @Test func tooManyRequestsIsRetriedAfterRetryAfterAndDeliveredOnce() async throws {
        var busy = HTTPIngestResponse.error(.tooManyRequests, "slow down")
        busy.headers.add(name: "Retry-After", value: "1")
        let receiver = try await Receiver([busy, .error(.serviceUnavailable, "warming up")])
        let (telemetry, acknowledged) = try await run(config(receiver), [Self.records(3)], receiver: receiver)
        let requests = receiver.requests
        #expect(requests.count == 3, "429, 503, then the delivery")
        #expect(requests[1].time - requests[0].time >= .milliseconds(900), "Retry-After: 1 was honoured")
        #expect(Set(requests.map(\.rawBody)).count == 1, "the same body each time")
        #expect(try decoded(requests[2], as: .ndjson) == Self.records(3).records)
        #expect(acknowledged == [3], "the input batch is let go only once delivered")
        #expect(telemetry.sentEvents.value == 3)
        #expect(
            telemetry.registry.value(
                "petrel_http_sink_retries_total",
                labels: [("component_id", "out"), ("uri", receiver.url + "/ingest?tenant=a")]) == 2)
        try await receiver.stop()
    }

    @Test(arguments: [HTTPResponseStatus.badRequest, .notImplemented, .unauthorized])
    func refusalsAreDroppedAndCountedWithTheirStatus(status: HTTPResponseStatus) async throws {
        let receiver = try await Receiver([.error(status, "field too long")])
        let (telemetry, acknowledged) = try await run(config(receiver), [Self.records(2)], receiver: receiver)
        #expect(receiver.requests.count == 1, "\(status.code) is never retried")
        #expect(acknowledged == [1], "dropped is done with: the input is let go")
        #expect(telemetry.sentEvents.value == 0)
        #expect(telemetry.discardedCount("http_\(status.code)") == 2)
        #expect(telemetry.errorCount(.sending) == 1)
        try await receiver.stop()
    }

    @Test func requestsRespectMaxEvents() async throws {
        let receiver = try await Receiver([])
        var config = try config(receiver)
        config.request.maxEvents = 10
        _ = try await run(config, [Self.records(25)])
        // Requests go out concurrently: the order they arrive in is not the order they were cut.
        let sizes = try receiver.requests.map { try decoded($0, as: .ndjson).count }
        #expect(sizes.sorted() == [5, 10, 10])
        try await receiver.stop()
    }

    @Test func configReadsEveryKeyAndLocatesErrors() throws {
        let build = { (node: ConfigNode) -> (HTTPSinkConfig?, [String]) in
            let outcome = buildComponent(HTTPSink.definition, at: "sinks.out", node)
            guard case .sink(let sink, let accepts)? = outcome.built else { return (nil, outcome.errors) }
            #expect(accepts == .logs)
            return ((sink as? HTTPSink)?.config, outcome.errors)
        }
        let (defaults, none) = build(componentConfig(["uri": "http://collector:8080/logs"]))
        #expect(none == [])
        #expect(defaults?.uri == HTTPEndpoint(host: "collector", port: 8080, target: "/logs"))
        #expect(defaults?.encoding == .ndjson)
        #expect(defaults?.request.compression == SinkRequestSettings.Compression.none)
        #expect(defaults?.request.maxEvents == 1000)

        let (config, errors) = build(
            componentConfig([
                "uri": "https://logs.example.com/v1/push?x=1", "encoding": "json", "compression": "zstd",
                "batch": ["max_events": 50, "max_bytes": "1MiB", "max_age": "2s"], "headers": ["X-Tenant": "acme"],
                "retry": ["initial_backoff": "100ms", "max_backoff": "10s"], "timeout": "5s", "concurrency": 2,
            ]))
        #expect(errors == [])
        #expect(config?.uri.usesTLS == true)
        #expect(config?.uri.target == "/v1/push?x=1")
        #expect(config?.encoding == .json)
        #expect(config?.request.compression == .zstd)
        #expect(config?.request.maxEvents == 50)
        #expect(config?.request.maxAge == .seconds(2))
        #expect(config?.request.headers.first?.value == "acme")
        #expect(config?.request.concurrency == 2)

        let (_, bad) = build(componentConfig(["encoding": "xml", "compression": "snappy", "url": "http://x"]))
        #expect(
            bad == [
                "petrel.yaml: sinks.out.uri: is required",
                "petrel.yaml: sinks.out.encoding: expected one of ndjson, json, found \"xml\"",
                "petrel.yaml: sinks.out.compression: expected one of gzip, zstd, none, found \"snappy\"",
                "petrel.yaml: sinks.out.url: unknown key; did you mean \"uri\"?",
            ])
    }
}
