/// A 16-byte trace id.
public struct TraceID: Sendable, Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Lower-case hex, as OTLP/JSON and Tempo print it.
    public var description: String { hex(high) + hex(low) }
}

/// An 8-byte span id; zero means none (a root span's parent).
public struct SpanID: Sendable, Hashable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    public static let none = SpanID(0)

    public var description: String { hex(value) }
}

private func hex(_ value: UInt64) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 16 - text.count) + text
}

/// OTLP span kinds.
public enum SpanKind: Int32, Sendable, CaseIterable {
    case unspecified = 0
    case `internal` = 1
    case server = 2
    case client = 3
    case producer = 4
    case consumer = 5
}

/// A span's status.
public struct SpanStatus: Sendable, Hashable {
    /// OTLP status codes.
    public enum Code: Int32, Sendable {
        case unset = 0
        case ok = 1
        case error = 2
    }

    public var code: Code
    public var message: String

    public init(code: Code = .unset, message: String = "") {
        self.code = code
        self.message = message
    }
}

/// A timed event within a span.
public struct SpanEvent: Sendable, Hashable {
    public var timeUnixNano: UInt64
    public var name: String
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32

    public init(timeUnixNano: UInt64, name: String, attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0) {
        self.timeUnixNano = timeUnixNano
        self.name = name
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

/// A link from a span to another span.
public struct SpanLink: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var traceState: String
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32
    public var flags: UInt32

    public init(
        traceID: TraceID, spanID: SpanID, traceState: String = "", attributes: [Attribute] = [],
        droppedAttributesCount: UInt32 = 0, flags: UInt32 = 0
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.traceState = traceState
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.flags = flags
    }
}

/// A span with everything OTLP lets a sender set.
public struct Span: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var parentSpanID: SpanID
    public var traceState: String
    public var flags: UInt32
    public var name: String
    public var kind: SpanKind
    public var startTimeUnixNano: UInt64
    public var endTimeUnixNano: UInt64
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32
    public var events: [SpanEvent]
    public var droppedEventsCount: UInt32
    public var links: [SpanLink]
    public var droppedLinksCount: UInt32
    public var status: SpanStatus

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID = .none, traceState: String = "", flags: UInt32 = 0,
        name: String, kind: SpanKind = .internal, startTimeUnixNano: UInt64, endTimeUnixNano: UInt64,
        attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0, events: [SpanEvent] = [],
        droppedEventsCount: UInt32 = 0, links: [SpanLink] = [], droppedLinksCount: UInt32 = 0,
        status: SpanStatus = SpanStatus()
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.traceState = traceState
        self.flags = flags
        self.name = name
        self.kind = kind
        self.startTimeUnixNano = startTimeUnixNano
        self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.events = events
        self.droppedEventsCount = droppedEventsCount
        self.links = links
        self.droppedLinksCount = droppedLinksCount
        self.status = status
    }

    var estimatedBytes: Int {
        64 + name.utf8.count + traceState.utf8.count + attributes.estimatedBytes
            + events.reduce(0) { $0 + 16 + $1.name.utf8.count + $1.attributes.estimatedBytes }
            + links.reduce(0) { $0 + 32 + $1.attributes.estimatedBytes } + status.message.utf8.count
    }
}

/// The entity that produced telemetry (a service, a pod...), described by attributes.
public struct Resource: Sendable, Hashable {
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32

    public init(attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0) {
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

/// The library that produced the spans.
public struct InstrumentationScope: Sendable, Hashable {
    public var name: String
    public var version: String
    public var attributes: [Attribute]
    public var droppedAttributesCount: UInt32

    public init(
        name: String = "", version: String = "", attributes: [Attribute] = [], droppedAttributesCount: UInt32 = 0
    ) {
        self.name = name
        self.version = version
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

/// Spans of one instrumentation scope.
public struct ScopeSpans: Sendable, Hashable {
    public var scope: InstrumentationScope
    public var schemaURL: String
    public var spans: [Span]

    public init(scope: InstrumentationScope = InstrumentationScope(), schemaURL: String = "", spans: [Span] = []) {
        self.scope = scope
        self.schemaURL = schemaURL
        self.spans = spans
    }
}

/// Spans of one resource, grouped by scope.
public struct ResourceSpans: Sendable, Hashable {
    public var resource: Resource
    public var schemaURL: String
    public var scopeSpans: [ScopeSpans]

    public init(resource: Resource = Resource(), schemaURL: String = "", scopeSpans: [ScopeSpans] = []) {
        self.resource = resource
        self.schemaURL = schemaURL
        self.scopeSpans = scopeSpans
    }
}

/// A batch of spans grouped resource → scope → spans, as OTLP groups them.
public struct SpanBatch: Sendable, Hashable {
    public var resourceSpans: [ResourceSpans]

    public init(resourceSpans: [ResourceSpans] = []) {
        self.resourceSpans = resourceSpans
    }

    public var spanCount: Int {
        resourceSpans.reduce(0) { total, resource in total + resource.scopeSpans.reduce(0) { $0 + $1.spans.count } }
    }

    public var estimatedBytes: Int {
        resourceSpans.reduce(0) { total, resource in
            total + resource.resource.attributes.estimatedBytes
                + resource.scopeSpans.reduce(0) { $0 + $1.spans.reduce(0) { $0 + $1.estimatedBytes } }
        }
    }

    /// Keeps only the spans for which `keep` is true, and the groups that still hold spans.
    public mutating func retainSpans(where keep: (Resource, Span) -> Bool) {
        for resourceIndex in resourceSpans.indices {
            let resource = resourceSpans[resourceIndex].resource
            for scopeIndex in resourceSpans[resourceIndex].scopeSpans.indices {
                resourceSpans[resourceIndex].scopeSpans[scopeIndex].spans.removeAll { !keep(resource, $0) }
            }
            resourceSpans[resourceIndex].scopeSpans.removeAll { $0.spans.isEmpty }
        }
        resourceSpans.removeAll { $0.scopeSpans.isEmpty }
    }
}
