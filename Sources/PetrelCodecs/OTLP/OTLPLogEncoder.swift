import PetrelCore

/// Encodes a log batch as an OTLP `ExportLogsServiceRequest`, straight from the model, byte for byte what
/// swift-protobuf writes for `OTLPLogConversion.request(from:)`: records grouped by identical resource, then by
/// scope, in the order they first appear.
public struct OTLPLogEncoder: Sendable {
    private typealias Wire = OTLPValueEncoding
    private typealias Key = OTLPLogConversion.MetadataKey

    private var values = OTLPValueEncoding()

    public init() {}

    /// The record fields the wire has, worked out once from the record's metadata for both passes.
    private struct Fields {
        var time: UInt64
        var severityNumber: Int
        var severityText: String
        var body: AnyValue?
        var attributes: [(key: String, value: AnyValue)]
        var droppedAttributes: UInt32
        var flags: UInt32
        var traceID: [UInt8]
        var spanID: [UInt8]
        var observedTime: UInt64
        var eventName: String

        init(_ record: LogRecord) {
            time = UInt64(clamping: record.timestamp)
            severityText = record.severity
            var number: Int?
            var bodyInFields = false
            traceID = []
            spanID = []
            flags = 0
            eventName = ""
            droppedAttributes = 0
            observedTime = 0
            // One pass over the metadata, which is mostly other keys (a file source's `file`, `host`...), rather than
            // a hashed lookup per OTLP key.
            for (key, value) in record.metadata {
                switch key {
                case Key.severityNumber: number = Int(value)
                case Key.bodyInFields: bodyInFields = value == "true"
                case Key.traceID: traceID = OTLPHex.decode(value) ?? []
                case Key.spanID: spanID = OTLPHex.decode(value) ?? []
                case Key.flags: flags = UInt32(value) ?? 0
                case Key.eventName: eventName = value
                case Key.droppedAttributesCount: droppedAttributes = UInt32(value) ?? 0
                case Key.observedTimeUnixNano: observedTime = UInt64(value) ?? 0
                default: break
                }
            }
            severityNumber = number ?? OTLPLogConversion.severityNumber(record.severity)
            var fields = record.fields
            if bodyInFields, let value = fields.removeValue(forKey: "body") {
                body = value
            } else if !record.message.isEmpty {
                body = .string(record.message)
            } else {
                body = nil
            }
            attributes = OTLPValueEncoding.sorted(fields)
        }
    }

    private struct ScopeGroup {
        var name: String
        var version: String
        var schemaURL: String
        var records: [Int] = []
    }

    private struct ResourceGroup {
        var attributes: [Attribute]
        var schemaURL: String
        var scopes: [ScopeGroup] = []
    }

    public mutating func encode(_ batch: LogBatch) -> [UInt8] {
        let groups = Self.group(batch)
        let fields = batch.records.map(Fields.init)
        values.reset()
        var total = 0
        for group in groups {
            total += Wire.field(1, measure(group, fields))
        }
        values.startWriting()
        return ProtobufWriter.makeBytes(count: total) { writer in
            for group in groups {
                write(group, fields, to: &writer)
            }
        }
    }

    /// Records by resource (attributes and schema URL), then by scope (name, version, schema URL), as
    /// `OTLPLogConversion.request(from:)` groups them.
    private static func group(_ batch: LogBatch) -> [ResourceGroup] {
        struct ResourceKey: Hashable {
            var attributes: [Attribute]
            var schemaURL: String
        }
        struct ScopeKey: Hashable {
            var name: String
            var version: String
            var schemaURL: String
        }
        var groups: [ResourceGroup] = []
        var resourceIndex: [ResourceKey: Int] = [:]
        var scopeIndex: [[ScopeKey: Int]] = []
        var previous: (resource: ResourceKey, scope: ScopeKey, group: (resource: Int, scope: Int))?
        for (index, record) in batch.records.enumerated() {
            let resourceKey = ResourceKey(
                attributes: record.resource, schemaURL: record.metadata[Key.resourceSchemaURL] ?? "")
            let scopeKey = ScopeKey(
                name: record.metadata[Key.scopeName] ?? "", version: record.metadata[Key.scopeVersion] ?? "",
                schemaURL: record.metadata[Key.scopeSchemaURL] ?? "")
            // Records of one resource and scope come together, sharing the resource's array: comparing with the
            // previous record is cheap where hashing the attributes is not.
            if let previous, previous.resource == resourceKey, previous.scope == scopeKey {
                groups[previous.group.resource].scopes[previous.group.scope].records.append(index)
                continue
            }
            let resource: Int
            if let position = resourceIndex[resourceKey] {
                resource = position
            } else {
                resource = groups.count
                resourceIndex[resourceKey] = resource
                scopeIndex.append([:])
                groups.append(ResourceGroup(attributes: record.resource, schemaURL: resourceKey.schemaURL))
            }
            let scope: Int
            if let position = scopeIndex[resource][scopeKey] {
                scope = position
            } else {
                scope = groups[resource].scopes.count
                scopeIndex[resource][scopeKey] = scope
                groups[resource].scopes.append(
                    ScopeGroup(name: scopeKey.name, version: scopeKey.version, schemaURL: scopeKey.schemaURL))
            }
            groups[resource].scopes[scope].records.append(index)
            previous = (resourceKey, scopeKey, (resource, scope))
        }
        return groups
    }

