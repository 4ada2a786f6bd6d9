import PetrelCore

/// Decodes OTLP `ExportTraceServiceRequest` protobuf into span batches by walking the wire format, as the remote-write
/// decoder does: no generated message objects in between, only the batch's own strings and arrays.
///
/// It gives the batch, the rejected count and the message `OTLPTraceConversion.spanBatch(from:dropInvalid:)` gives
/// for the request swift-protobuf decodes from the same bytes (see `OTLPValueDecoding` for the decoding rules kept),
/// and refuses the malformed requests swift-protobuf refuses, plus known fields with the wrong wire type.
public enum OTLPTraceDecoder {
    /// The spans of an encoded request, with a count of rejected spans and a message naming the first of them.
    ///
    /// With `dropInvalid`, every span with an invalid id is left out and counted; without it, only spans whose ids
    /// have a wrong length are (see `OTLPTraceConversion.spanBatch(from:dropInvalid:)`).
    public static func decode(
        _ bytes: [UInt8], dropInvalid: Bool = true
    ) throws(OTLPDecodingError) -> (batch: SpanBatch, rejectedSpans: Int, message: String?) {
        let result: Result<(SpanBatch, Int, String?), ProtobufDecodingError> = bytes.withUnsafeBytes { buffer in
            do throws(ProtobufDecodingError) {
                return .success(try decode(buffer, dropInvalid: dropInvalid))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let decoded): return decoded
        case .failure(let error): throw .protobuf(error, decoding: "ExportTraceServiceRequest")
        }
    }

    /// The same over borrowed bytes, throwing the wire-level error.
    public static func decode(
        _ buffer: UnsafeRawBufferPointer, dropInvalid: Bool = true
    ) throws(ProtobufDecodingError) -> (batch: SpanBatch, rejectedSpans: Int, message: String?) {
        var decoding = OTLPTraceDecoding(buffer: buffer, dropInvalid: dropInvalid)
        let batch = try decoding.request()
        return (batch, decoding.report.rejected, decoding.report.message)
    }
}

/// The decoding of one trace request: the rejection report and the scratch reused from span to span.
struct OTLPTraceDecoding {
    private typealias Values = OTLPValueDecoding
    private typealias Problem = OTLPTraceConversion.Problem

    let buffer: UnsafeRawBufferPointer
    let dropInvalid: Bool
    var report = OTLPTraceConversion.RejectionReport()
    private var values: OTLPValueDecoding
    /// The current span's attributes, copied out at their exact count once the span ends.
    private var attributes: [Attribute] = []

    init(buffer: UnsafeRawBufferPointer, dropInvalid: Bool) {
        self.buffer = buffer
        self.dropInvalid = dropInvalid
        values = OTLPValueDecoding(buffer: buffer)
    }

    /// Nesting levels, counting the request as 1, as swift-protobuf counts them.
    private enum Depth {
        static let resource = 3
        static let scope = 4
        static let spanAttribute = 5
        static let eventAttribute = 6
    }

