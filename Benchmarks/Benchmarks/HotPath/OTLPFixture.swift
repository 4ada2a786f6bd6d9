import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf

/// One OTLP trace export request of 1000 spans as an OpenTelemetry SDK batch processor in a service mesh sends it,
/// in every form the benchmarks start from; built once from a fixed seed, so every run measures the same bytes.
///
/// Twenty services (one resource each, eight resource attributes as the Kubernetes resource detectors set them), one
/// instrumentation scope per service, fifty spans each: server and client spans with the HTTP semantic-convention
/// attributes, one in five with an event, one in twenty failed with a message, one in ten with a link.
struct OTLPSpanFixture: Sendable {
    static let spansPerRequest = 1000

    static let shared = OTLPSpanFixture(seed: 0x07_1F_2026)

    /// `ExportTraceServiceRequest` bytes, as they come in the body of `POST /v1/traces` or a gRPC message.
    let protobuf: [UInt8]
    /// The spans, as the otlp source hands them to the transforms.
    let decoded: SpanBatch

    init(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var batch = SpanBatch()
        let services = 20
        let spansPerService = Self.spansPerRequest / services
        for serviceIndex in 0..<services {
            let service = "\(random.pick(["payments", "checkout", "cart", "search", "ledger"]))-\(serviceIndex)"
            let pod = "\(service)-\(random.hex(10))-\(random.suffix(5))"
            let resource = Resource(attributes: [
                Attribute("service.name", .string(service)),
                Attribute("service.version", .string("1.\(random.next(upperBound: 40 as UInt64)).0")),
                Attribute("service.namespace", .string(random.pick(["payments", "checkout", "search"]))),
                Attribute("k8s.pod.name", .string(pod)),
                Attribute("k8s.pod.uid", .string(random.uuid())),
                Attribute("telemetry.sdk.name", .string("opentelemetry")),
                Attribute("telemetry.sdk.language", .string(random.pick(["go", "java", "python"]))),
                Attribute("telemetry.sdk.version", .string("1.45.2")),
            ])
            var scope = ScopeSpans(
                scope: InstrumentationScope(name: "io.opentelemetry.http", version: "2.10.0"),
                schemaURL: "https://opentelemetry.io/schemas/1.27.0")
            for _ in 0..<spansPerService {
                scope.spans.append(Self.span(service: service, &random))
            }
            batch.resourceSpans.append(ResourceSpans(resource: resource, scopeSpans: [scope]))
        }
        protobuf = try! OTLPTraceConversion.request(from: batch).serializedBytes()
        let request = try! Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: protobuf)
        decoded = OTLPTraceConversion.spanBatch(from: request)
        precondition(decoded == batch, "the request did not decode to its own spans")
    }

    private static func span(service: String, _ random: inout SeededGenerator) -> Span {
        let route = random.pick(["/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/cart", "/healthz", "/api/v1/search"])
        let method = random.pick(["GET", "GET", "GET", "POST", "PUT"])
        let failed = random.chance(1, in: 20)
        let start = 1_764_000_000_000_000_000 + random.next(upperBound: 10_000_000_000 as UInt64)
        let server = random.chance(1, in: 2)
        var span = Span(
            traceID: TraceID(high: random.next(), low: random.next()), spanID: SpanID(random.next() | 1),
            parentSpanID: server ? .none : SpanID(random.next() | 1), flags: 0x101, name: "\(method) \(route)",
            kind: server ? .server : .client, startTimeUnixNano: start,
            endTimeUnixNano: start + 100_000 + random.next(upperBound: 50_000_000 as UInt64),
            attributes: [
                Attribute("http.request.method", .string(method)),
                Attribute("http.route", .string(route)),
                Attribute("http.response.status_code", .int(failed ? 503 : 200)),
                Attribute("url.scheme", .string("http")),
                Attribute("server.address", .string("\(service).svc.cluster.local")),
                Attribute("server.port", .int(8080)),
                Attribute("network.peer.address", .string("10.0.\(random.next(upperBound: 256 as UInt64)).7")),
                Attribute("user_agent.original", .string("okhttp/4.12.0")),
            ])
        if random.chance(1, in: 5) {
            span.events.append(
                SpanEvent(
                    timeUnixNano: start + 50_000, name: "cache.miss",
                    attributes: [Attribute("cache.key", .string("order:\(random.hex(8))"))]))
        }
        if random.chance(1, in: 10) {
            span.links.append(SpanLink(traceID: TraceID(high: random.next(), low: random.next()), spanID: SpanID(7)))
        }
        if failed { span.status = SpanStatus(code: .error, message: "upstream connect error") }
        return span
    }
}

