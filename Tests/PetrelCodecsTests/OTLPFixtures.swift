import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf

/// Builders for OTLP messages with every field set, shared by the OTLP tests.
enum OTLPFixtures {
    typealias KeyValue = Opentelemetry_Proto_Common_V1_KeyValue
    typealias ProtoValue = Opentelemetry_Proto_Common_V1_AnyValue
    typealias ProtoSpan = Opentelemetry_Proto_Trace_V1_Span
    typealias TraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
    typealias LogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
    typealias MetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest

    static func value(_ value: ProtoValue.OneOf_Value?) -> ProtoValue {
        var proto = ProtoValue()
        proto.value = value
        return proto
    }

    static func string(_ text: String) -> ProtoValue { value(.stringValue(text)) }

    static func attribute(_ key: String, _ value: ProtoValue) -> KeyValue {
        var pair = KeyValue()
        pair.key = key
        pair.value = value
        return pair
    }

    static func attribute(_ key: String, _ text: String) -> KeyValue {
        attribute(key, string(text))
    }

    /// One attribute of every value kind, nested containers included; kvlist keys sorted, as the model returns them.
    static func everyValueKind() -> [KeyValue] {
        var array = Opentelemetry_Proto_Common_V1_ArrayValue()
        array.values = [string("a"), value(.intValue(-7)), value(.boolValue(false)), value(nil)]
        var inner = Opentelemetry_Proto_Common_V1_KeyValueList()
        inner.values = [attribute("deep", value(.doubleValue(0.25)))]
        var list = Opentelemetry_Proto_Common_V1_KeyValueList()
        list.values = [
            attribute("alpha", "one"), attribute("beta", value(.kvlistValue(inner))),
            attribute("gamma", value(.arrayValue(array))),
        ]
        return [
            attribute("string", "text with ünïcödé"),
            attribute("bool", value(.boolValue(true))),
            attribute("int", value(.intValue(Int64.min))),
            attribute("double", value(.doubleValue(-1.5e-300))),
            attribute("bytes", value(.bytesValue(Data([0, 1, 0xfe, 0xff])))),
            attribute("array", value(.arrayValue(array))),
            attribute("kvlist", value(.kvlistValue(list))),
            attribute("empty", value(nil)),
        ]
    }

    static func bytes(_ range: ClosedRange<UInt8>) -> Data {
        Data(Array(range))
    }

    /// A span with every field OTLP defines set to a value other than its default.
    static func fullSpan(traceID: Data = bytes(1...16), spanID: Data = bytes(17...24), name: String = "GET /users/{id}")
        -> ProtoSpan
    {
        var span = ProtoSpan()
        span.traceID = traceID
        span.spanID = spanID
        span.parentSpanID = bytes(25...32)
        span.traceState = "vendor=value,other=1"
        span.flags = 0x301
        span.name = name
        span.kind = .server
        span.startTimeUnixNano = 1_544_712_660_000_000_000
        span.endTimeUnixNano = 1_544_712_661_000_000_000
        span.attributes = everyValueKind()
        span.droppedAttributesCount = 3
        var event = ProtoSpan.Event()
        event.timeUnixNano = 1_544_712_660_500_000_000
        event.name = "exception"
        event.attributes = [attribute("exception.type", "IOError")]
        event.droppedAttributesCount = 1
        var bare = ProtoSpan.Event()
        bare.name = "bare"
        span.events = [event, bare]
        span.droppedEventsCount = 4
        var link = ProtoSpan.Link()
        link.traceID = bytes(0xa0...0xaf)
        link.spanID = bytes(0xb0...0xb7)
        link.traceState = "linked=yes"
        link.attributes = [attribute("link.kind", "follows")]
        link.droppedAttributesCount = 2
        link.flags = 0x101
        span.links = [link]
        span.droppedLinksCount = 5
        span.status.code = .error
        span.status.message = "upstream timed out"
        return span
    }

