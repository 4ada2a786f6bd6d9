import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import OTLPProtos
import OTLPServices
import PetrelCodecs
import PetrelCore
import PetrelSources
import PetrelTestSupport
import SwiftProtobuf
import Synchronization
import Testing

typealias TraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
typealias TraceResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
typealias MetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
typealias MetricsResponse = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse
typealias LogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
typealias LogsResponse = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse

/// An `otlp` source on two loopback ports whose output is one queue the test reads.
final class RunningOTLPSource: Sendable {
    let grpcPort: Int
    let httpPort: Int
    let queue: BatchQueue
    let telemetry: ComponentTelemetry
    let shutdown = ShutdownSignal()
    let task: Task<Void, any Error>

    init(config: OTLPSourceConfig = OTLPSourceConfig(), queueCapacity: Int = 16, memory: MemoryLimit? = nil)
        async throws
    {
        queue = BatchQueue(capacity: queueCapacity, producers: 1)
        telemetry = componentTestTelemetry(id: "otlp", type: "otlp", kind: .source)
        let output = Output(edges: [.init(queue: queue, accepts: .all)], telemetry: telemetry, memory: memory)
        (grpcPort, httpPort, task) = try await Self.start(
            config, output: output, telemetry: telemetry, shutdown: shutdown)
    }

    /// What one start attempt saw: the source marked itself ready, or its run failed (with why).
    private final class Start: Sendable {
        let ready = Atomic<Bool>(false)
        let failure = Mutex<String?>(nil)
    }

    /// Starts the source on free ports. A port `freePort()` picked can be taken by a test running in parallel before
    /// the source binds it; the source then fails at once, and it is started again on other ports.
    private static func start(
        _ config: OTLPSourceConfig, output: Output, telemetry: ComponentTelemetry, shutdown: ShutdownSignal
    ) async throws -> (grpc: Int, http: Int, task: Task<Void, any Error>) {
        var problem = "it did not become ready"
        for _ in 0..<3 {
            var config = config
            let (grpc, http) = (freePort(), freePort())
            config.grpcAddress = HostPort(host: "127.0.0.1", port: grpc)
            config.httpAddress = HostPort(host: "127.0.0.1", port: http)
            let start = Start()
            let context = SourceContext(
                id: "otlp", output: output, telemetry: telemetry, logger: Logger(label: "test"), shutdown: shutdown,
                onReady: { start.ready.store(true, ordering: .relaxed) })
            let source = OTLPSource(config: config)
            let task = Task {
                do {
                    try await source.run(context)
                } catch {
                    start.failure.withLock { $0 = "\(error)" }
                    throw error
                }
            }
            _ = await componentEventually {
                start.ready.load(ordering: .relaxed) || start.failure.withLock { $0 != nil }
            }
            if start.ready.load(ordering: .relaxed) { return (grpc, http, task) }
            task.cancel()
            problem = start.failure.withLock { $0 } ?? problem
        }
        throw TestSupportError("the otlp source did not start: \(problem)")
    }

    /// POSTs an OTLP/HTTP request.
    func post(
        _ body: [UInt8], path: String = "/v1/traces", contentType: String? = "application/x-protobuf",
        encoding: String? = nil
    ) async -> LoopbackResponse? {
        var headers: [String: String] = [:]
        if let contentType { headers["Content-Type"] = contentType }
        if let encoding { headers["Content-Encoding"] = encoding }
        return await httpRequest(port: httpPort, method: "POST", path: path, headers: headers, body: body)
    }

    /// Runs `body` with a gRPC client connected to the source.
    func withClient<Result: Sendable>(
        gzip: Bool = false, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: grpcPort), transportSecurity: .plaintext,
            config: .defaults {
                if gzip { $0.compression = .init(algorithm: .gzip, enabledAlgorithms: .gzip) }
            })
        return try await withGRPCClient(transport: transport, handleClient: body)
    }

    /// The next batch, or nil when none comes within a second.
    func nextBatch() async -> EventBatch? {
        guard await componentEventually(timeout: .seconds(1), { queue.count > 0 }) else { return nil }
        return await queue.nextBatch()
    }

    func stop() async throws {
        shutdown.trigger()
        try await task.value
    }
}

