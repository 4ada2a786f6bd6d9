import Logging
import PetrelCore
import PetrelSinks

/// Spans and log records for the OTLP sink tests, with every field OTLP lets a sender set.
enum OTLPSinkFixtures {
    /// `resources` resources of `scopes` scopes of `spansPerScope` spans; span ids start after `firstID`.
    static func spans(resources: Int, scopes: Int = 2, spansPerScope: Int, firstID: UInt64 = 0) -> SpanBatch {
        var batch = SpanBatch()
        var id = firstID
        for resourceIndex in 0..<resources {
            var resource = ResourceSpans(
                resource: Resource(
                    attributes: [
                        Attribute("service.name", .string("svc-\(firstID)-\(resourceIndex)")),
                        Attribute("k8s.cluster.name", .string("eks-1")),
                    ], droppedAttributesCount: 1),
                schemaURL: "https://opentelemetry.io/schemas/1.24.0")
            for scopeIndex in 0..<scopes {
                var scope = ScopeSpans(
                    scope: InstrumentationScope(
                        name: "lib-\(scopeIndex)", version: "1.\(scopeIndex)", attributes: [Attribute("a", .bool(true))]
                    ),
                    schemaURL: "https://opentelemetry.io/schemas/1.21.0")
                for _ in 0..<spansPerScope {
                    id += 1
                    scope.spans.append(span(id: id))
                }
                resource.scopeSpans.append(scope)
            }
            batch.resourceSpans.append(resource)
        }
        return batch
    }

    static func span(id: UInt64) -> Span {
        let trace = TraceID(high: 0xfeed_0000_0000_0000 | id, low: id &* 0x9e37_79b9)
        return Span(
            traceID: trace, spanID: SpanID(id), parentSpanID: SpanID(id + 1_000_000), traceState: "vendor=\(id)",
            flags: 0x101, name: "GET /items/\(id)", kind: .server, startTimeUnixNano: 1_700_000_000_000_000_000 + id,
            endTimeUnixNano: 1_700_000_000_500_000_000 + id,
            attributes: [
                Attribute("http.method", .string("GET")), Attribute("http.status_code", .int(200)),
                Attribute("ratio", .double(0.25)), Attribute("cached", .bool(false)),
                Attribute("blob", .bytes([0, 1, 2, 255])), Attribute("tags", .array([.string("a"), .int(2)])),
                Attribute("nested", .object(["k": .string("v")])),
            ],
            droppedAttributesCount: 2,
            events: [
                SpanEvent(
                    timeUnixNano: 1_700_000_000_100_000_000, name: "exception",
                    attributes: [Attribute("exception.message", .string("boom \(id)"))], droppedAttributesCount: 3)
            ],
            droppedEventsCount: 4,
            links: [
                SpanLink(
                    traceID: TraceID(high: 7, low: id), spanID: SpanID(id + 2_000_000), traceState: "link=1",
                    attributes: [Attribute("link.kind", .string("follows"))], droppedAttributesCount: 5, flags: 1)
            ],
            droppedLinksCount: 6, status: SpanStatus(code: .error, message: "failed \(id)"))
    }

    static func logs(count: Int, firstIndex: Int = 0) -> LogBatch {
        LogBatch(
            records: (0..<count).map { index in
                LogRecord(
                    timestamp: 1_700_000_000_000_000_000 + Int64(firstIndex + index),
                    message: "line \(firstIndex + index)",
                    severity: "INFO", fields: ["n": .int(Int64(firstIndex + index))],
                    resource: [Attribute("service.name", .string("api"))])
            })
    }

    /// Every span of `batches` with the resource and scope it sits in, keyed by span id.
    static func placedSpans(_ batches: [SpanBatch]) -> [UInt64: [OTLPPlacedSpan]] {
        var placed: [UInt64: [OTLPPlacedSpan]] = [:]
        for batch in batches {
            for resource in batch.resourceSpans {
                for scope in resource.scopeSpans {
                    for span in scope.spans {
                        placed[span.spanID.value, default: []].append(
                            OTLPPlacedSpan(
                                resource: resource.resource, resourceSchema: resource.schemaURL, scope: scope.scope,
                                scopeSchema: scope.schemaURL, span: span))
                    }
                }
            }
        }
        return placed
    }
}

/// A span and the groups it belongs to, to compare what was sent with what arrived.
struct OTLPPlacedSpan: Hashable {
    var resource: Resource
    var resourceSchema: String
    var scope: InstrumentationScope
    var scopeSchema: String
    var span: Span
}

/// Runs an OTLP sink over `batches` until it has delivered or dropped everything.
func runOTLPSink(_ config: OTLPSinkConfig, _ batches: [EventBatch]) async throws -> ComponentTelemetry {
    let queue = BatchQueue(capacity: max(batches.count, 1), producers: 1)
    for batch in batches { try await queue.send(batch) }
    queue.producerFinished()
    let telemetry = componentTestTelemetry(id: "tempo", type: "otlp", kind: .sink)
    try await OTLPSink(config: config).run(
        SinkInput(queue: queue, telemetry: telemetry),
        SinkContext(id: "tempo", telemetry: telemetry, logger: Logger(label: "test")))
    return telemetry
}

extension ComponentTelemetry {
    /// Events the OTLP test sink dropped for `reason`.
    func otlpDiscarded(_ reason: String) -> Int64? {
        registry.value(
            "petrel_component_discarded_events_total",
            labels: [
                ("component_id", "tempo"), ("component_kind", "sink"), ("component_type", "otlp"), ("reason", reason),
            ])
    }

    var otlpSendingErrors: Int64? {
        registry.value(
            "petrel_component_errors_total",
            labels: [
                ("component_id", "tempo"), ("component_kind", "sink"), ("component_type", "otlp"), ("stage", "sending"),
            ])
    }
}
