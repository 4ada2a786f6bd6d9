import Foundation
import OTLPProtos
import PetrelCore

/// Converts OTLP trace export requests to span batches and back, keeping every field `SpanBatch` models.
///
/// A span whose ids cannot be valid (a trace id that is not 16 bytes or is all zeros, a span id that is not 8 bytes
/// or is zero, a parent or link id of the wrong length) is rejected: OTLP receivers answer such requests with a
/// partial success that counts them.
public enum OTLPTraceConversion {
    private typealias ProtoSpan = Opentelemetry_Proto_Trace_V1_Span
    private typealias Convert = OTLPValueConversion

    /// The spans of `request`, without the ones with invalid ids (see `spanBatch(from:dropInvalid:)`).
    public static func spanBatch(from request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest)
        -> SpanBatch
    {
        spanBatch(from: request, dropInvalid: true).batch
    }

    /// How many spans of `request` have invalid ids, and a message naming the first, for a partial-success answer.
    public static func validate(_ request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest) -> (
        rejectedSpans: Int, message: String?
    ) {
        var report = RejectionReport()
        for (resourceIndex, resourceSpans) in request.resourceSpans.enumerated() {
            for (scopeIndex, scopeSpans) in resourceSpans.scopeSpans.enumerated() {
                for (spanIndex, span) in scopeSpans.spans.enumerated() {
                    report.total += 1
                    if let problem = problem(of: span) {
                        report.reject(problem, name: span.name, at: (resourceIndex, scopeIndex, spanIndex))
                    }
                }
            }
        }
        return (report.rejected, report.message)
    }

    /// The spans of `request`, with a count of rejected spans and a message naming the first of them.
    ///
    /// With `dropInvalid`, every span with an invalid id is left out and counted. Without it, spans with all-zero
    /// ids are kept as they are, and only spans whose ids have a wrong length (which `TraceID` and `SpanID` cannot
    /// hold) are left out and counted.
    public static func spanBatch(
        from request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest, dropInvalid: Bool
    ) -> (batch: SpanBatch, rejectedSpans: Int, message: String?) {
        var report = RejectionReport()
        var batch = SpanBatch()
        batch.resourceSpans.reserveCapacity(request.resourceSpans.count)
        for (resourceIndex, protoResourceSpans) in request.resourceSpans.enumerated() {
            var resourceSpans = ResourceSpans(
                resource: Convert.resource(protoResourceSpans.resource), schemaURL: protoResourceSpans.schemaURL)
            resourceSpans.scopeSpans.reserveCapacity(protoResourceSpans.scopeSpans.count)
            for (scopeIndex, protoScopeSpans) in protoResourceSpans.scopeSpans.enumerated() {
                var scopeSpans = ScopeSpans(
                    scope: Convert.scope(protoScopeSpans.scope), schemaURL: protoScopeSpans.schemaURL)
                scopeSpans.spans.reserveCapacity(protoScopeSpans.spans.count)
                for (spanIndex, protoSpan) in protoScopeSpans.spans.enumerated() {
                    report.total += 1
                    if let problem = problem(of: protoSpan), dropInvalid || !problem.isRepresentable {
                        report.reject(problem, name: protoSpan.name, at: (resourceIndex, scopeIndex, spanIndex))
                        continue
                    }
                    // Lengths were checked above, so every id converts.
                    if let span = span(protoSpan) { scopeSpans.spans.append(span) }
                }
                // A group that lost every span to rejection goes; one that came empty stays, to round-trip.
                if !scopeSpans.spans.isEmpty || protoScopeSpans.spans.isEmpty {
                    resourceSpans.scopeSpans.append(scopeSpans)
                }
            }
            if !resourceSpans.scopeSpans.isEmpty || protoResourceSpans.scopeSpans.isEmpty {
                batch.resourceSpans.append(resourceSpans)
            }
        }
        return (batch, report.rejected, report.message)
    }

    /// An export request holding every span of `batch`, grouped as the batch groups them.
    public static func request(from batch: SpanBatch)
        -> Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
    {
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        request.resourceSpans = batch.resourceSpans.map { resourceSpans in
            var proto = Opentelemetry_Proto_Trace_V1_ResourceSpans()
            proto.resource = Convert.protoResource(resourceSpans.resource)
            proto.schemaURL = resourceSpans.schemaURL
            proto.scopeSpans = resourceSpans.scopeSpans.map { scopeSpans in
                var proto = Opentelemetry_Proto_Trace_V1_ScopeSpans()
                proto.scope = Convert.protoScope(scopeSpans.scope)
                proto.schemaURL = scopeSpans.schemaURL
                proto.spans = scopeSpans.spans.map(protoSpan)
                return proto
            }
            return proto
        }
        return request
    }

    // MARK: Spans

    private static func span(_ proto: ProtoSpan) -> Span? {
        guard let traceID = Convert.traceID(proto.traceID), let spanID = Convert.spanID(proto.spanID) else {
            return nil
        }
        let parentSpanID: SpanID
        if proto.parentSpanID.isEmpty {
            parentSpanID = .none
        } else if let parent = Convert.spanID(proto.parentSpanID) {
            parentSpanID = parent
        } else {
            return nil
        }
        var links: [SpanLink] = []
        links.reserveCapacity(proto.links.count)
        for link in proto.links {
            guard let linkTraceID = Convert.traceID(link.traceID), let linkSpanID = Convert.spanID(link.spanID) else {
                return nil
            }
            links.append(
                SpanLink(
                    traceID: linkTraceID, spanID: linkSpanID, traceState: link.traceState,
                    attributes: Convert.attributes(link.attributes),
                    droppedAttributesCount: link.droppedAttributesCount, flags: link.flags))
        }
        return Span(
            traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, traceState: proto.traceState,
            flags: proto.flags, name: proto.name, kind: SpanKind(rawValue: Int32(proto.kind.rawValue)) ?? .unspecified,
            startTimeUnixNano: proto.startTimeUnixNano, endTimeUnixNano: proto.endTimeUnixNano,
            attributes: Convert.attributes(proto.attributes), droppedAttributesCount: proto.droppedAttributesCount,
            events: proto.events.map { event in
                SpanEvent(
                    timeUnixNano: event.timeUnixNano, name: event.name,
                    attributes: Convert.attributes(event.attributes),
                    droppedAttributesCount: event.droppedAttributesCount)
            },
            droppedEventsCount: proto.droppedEventsCount, links: links, droppedLinksCount: proto.droppedLinksCount,
            status: SpanStatus(
                code: SpanStatus.Code(rawValue: Int32(proto.status.code.rawValue)) ?? .unset,
                message: proto.status.message))
    }