/// One OTLP logs export request of 1000 records as an OpenTelemetry SDK's log batch processor sends it, built once
/// from a fixed seed: twenty services (one resource each, six attributes), one scope each, fifty records each with a
/// string body, a severity, four attributes, and trace context on half of them.
struct OTLPLogFixture: Sendable {
    static let recordsPerRequest = 1000

    static let shared = OTLPLogFixture(seed: 0x10_95_2026)

    /// `ExportLogsServiceRequest` bytes, as they come in the body of `POST /v1/logs` or a gRPC message.
    let protobuf: [UInt8]
    /// The records, as the otlp source hands them to the transforms.
    let decoded: LogBatch

    init(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var request = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
        let services = 20
        for serviceIndex in 0..<services {
            let service = "\(random.pick(["payments", "checkout", "cart", "search", "ledger"]))-\(serviceIndex)"
            var resourceLogs = Opentelemetry_Proto_Logs_V1_ResourceLogs()
            resourceLogs.resource.attributes = [
                Self.attribute("service.name", service),
                Self.attribute("service.namespace", random.pick(["payments", "checkout", "search"])),
                Self.attribute("k8s.pod.name", "\(service)-\(random.hex(10))-\(random.suffix(5))"),
                Self.attribute("k8s.namespace.name", "prod"),
                Self.attribute("telemetry.sdk.name", "opentelemetry"),
                Self.attribute("telemetry.sdk.language", random.pick(["go", "java", "python"])),
            ]
            var scopeLogs = Opentelemetry_Proto_Logs_V1_ScopeLogs()
            scopeLogs.scope.name = "io.opentelemetry.logs"
            scopeLogs.scope.version = "1.45.0"
            for _ in 0..<(Self.recordsPerRequest / services) {
                var record = Opentelemetry_Proto_Logs_V1_LogRecord()
                record.timeUnixNano = 1_764_000_000_000_000_000 + random.next(upperBound: 10_000_000_000 as UInt64)
                record.observedTimeUnixNano = record.timeUnixNano + 1_000_000
                let failed = random.chance(1, in: 10)
                record.severityNumber = failed ? .error : .info
                record.severityText = failed ? "ERROR" : "INFO"
                record.body.stringValue =
                    failed
                    ? "upstream connect error or disconnect/reset before headers, order \(random.hex(8))"
                    : "handled \(random.pick(["GET", "POST"])) \(random.pick(["/api/v1/orders", "/api/v1/cart"])) "
                        + "in \(random.next(upperBound: 900 as UInt64)) ms"
                var status = Opentelemetry_Proto_Common_V1_AnyValue()
                status.intValue = failed ? 503 : 200
                var code = Opentelemetry_Proto_Common_V1_KeyValue()
                code.key = "http.response.status_code"
                code.value = status
                record.attributes = [
                    Self.attribute("logger.name", "com.example.\(random.pick(["OrderController", "CartService"]))"),
                    Self.attribute("thread.name", "http-nio-8080-exec-\(random.next(upperBound: 200 as UInt64))"),
                    code,
                    Self.attribute("user.id", random.hex(12)),
                ]
                if random.chance(1, in: 2) {
                    record.traceID = Data((0..<16).map { _ in UInt8(truncatingIfNeeded: random.next()) })
                    record.spanID = Data((0..<8).map { _ in UInt8(truncatingIfNeeded: random.next()) })
                    record.flags = 1
                }
                scopeLogs.logRecords.append(record)
            }
            resourceLogs.scopeLogs = [scopeLogs]
            request.resourceLogs.append(resourceLogs)
        }
        protobuf = try! request.serializedBytes()
        decoded = OTLPLogConversion.logBatch(from: request)
        precondition(try! OTLPLogDecoder.decode(protobuf) == decoded, "the hand-written decoder disagrees")
    }

    private static func attribute(_ key: String, _ value: String) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var pair = Opentelemetry_Proto_Common_V1_KeyValue()
        pair.key = key
        pair.value.stringValue = value
        return pair
    }
}
