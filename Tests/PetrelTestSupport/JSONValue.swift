import Foundation

/// A JSON value as the log stores' receivers read one: the type of each value matters to them (Elasticsearch maps a
/// field by the first value it sees), so it is kept, not guessed from an `NSNumber`.
public enum JSONValue: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let int = try? container.decode(Int64.self) {
            self = .int(int)
        } else if let double = try? container.decode(Double.self) {
            self = .double(double)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses one JSON document; nil when it is not one.
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The value as VictoriaLogs stores it: strings as they are, anything else as its JSON text.
    public var text: String {
        switch self {
        case .null: ""
        case .bool(let bool): bool ? "true" : "false"
        case .int(let int): String(int)
        case .double(let double): String(double)
        case .string(let text): text
        case .array(let values): "[" + values.map(\.json).joined(separator: ",") + "]"
        case .object: json
        }
    }

    private var json: String {
        switch self {
        case .string(let text):
            let data = try? JSONEncoder().encode(text)
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
        case .object(let fields):
            return "{"
                + fields.keys.sorted().map { "\(JSONValue.string($0).json):\(fields[$0]!.json)" }
                .joined(separator: ",") + "}"
        case .null: return "null"
        default: return text
        }
    }
}
