import Foundation
import OTLPProtos
import PetrelCore

/// Conversions shared by the OTLP signals: attribute values, resources, scopes and ids.
enum OTLPValueConversion {
    typealias ProtoValue = Opentelemetry_Proto_Common_V1_AnyValue
    typealias ProtoKeyValue = Opentelemetry_Proto_Common_V1_KeyValue
    typealias ProtoResource = Opentelemetry_Proto_Resource_V1_Resource
    typealias ProtoScope = Opentelemetry_Proto_Common_V1_InstrumentationScope

    // MARK: Values

    static func anyValue(_ value: ProtoValue) -> AnyValue {
        switch value.value {
        case .stringValue(let text): .string(text)
        case .boolValue(let flag): .bool(flag)
        case .intValue(let number): .int(number)
        case .doubleValue(let number): .double(number)
        case .bytesValue(let bytes): .bytes([UInt8](bytes))
        case .arrayValue(let array): .array(array.values.map(anyValue))
        case .kvlistValue(let list): .object(object(list.values))
        // String-table indexes belong to the profiles signal, which has no table here to resolve them against.
        case .stringValueStrindex, nil: .null
        }
    }

    static func protoValue(_ value: AnyValue) -> ProtoValue {
        var proto = ProtoValue()
        switch value {
        case .null: break
        case .bool(let flag): proto.value = .boolValue(flag)
        case .int(let number): proto.value = .intValue(number)
        case .double(let number): proto.value = .doubleValue(number)
        case .string(let text): proto.value = .stringValue(text)
        case .bytes(let bytes): proto.value = .bytesValue(Data(bytes))
        case .array(let values):
            var array = Opentelemetry_Proto_Common_V1_ArrayValue()
            array.values = values.map(protoValue)
            proto.value = .arrayValue(array)
        case .object(let fields):
            var list = Opentelemetry_Proto_Common_V1_KeyValueList()
            list.values = keyValues(fields)
            proto.value = .kvlistValue(list)
        }
        return proto
    }

    /// Key-value pairs as an object; the first of duplicate keys wins, as `[Attribute]`'s subscript reads them.
    static func object(_ pairs: [ProtoKeyValue]) -> [String: AnyValue] {
        var object: [String: AnyValue] = [:]
        object.reserveCapacity(pairs.count)
        for pair in pairs where object[pair.key] == nil {
            object[pair.key] = anyValue(pair.value)
        }
        return object
    }

    /// An object as key-value pairs sorted by key, so that the same object always encodes the same bytes.
    static func keyValues(_ fields: [String: AnyValue]) -> [ProtoKeyValue] {
        fields.sorted { $0.key < $1.key }.map { keyValue($0.key, $0.value) }
    }

    static func keyValue(_ key: String, _ value: AnyValue) -> ProtoKeyValue {
        var pair = ProtoKeyValue()
        pair.key = key
        pair.value = protoValue(value)
        return pair
    }

    static func attributes(_ pairs: [ProtoKeyValue]) -> [Attribute] {
        pairs.map { Attribute($0.key, anyValue($0.value)) }
    }

    static func keyValues(_ attributes: [Attribute]) -> [ProtoKeyValue] {
        attributes.map { keyValue($0.key, $0.value) }
    }

    // MARK: Resources and scopes

    static func resource(_ proto: ProtoResource) -> Resource {
        Resource(attributes: attributes(proto.attributes), droppedAttributesCount: proto.droppedAttributesCount)
    }

    static func protoResource(_ resource: Resource) -> ProtoResource {
        var proto = ProtoResource()
        proto.attributes = keyValues(resource.attributes)
        proto.droppedAttributesCount = resource.droppedAttributesCount
        return proto
    }

    static func scope(_ proto: ProtoScope) -> InstrumentationScope {
        InstrumentationScope(
            name: proto.name, version: proto.version, attributes: attributes(proto.attributes),
            droppedAttributesCount: proto.droppedAttributesCount)
    }

    static func protoScope(_ scope: InstrumentationScope) -> ProtoScope {
        var proto = ProtoScope()
        proto.name = scope.name
        proto.version = scope.version
        proto.attributes = keyValues(scope.attributes)
        proto.droppedAttributesCount = scope.droppedAttributesCount
        return proto
    }

    // MARK: Ids

    /// A 16-byte trace id, or nil for any other length.
    @inline(__always)
    static func traceID(_ bytes: Data) -> TraceID? {
        guard bytes.count == 16 else { return nil }
        return bytes.withUnsafeBytes { raw in
            TraceID(
                high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    /// An 8-byte span id, or nil for any other length.
    @inline(__always)
    static func spanID(_ bytes: Data) -> SpanID? {
        guard bytes.count == 8 else { return nil }
        return bytes.withUnsafeBytes { raw in
            SpanID(UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)))
        }
    }

    static func data(_ id: TraceID) -> Data {
        var words = (id.high.bigEndian, id.low.bigEndian)
        return withUnsafeBytes(of: &words) { Data($0) }
    }

    static func data(_ id: SpanID) -> Data {
        var word = id.value.bigEndian
        return withUnsafeBytes(of: &word) { Data($0) }
    }
}
