import PetrelCore

/// Decodes OTLP `ExportLogsServiceRequest` protobuf into log batches by walking the wire format: no generated message
/// objects in between.
///
/// It gives the batch `OTLPLogConversion.logBatch(from:)` gives for the request swift-protobuf decodes from the same
/// bytes (see `OTLPValueDecoding` for the decoding rules kept), and refuses the malformed requests swift-protobuf
/// refuses, plus known fields with the wrong wire type.
public enum OTLPLogDecoder {
    /// The records of an encoded request, in order.
    public static func decode(_ bytes: [UInt8]) throws(OTLPDecodingError) -> LogBatch {
        let result: Result<LogBatch, ProtobufDecodingError> = bytes.withUnsafeBytes { buffer in
            do throws(ProtobufDecodingError) {
                return .success(try decode(buffer))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let batch): return batch
        case .failure(let error): throw .protobuf(error, decoding: "ExportLogsServiceRequest")
        }
    }

    /// The same over borrowed bytes, throwing the wire-level error.
    public static func decode(_ buffer: UnsafeRawBufferPointer) throws(ProtobufDecodingError) -> LogBatch {
        var decoding = OTLPLogDecoding(buffer: buffer)
        try decoding.request()
        return decoding.batch
    }
}

/// The decoding of one logs request.
///
/// A resource's attributes and schema URL, and a scope's name, version and schema URL, go into every record under
/// them, but the wire may send them after the records (schema URLs come last in field order): each `ResourceLogs` and
/// `ScopeLogs` is read twice, first for those fields, skipping the records, then for the records.
struct OTLPLogDecoding {
    private typealias Values = OTLPValueDecoding
    private typealias Key = OTLPLogConversion.MetadataKey

    let buffer: UnsafeRawBufferPointer
    var batch = LogBatch()
    private var values: OTLPValueDecoding
    /// The current record's attributes, gathered first so its fields dictionary is made at its final size.
    private var attributes: [Attribute] = []

    init(buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        values = OTLPValueDecoding(buffer: buffer)
    }

    /// Nesting levels, counting the request as 1, as swift-protobuf counts them.
    private enum Depth {
        static let resource = 3
        static let scope = 4
        static let body = 5
        static let attribute = 5
    }