    mutating func request() throws(ProtobufDecodingError) -> SpanBatch {
        var batch = SpanBatch()
        var reader = ProtobufReader(buffer)
        var index = 0
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            guard field.number == 1 else {
                try reader.skipField(field)
                continue
            }
            try field.expect(.lengthDelimited)
            if let resourceSpans = try resourceSpans(reader.readLengthDelimited(), index: index) {
                batch.resourceSpans.append(resourceSpans)
            }
            index += 1
        }
        return batch
    }

    /// A `ResourceSpans`, or nil when every one of its spans was rejected (one that came empty stays, to round-trip).
    private mutating func resourceSpans(
        _ range: Range<Int>, index: Int
    ) throws(ProtobufDecodingError) -> ResourceSpans? {
        var reader = ProtobufReader(buffer, unchecked: range)
        var resourceSpans = ResourceSpans()
        var scopeIndex = 0
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                try values.resource(
                    reader.readLengthDelimited(), depth: Depth.resource, into: &resourceSpans.resource)
            case 2:
                try field.expect(.lengthDelimited)
                if let scopeSpans = try scopeSpans(reader.readLengthDelimited(), index: (index, scopeIndex)) {
                    resourceSpans.scopeSpans.append(scopeSpans)
                }
                scopeIndex += 1
            case 3:
                try field.expect(.lengthDelimited)
                resourceSpans.schemaURL = try values.string(reader.readLengthDelimited())
            default:
                try reader.skipField(field)
            }
        }
        return !resourceSpans.scopeSpans.isEmpty || scopeIndex == 0 ? resourceSpans : nil
    }

    private mutating func scopeSpans(
        _ range: Range<Int>, index: (resource: Int, scope: Int)
    ) throws(ProtobufDecodingError) -> ScopeSpans? {
        var reader = ProtobufReader(buffer, unchecked: range)
        var scopeSpans = ScopeSpans()
        var spanIndex = 0
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                try values.scope(reader.readLengthDelimited(), depth: Depth.scope, into: &scopeSpans.scope)
            case 2:
                try field.expect(.lengthDelimited)
                let spanRange = try reader.readLengthDelimited()
                if let span = try span(spanRange, index: (index.resource, index.scope, spanIndex)) {
                    if scopeSpans.spans.isEmpty {
                        // Senders write spans of a scope alike: the first one's size tells how many will follow.
                        scopeSpans.spans.reserveCapacity(
                            1 + (range.upperBound - reader.position) / max(spanRange.count, 1))
                    }
                    scopeSpans.spans.append(span)
                }
                spanIndex += 1
            case 3:
                try field.expect(.lengthDelimited)
                scopeSpans.schemaURL = try values.string(reader.readLengthDelimited())
            default:
                try reader.skipField(field)
            }
        }
        return !scopeSpans.spans.isEmpty || spanIndex == 0 ? scopeSpans : nil
    }

    /// A span, or nil when its ids make it rejected (the report counts it).
    private mutating func span(
        _ range: Range<Int>, index: (resource: Int, scope: Int, span: Int)
    ) throws(ProtobufDecodingError) -> Span? {
        var reader = ProtobufReader(buffer, unchecked: range)
        // Absent bytes fields are empty, as swift-protobuf leaves them.
        var traceID = range.lowerBound..<range.lowerBound
        var spanID = traceID
        var parentSpanID = traceID
        var traceState = ""
        var name = ""
        var kind: Int32 = 0
        var start: UInt64 = 0
        var end: UInt64 = 0
        attributes.removeAll(keepingCapacity: true)
        var droppedAttributes: UInt32 = 0
        var events: [SpanEvent] = []
        var droppedEvents: UInt32 = 0
        var links: [SpanLink] = []
        var linkCount = 0
        var linkProblem: Problem?
        var droppedLinks: UInt32 = 0
        var status = SpanStatus()
        var flags: UInt32 = 0
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                traceID = try reader.readLengthDelimited()
            case 2:
                try field.expect(.lengthDelimited)
                spanID = try reader.readLengthDelimited()
            case 3:
                try field.expect(.lengthDelimited)
                traceState = try values.string(reader.readLengthDelimited())
            case 4:
                try field.expect(.lengthDelimited)
                parentSpanID = try reader.readLengthDelimited()
            case 5:
                try field.expect(.lengthDelimited)
                name = try values.string(reader.readLengthDelimited())
            case 6:
                try field.expect(.varint)
                kind = Int32(truncatingIfNeeded: try reader.readVarint())
            case 7:
                try field.expect(.fixed64)
                start = try reader.readFixed64()
            case 8:
                try field.expect(.fixed64)
                end = try reader.readFixed64()
            case 9:
                try field.expect(.lengthDelimited)
                let attribute = try values.attribute(reader.readLengthDelimited(), depth: Depth.spanAttribute)
                attributes.append(attribute)
            case 10:
                try field.expect(.varint)
                droppedAttributes = UInt32(truncatingIfNeeded: try reader.readVarint())
            case 11:
                try field.expect(.lengthDelimited)
                events.append(try event(reader.readLengthDelimited()))
            case 12:
                try field.expect(.varint)
                droppedEvents = UInt32(truncatingIfNeeded: try reader.readVarint())
            case 13:
                try field.expect(.lengthDelimited)
                if let link = try link(reader.readLengthDelimited(), index: linkCount, problem: &linkProblem) {
                    links.append(link)
                }
                linkCount += 1
            case 14:
                try field.expect(.varint)
                droppedLinks = UInt32(truncatingIfNeeded: try reader.readVarint())
            case 15:
                try field.expect(.lengthDelimited)
                try self.status(reader.readLengthDelimited(), into: &status)
            case 16:
                try field.expect(.fixed32)
                flags = try reader.readFixed32()
            default:
                try reader.skipField(field)
            }
        }
        report.total += 1
        // The order `OTLPTraceConversion` checks ids in, so the message names the same problem.
        let problem: Problem?
        if traceID.count != 16 {
            problem = .traceIDLength(traceID.count)
        } else if spanID.count != 8 {
            problem = .spanIDLength(spanID.count)
        } else if parentSpanID.count != 0 && parentSpanID.count != 8 {
            problem = .parentSpanIDLength(parentSpanID.count)
        } else if let linkProblem {
            problem = linkProblem
        } else if Values.isZero(buffer, traceID) {
            problem = .traceIDZero
        } else if Values.isZero(buffer, spanID) {
            problem = .spanIDZero
        } else {
            problem = nil
        }
        if let problem, dropInvalid || !problem.isRepresentable {
            report.reject(problem, name: name, at: index)
            return nil
        }
        return Span(
            traceID: Values.traceID(buffer, traceID), spanID: Values.spanID(buffer, spanID),
            parentSpanID: parentSpanID.isEmpty ? .none : Values.spanID(buffer, parentSpanID), traceState: traceState,
            flags: flags, name: name, kind: SpanKind(rawValue: kind) ?? .unspecified, startTimeUnixNano: start,
            endTimeUnixNano: end, attributes: Self.exactCopy(of: attributes),
            droppedAttributesCount: droppedAttributes, events: events, droppedEventsCount: droppedEvents, links: links,
            droppedLinksCount: droppedLinks, status: status)
    }

    private mutating func event(_ range: Range<Int>) throws(ProtobufDecodingError) -> SpanEvent {
        var reader = ProtobufReader(buffer, unchecked: range)
        var event = SpanEvent(timeUnixNano: 0, name: "")
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.fixed64)
                event.timeUnixNano = try reader.readFixed64()
            case 2:
                try field.expect(.lengthDelimited)
                event.name = try values.string(reader.readLengthDelimited())
            case 3:
                try field.expect(.lengthDelimited)
                let attribute = try values.attribute(reader.readLengthDelimited(), depth: Depth.eventAttribute)
                event.attributes.append(attribute)
            case 4:
                try field.expect(.varint)
                event.droppedAttributesCount = UInt32(truncatingIfNeeded: try reader.readVarint())
            default:
                try reader.skipField(field)
            }
        }
        return event
    }

    /// A link, or nil when its ids have a wrong length (which `SpanLink` cannot hold): then `problem` says so, unless
    /// an earlier link's problem is there already.
    private mutating func link(
        _ range: Range<Int>, index: Int, problem: inout Problem?
    ) throws(ProtobufDecodingError) -> SpanLink? {
        var reader = ProtobufReader(buffer, unchecked: range)
        var traceID = range.lowerBound..<range.lowerBound
        var spanID = traceID
        var traceState = ""
        var attributes: [Attribute] = []
        var droppedAttributes: UInt32 = 0
        var flags: UInt32 = 0
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                traceID = try reader.readLengthDelimited()
            case 2:
                try field.expect(.lengthDelimited)
                spanID = try reader.readLengthDelimited()
            case 3:
                try field.expect(.lengthDelimited)
                traceState = try values.string(reader.readLengthDelimited())
            case 4:
                try field.expect(.lengthDelimited)
                attributes.append(
                    try values.attribute(reader.readLengthDelimited(), depth: Depth.eventAttribute))
            case 5:
                try field.expect(.varint)
                droppedAttributes = UInt32(truncatingIfNeeded: try reader.readVarint())
            case 6:
                try field.expect(.fixed32)
                flags = try reader.readFixed32()
            default:
                try reader.skipField(field)
            }
        }
        guard traceID.count == 16 else {
            problem = problem ?? .linkTraceIDLength(link: index, traceID.count)
            return nil
        }
        guard spanID.count == 8 else {
            problem = problem ?? .linkSpanIDLength(link: index, spanID.count)
            return nil
        }
        return SpanLink(
            traceID: Values.traceID(buffer, traceID), spanID: Values.spanID(buffer, spanID), traceState: traceState,
            attributes: attributes, droppedAttributesCount: droppedAttributes, flags: flags)
    }

    private mutating func status(_ range: Range<Int>, into status: inout SpanStatus) throws(ProtobufDecodingError) {
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 2:
                try field.expect(.lengthDelimited)
                status.message = try values.string(reader.readLengthDelimited())
            case 3:
                try field.expect(.varint)
                status.code = SpanStatus.Code(rawValue: Int32(truncatingIfNeeded: try reader.readVarint())) ?? .unset
            default:
                // 1 is the deprecated `deprecated_code`, reserved in today's proto.
                try reader.skipField(field)
            }
        }
    }

    /// A copy of `elements` in an array of exactly their count, so the scratch keeps its own buffer.
    @inline(__always)
    static func exactCopy<Element>(of elements: [Element]) -> [Element] {
        guard !elements.isEmpty else { return [] }
        return [Element](unsafeUninitializedCapacity: elements.count) { target, count in
            elements.withUnsafeBufferPointer { source in
                _ = target.initialize(fromContentsOf: source)
            }
            count = elements.count
        }
    }
}