    private static func protoSpan(_ span: Span) -> ProtoSpan {
        var proto = ProtoSpan()
        proto.traceID = Convert.data(span.traceID)
        proto.spanID = Convert.data(span.spanID)
        if span.parentSpanID != .none { proto.parentSpanID = Convert.data(span.parentSpanID) }
        proto.traceState = span.traceState
        proto.flags = span.flags
        proto.name = span.name
        proto.kind = ProtoSpan.SpanKind(rawValue: Int(span.kind.rawValue)) ?? .unspecified
        proto.startTimeUnixNano = span.startTimeUnixNano
        proto.endTimeUnixNano = span.endTimeUnixNano
        proto.attributes = Convert.keyValues(span.attributes)
        proto.droppedAttributesCount = span.droppedAttributesCount
        proto.events = span.events.map { event in
            var proto = ProtoSpan.Event()
            proto.timeUnixNano = event.timeUnixNano
            proto.name = event.name
            proto.attributes = Convert.keyValues(event.attributes)
            proto.droppedAttributesCount = event.droppedAttributesCount
            return proto
        }
        proto.droppedEventsCount = span.droppedEventsCount
        proto.links = span.links.map { link in
            var proto = ProtoSpan.Link()
            proto.traceID = Convert.data(link.traceID)
            proto.spanID = Convert.data(link.spanID)
            proto.traceState = link.traceState
            proto.attributes = Convert.keyValues(link.attributes)
            proto.droppedAttributesCount = link.droppedAttributesCount
            proto.flags = link.flags
            return proto
        }
        proto.droppedLinksCount = span.droppedLinksCount
        // Always present, as the Collector writes it: its pdata has no notion of an absent status.
        proto.status.code =
            Opentelemetry_Proto_Trace_V1_Status.StatusCode(rawValue: Int(span.status.code.rawValue))
            ?? .unset
        proto.status.message = span.status.message
        return proto
    }

    // MARK: Validation

    /// What is wrong with a span's ids; `OTLPTraceDecoding` checks them in the same order.
    enum Problem {
        case traceIDLength(Int)
        case traceIDZero
        case spanIDLength(Int)
        case spanIDZero
        case parentSpanIDLength(Int)
        case linkTraceIDLength(link: Int, Int)
        case linkSpanIDLength(link: Int, Int)

        /// Whether `Span` can hold the id anyway (an all-zero id can; a wrong length cannot).
        var isRepresentable: Bool {
            switch self {
            case .traceIDZero, .spanIDZero: true
            default: false
            }
        }

        var description: String {
            switch self {
            case .traceIDLength(let count): "traceId is \(count) bytes, not 16"
            case .traceIDZero: "traceId is all zeros"
            case .spanIDLength(let count): "spanId is \(count) bytes, not 8"
            case .spanIDZero: "spanId is all zeros"
            case .parentSpanIDLength(let count): "parentSpanId is \(count) bytes, not 0 or 8"
            case .linkTraceIDLength(let link, let count): "links[\(link)].traceId is \(count) bytes, not 16"
            case .linkSpanIDLength(let link, let count): "links[\(link)].spanId is \(count) bytes, not 8"
            }
        }
    }

    private static func problem(of span: ProtoSpan) -> Problem? {
        let traceID = span.traceID
        guard traceID.count == 16 else { return .traceIDLength(traceID.count) }
        let spanID = span.spanID
        guard spanID.count == 8 else { return .spanIDLength(spanID.count) }
        let parentCount = span.parentSpanID.count
        guard parentCount == 0 || parentCount == 8 else { return .parentSpanIDLength(parentCount) }
        for (index, link) in span.links.enumerated() {
            guard link.traceID.count == 16 else { return .linkTraceIDLength(link: index, link.traceID.count) }
            guard link.spanID.count == 8 else { return .linkSpanIDLength(link: index, link.spanID.count) }
        }
        if traceID.allSatisfy({ $0 == 0 }) { return .traceIDZero }
        if spanID.allSatisfy({ $0 == 0 }) { return .spanIDZero }
        return nil
    }

    /// Counts rejected spans and remembers the first, which is all a partial-success message has room for.
    struct RejectionReport {
        var total = 0
        var rejected = 0
        var first: String?

        mutating func reject(
            _ problem: Problem, name spanName: String, at index: (resource: Int, scope: Int, span: Int)
        ) {
            rejected += 1
            if first == nil {
                let name = spanName.count > 64 ? String(spanName.prefix(64)) + "…" : spanName
                first =
                    "resourceSpans[\(index.resource)].scopeSpans[\(index.scope)].spans[\(index.span)] "
                    + "(\(name.debugDescription)): \(problem.description)"
            }
        }

        var message: String? {
            guard let first else { return nil }
            return "\(rejected) of \(total) spans rejected for invalid ids; first: \(first)"
        }
    }
}