    mutating func request() throws(ProtobufDecodingError) {
        var reader = ProtobufReader(buffer)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            guard field.number == 1 else {
                try reader.skipField(field)
                continue
            }
            try field.expect(.lengthDelimited)
            try resourceLogs(reader.readLengthDelimited())
        }
    }

    private mutating func resourceLogs(_ range: Range<Int>) throws(ProtobufDecodingError) {
        var resource = Resource()
        var schemaURL = ""
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                try values.resource(reader.readLengthDelimited(), depth: Depth.resource, into: &resource)
            case 3:
                try field.expect(.lengthDelimited)
                schemaURL = try values.string(reader.readLengthDelimited())
            default:
                try reader.skipField(field)
            }
        }
        reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            guard field.number == 2 else {
                try reader.skipField(field)
                continue
            }
            try field.expect(.lengthDelimited)
            try scopeLogs(reader.readLengthDelimited(), resource: resource.attributes, resourceSchemaURL: schemaURL)
        }
    }

    private mutating func scopeLogs(
        _ range: Range<Int>, resource: [Attribute], resourceSchemaURL: String
    ) throws(ProtobufDecodingError) {
        var scope = InstrumentationScope()
        var schemaURL = ""
        var reader = ProtobufReader(buffer, unchecked: range)
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.lengthDelimited)
                try values.scope(reader.readLengthDelimited(), depth: Depth.scope, into: &scope)
            case 3:
                try field.expect(.lengthDelimited)
                schemaURL = try values.string(reader.readLengthDelimited())
            default:
                try reader.skipField(field)
            }
        }
        var scopeMetadata: [(key: String, value: String)] = []
        if !scope.name.isEmpty { scopeMetadata.append((Key.scopeName, scope.name)) }
        if !scope.version.isEmpty { scopeMetadata.append((Key.scopeVersion, scope.version)) }
        if !schemaURL.isEmpty { scopeMetadata.append((Key.scopeSchemaURL, schemaURL)) }
        if !resourceSchemaURL.isEmpty { scopeMetadata.append((Key.resourceSchemaURL, resourceSchemaURL)) }
        reader = ProtobufReader(buffer, unchecked: range)
        var first = true
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            guard field.number == 2 else {
                try reader.skipField(field)
                continue
            }
            try field.expect(.lengthDelimited)
            let recordRange = try reader.readLengthDelimited()
            if first {
                // Senders write records of a scope alike: the first one's size tells how many will follow.
                batch.records.reserveCapacity(
                    batch.records.count + 1 + (range.upperBound - reader.position) / max(recordRange.count, 1))
                first = false
            }
            batch.records.append(try record(recordRange, resource: resource, scopeMetadata: scopeMetadata))
        }
    }

    private mutating func record(
        _ range: Range<Int>, resource: [Attribute], scopeMetadata: [(key: String, value: String)]
    ) throws(ProtobufDecodingError) -> LogRecord {
        var reader = ProtobufReader(buffer, unchecked: range)
        var time: UInt64 = 0
        var observedTime: UInt64 = 0
        var severityNumber: Int32 = 0
        var severityText = ""
        var body = AnyValue.null
        var hasBody = false
        attributes.removeAll(keepingCapacity: true)
        var droppedAttributes: UInt32 = 0
        var flags: UInt32 = 0
        var traceID = range.lowerBound..<range.lowerBound
        var spanID = traceID
        var eventName = ""
        while !reader.isAtEnd {
            let field = try reader.readFieldKey()
            switch field.number {
            case 1:
                try field.expect(.fixed64)
                time = try reader.readFixed64()
            case 2:
                try field.expect(.varint)
                severityNumber = Int32(truncatingIfNeeded: try reader.readVarint())
            case 3:
                try field.expect(.lengthDelimited)
                severityText = try values.string(reader.readLengthDelimited())
            case 5:
                try field.expect(.lengthDelimited)
                let set = try values.anyValue(reader.readLengthDelimited(), depth: Depth.body, into: &body)
                hasBody = hasBody || set
            case 6:
                try field.expect(.lengthDelimited)
                attributes.append(try values.attribute(reader.readLengthDelimited(), depth: Depth.attribute))
            case 7:
                try field.expect(.varint)
                droppedAttributes = UInt32(truncatingIfNeeded: try reader.readVarint())
            case 8:
                try field.expect(.fixed32)
                flags = try reader.readFixed32()
            case 9:
                try field.expect(.lengthDelimited)
                traceID = try reader.readLengthDelimited()
            case 10:
                try field.expect(.lengthDelimited)
                spanID = try reader.readLengthDelimited()
            case 11:
                try field.expect(.fixed64)
                observedTime = try reader.readFixed64()
            case 12:
                try field.expect(.lengthDelimited)
                eventName = try values.string(reader.readLengthDelimited())
            default:
                try reader.skipField(field)
            }
        }
        var fields = [String: AnyValue](minimumCapacity: attributes.count + (hasBody ? 1 : 0))
        // The first of duplicate keys wins, as `OTLPValueConversion.object` has it.
        for attribute in attributes where fields[attribute.key] == nil { fields[attribute.key] = attribute.value }
        let number = Int(severityNumber)
        var bodyIsText = false
        if hasBody, case .string = body { bodyIsText = true }
        // Sized to what it will hold: a record's dictionary lives as long as the record, in every queue it waits in.
        var entries = scopeMetadata.count + (hasBody && !bodyIsText ? 1 : 0) + (number != 0 ? 1 : 0)
        entries += (traceID.isEmpty ? 0 : 1) + (spanID.isEmpty ? 0 : 1) + (flags != 0 ? 1 : 0)
        entries += (observedTime != 0 ? 1 : 0) + (eventName.isEmpty ? 0 : 1) + (droppedAttributes != 0 ? 1 : 0)
        var metadata = [String: String](minimumCapacity: entries)
        for (key, value) in scopeMetadata { metadata[key] = value }
        var message = ""
        if hasBody {
            if case .string(let text) = body {
                message = text
            } else {
                fields["body"] = body
                metadata[Key.bodyInFields] = "true"
            }
        }
        if severityText.isEmpty { severityText = OTLPLogConversion.severityName(number) }
        if number != 0 { metadata[Key.severityNumber] = String(number) }
        if !traceID.isEmpty { metadata[Key.traceID] = OTLPHex.encode(buffer[traceID]) }
        if !spanID.isEmpty { metadata[Key.spanID] = OTLPHex.encode(buffer[spanID]) }
        if flags != 0 { metadata[Key.flags] = String(flags) }
        if observedTime != 0 { metadata[Key.observedTimeUnixNano] = String(observedTime) }
        if !eventName.isEmpty { metadata[Key.eventName] = eventName }
        if droppedAttributes != 0 { metadata[Key.droppedAttributesCount] = String(droppedAttributes) }
        return LogRecord(
            timestamp: Int64(clamping: time != 0 ? time : observedTime), message: message, severity: severityText,
            fields: fields, metadata: metadata, resource: resource)
    }
}