    /// Two resources, three scopes, every field set, including empty-but-present groups.
    static func fullTraceRequest() -> TraceRequest {
        var first = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        first.resource.attributes = [attribute("service.name", "checkout")] + everyValueKind()
        first.resource.droppedAttributesCount = 6
        first.schemaURL = "https://opentelemetry.io/schemas/1.26.0"
        var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scope.scope.name = "io.opentelemetry.http"
        scope.scope.version = "1.2.3"
        scope.scope.attributes = [attribute("scope.attr", value(.intValue(1)))]
        scope.scope.droppedAttributesCount = 7
        scope.schemaURL = "https://opentelemetry.io/schemas/1.25.0"
        var root = fullSpan(spanID: bytes(40...47), name: "root")
        root.parentSpanID = Data()
        root.kind = .client
        root.status.code = .ok
        root.status.message = ""
        scope.spans = [fullSpan(), root]
        var emptyScope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        emptyScope.scope.name = "empty"
        first.scopeSpans = [scope, emptyScope]

        var second = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        second.resource.attributes = [attribute("service.name", "payments")]
        var plain = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        plain.scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        var minimal = ProtoSpan()
        minimal.traceID = bytes(0xc0...0xcf)
        minimal.spanID = bytes(0xd0...0xd7)
        minimal.name = "minimal"
        minimal.kind = .unspecified
        minimal.status = Opentelemetry_Proto_Trace_V1_Status()
        plain.spans = [minimal]
        second.scopeSpans = [plain]

        var request = TraceRequest()
        request.resourceSpans = [first, second]
        return request
    }

    /// A request of `count` spans shaped like an instrumented HTTP service's: ten attributes, one event in ten.
    static func benchmarkTraceRequest(spans count: Int) -> TraceRequest {
        var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scope.scope.name = "io.opentelemetry.http"
        scope.scope.version = "1.2.3"
        for index in 0..<count {
            var span = ProtoSpan()
            var traceID = Data(count: 16)
            traceID[0] = 1
            traceID[15] = UInt8(truncatingIfNeeded: index / 8 + 1)
            span.traceID = traceID
            var spanID = Data(count: 8)
            spanID[6] = UInt8(truncatingIfNeeded: index >> 8)
            spanID[7] = UInt8(truncatingIfNeeded: index) | 1
            span.spanID = spanID
            if index % 8 != 0 { span.parentSpanID = Data([0, 0, 0, 0, 0, 0, 0, 1]) }
            span.name = "GET /api/v1/orders/{id}"
            span.kind = .server
            span.startTimeUnixNano = 1_700_000_000_000_000_000 + UInt64(index) * 1000
            span.endTimeUnixNano = span.startTimeUnixNano + 2_500_000
            span.attributes = [
                attribute("http.request.method", "GET"), attribute("http.route", "/api/v1/orders/{id}"),
                attribute("http.response.status_code", value(.intValue(200))),
                attribute("url.path", "/api/v1/orders/\(index)"), attribute("url.scheme", "https"),
                attribute("server.address", "orders.internal"), attribute("server.port", value(.intValue(8443))),
                attribute("network.protocol.version", "1.1"), attribute("user_agent.original", "okhttp/4.12.0"),
                attribute("client.address", "10.1.2.3"),
            ]
            if index % 10 == 0 {
                var event = ProtoSpan.Event()
                event.name = "cache.miss"
                event.timeUnixNano = span.startTimeUnixNano + 1000
                span.events = [event]
            }
            span.status.code = .unset
            scope.spans.append(span)
        }
        var resource = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resource.resource.attributes = [
            attribute("service.name", "orders"), attribute("service.namespace", "shop"),
            attribute("k8s.pod.name", "orders-7d9f"), attribute("k8s.namespace.name", "prod"),
        ]
        resource.scopeSpans = [scope]
        var request = TraceRequest()
        request.resourceSpans = [resource]
        return request
    }
}