/// Export requests with known contents, and what the source should make of them.
enum OTLPFixtures {
    static func attribute(_ key: String, _ value: String) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var attribute = Opentelemetry_Proto_Common_V1_KeyValue()
        attribute.key = key
        attribute.value.stringValue = value
        return attribute
    }

    static let traceID = Data((1...16).map { UInt8($0) })

    static func span(_ index: Int, traceID: Data = traceID) -> Opentelemetry_Proto_Trace_V1_Span {
        var span = Opentelemetry_Proto_Trace_V1_Span()
        span.traceID = traceID
        span.spanID = Data([0, 0, 0, 0, 0, 0, 0xA0, UInt8(index + 1)])
        span.name = "GET /cart/\(index)"
        span.kind = .server
        span.startTimeUnixNano = 1_700_000_000_000_000_000 + UInt64(index)
        span.endTimeUnixNano = 1_700_000_000_250_000_000 + UInt64(index)
        span.attributes = [attribute("http.request.method", "GET")]
        span.status.code = .ok
        return span
    }

    static func traceRequest(spans: Int = 3, invalid: Int = 0) -> TraceRequest {
        var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scopeSpans.scope.name = "petrel-test"
        scopeSpans.spans = (0..<spans).map { span($0) }
        // A trace id of the wrong length can never be valid.
        scopeSpans.spans += (0..<invalid).map { span(spans + $0, traceID: Data([1, 2, 3])) }
        var resourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resourceSpans.resource.attributes = [attribute("service.name", "checkout")]
        resourceSpans.scopeSpans = [scopeSpans]
        var request = TraceRequest()
        request.resourceSpans = [resourceSpans]
        return request
    }

    static func logsRequest(records: Int = 3) -> LogsRequest {
        var scopeLogs = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        scopeLogs.logRecords = (0..<records).map { index in
            var record = Opentelemetry_Proto_Logs_V1_LogRecord()
            record.timeUnixNano = 1_700_000_000_000_000_000 + UInt64(index)
            record.severityText = "INFO"
            record.severityNumber = .info
            record.body.stringValue = "order \(index) placed"
            record.attributes = [attribute("order.id", String(index))]
            return record
        }
        var resourceLogs = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        resourceLogs.resource.attributes = [attribute("service.name", "checkout")]
        resourceLogs.scopeLogs = [scopeLogs]
        var request = LogsRequest()
        request.resourceLogs = [resourceLogs]
        return request
    }

    /// A gauge with one point per instance.
    static func metricsRequest(points: Int = 2) -> MetricsRequest {
        var metric = Opentelemetry_Proto_Metrics_V1_Metric()
        metric.name = "queue_depth"
        metric.gauge.dataPoints = (0..<points).map { index in
            var point = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
            point.timeUnixNano = 1_700_000_000_000_000_000
            point.asDouble = Double(index) + 0.5
            point.attributes = [attribute("queue", "q\(index)")]
            return point
        }
        var scopeMetrics = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        scopeMetrics.metrics = [metric]
        var resourceMetrics = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
        resourceMetrics.resource.attributes = [attribute("service.name", "checkout")]
        resourceMetrics.scopeMetrics = [scopeMetrics]
        var request = MetricsRequest()
        request.resourceMetrics = [resourceMetrics]
        return request
    }

    static func protobuf(_ message: some SwiftProtobuf.Message) -> [UInt8] {
        // Fixtures always serialize; a failure is a broken test.
        try! message.serializedBytes()
    }
}

/// A `google.rpc.Status` read back from an error body, protobuf or JSON.
struct DecodedStatus: Equatable {
    var code: Int
    var message: String
    var retryInfo = false

    /// Reads `code = 1`, `message = 2` and whether `details = 3` holds a `RetryInfo`.
    init?(protobuf bytes: [UInt8]) {
        var reader = bytes[...]
        var code = 0
        var message = ""
        while let key = Self.varint(&reader) {
            switch (key >> 3, key & 7) {
            case (1, 0):
                guard let value = Self.varint(&reader) else { return nil }
                code = Int(value)
            case (2, 2), (3, 2):
                guard let length = Self.varint(&reader), reader.count >= Int(length) else { return nil }
                let field = reader.prefix(Int(length))
                reader = reader.dropFirst(Int(length))
                if key >> 3 == 2 {
                    message = String(decoding: field, as: UTF8.self)
                } else if String(decoding: field, as: UTF8.self).contains("google.rpc.RetryInfo") {
                    retryInfo = true
                }
            default: return nil
            }
        }
        self.code = code
        self.message = message
    }

    init?(json bytes: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let code = object["code"] as? Int, let message = object["message"] as? String
        else { return nil }
        self.code = code
        self.message = message
        retryInfo = ((object["details"] as? [[String: Any]]) ?? []).contains {
            ($0["@type"] as? String)?.hasSuffix("google.rpc.RetryInfo") == true
        }
    }

    private static func varint(_ bytes: inout ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = bytes.popFirst() {
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }
}