    // MARK: Measuring

    private mutating func measure(_ group: ResourceGroup, _ fields: [Fields]) -> Int {
        let slot = values.reserveLength()
        // The resource and the scope are always there, as the conversion sets them.
        let resourceSlot = values.reserveLength()
        let resourceLength = values.measure(group.attributes, field: 1)
        values.lengths[resourceSlot] = resourceLength
        var length = Wire.field(1, resourceLength)
        for scope in group.scopes {
            let scopeSlot = values.reserveLength()
            let scopeFieldSlot = values.reserveLength()
            let scopeFieldLength = Wire.string(1, scope.name) + Wire.string(2, scope.version)
            values.lengths[scopeFieldSlot] = scopeFieldLength
            var scopeLength = Wire.field(1, scopeFieldLength)
            for record in scope.records {
                scopeLength += Wire.field(2, measure(fields[record]))
            }
            scopeLength += Wire.string(3, scope.schemaURL)
            values.lengths[scopeSlot] = scopeLength
            length += Wire.field(2, scopeLength)
        }
        length += Wire.string(3, group.schemaURL)
        values.lengths[slot] = length
        return length
    }

    private mutating func measure(_ record: Fields) -> Int {
        let slot = values.reserveLength()
        var length = Wire.fixed64(1, record.time)
        length += Wire.varint(2, UInt64(bitPattern: Int64(record.severityNumber)))
        length += Wire.string(3, record.severityText)
        if let body = record.body { length += Wire.field(5, values.measure(body)) }
        for (key, value) in record.attributes {
            length += Wire.field(6, values.measure(key: key, value))
        }
        length += Wire.varint(7, UInt64(record.droppedAttributes)) + Wire.fixed32(8, record.flags)
        length += Self.bytes(9, record.traceID) + Self.bytes(10, record.spanID)
        length += Wire.fixed64(11, record.observedTime) + Wire.string(12, record.eventName)
        values.lengths[slot] = length
        return length
    }

    // MARK: Writing

    private mutating func write(_ group: ResourceGroup, _ fields: [Fields], to writer: inout ProtobufWriter) {
        values.header(1, &writer)
        values.header(1, &writer)
        values.write(group.attributes, field: 1, to: &writer)
        for scope in group.scopes {
            values.header(2, &writer)
            values.header(1, &writer)
            Wire.string(1, scope.name, &writer)
            Wire.string(2, scope.version, &writer)
            for record in scope.records {
                write(fields[record], to: &writer)
            }
            Wire.string(3, scope.schemaURL, &writer)
        }
        Wire.string(3, group.schemaURL, &writer)
    }

    private mutating func write(_ record: Fields, to writer: inout ProtobufWriter) {
        values.header(2, &writer)
        Wire.fixed64(1, record.time, &writer)
        Wire.varint(2, UInt64(bitPattern: Int64(record.severityNumber)), &writer)
        Wire.string(3, record.severityText, &writer)
        if let body = record.body { values.write(body, field: 5, to: &writer) }
        for (key, value) in record.attributes {
            values.write(key: key, value, field: 6, to: &writer)
        }
        Wire.varint(7, UInt64(record.droppedAttributes), &writer)
        Wire.fixed32(8, record.flags, &writer)
        Self.bytes(9, record.traceID, &writer)
        Self.bytes(10, record.spanID, &writer)
        Wire.fixed64(11, record.observedTime, &writer)
        Wire.string(12, record.eventName, &writer)
    }

    private static func bytes(_ number: UInt32, _ bytes: [UInt8]) -> Int {
        bytes.isEmpty ? 0 : Wire.field(number, bytes.count)
    }

    private static func bytes(_ number: UInt32, _ bytes: [UInt8], _ writer: inout ProtobufWriter) {
        if !bytes.isEmpty { bytes.withUnsafeBytes { writer.writeBytesField(number, $0) } }
    }
}
