/// A JSON-like value: log fields and OpenTelemetry attribute values (OTLP `AnyValue`).
public enum AnyValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case array([AnyValue])
    case object([String: AnyValue])

    /// The value as text, for conditions and label values; containers have no text form.
    public var text: String? {
        switch self {
        case .null: nil
        case .bool(let value): value ? "true" : "false"
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .string(let value): value
        case .bytes, .array, .object: nil
        }
    }

    var estimatedBytes: Int {
        switch self {
        case .null, .bool: 1
        case .int, .double: 8
        case .string(let value): value.utf8.count
        case .bytes(let value): value.count
        case .array(let values): values.reduce(0) { $0 + $1.estimatedBytes }
        case .object(let fields): fields.reduce(0) { $0 + $1.key.utf8.count + $1.value.estimatedBytes }
        }
    }
}

/// A key and its value, in the order the sender gave them (OTLP `KeyValue`).
public struct Attribute: Sendable, Hashable {
    public var key: String
    public var value: AnyValue

    public init(_ key: String, _ value: AnyValue) {
        self.key = key
        self.value = value
    }
}

extension Array where Element == Attribute {
    /// The value of the first attribute with this key.
    public subscript(key: String) -> AnyValue? {
        first { $0.key == key }?.value
    }

    /// Sets `key` to `value`, replacing an existing attribute or appending a new one.
    public mutating func set(_ key: String, _ value: AnyValue) {
        if let index = firstIndex(where: { $0.key == key }) {
            self[index].value = value
        } else {
            append(Attribute(key, value))
        }
    }

    var estimatedBytes: Int { reduce(0) { $0 + $1.key.utf8.count + $1.value.estimatedBytes } }
}
