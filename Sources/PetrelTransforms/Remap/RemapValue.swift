import PetrelCore

/// A value in a `remap` program: VRL's types, with timestamps and regular expressions beside JSON's.
public enum RemapValue: Sendable, Equatable {
    case null
    case boolean(Bool)
    case integer(Int64)
    case float(Double)
    case string(String)
    /// Nanoseconds since the Unix epoch, UTC.
    case timestamp(Int64)
    // Boxed, so that a regex (rare) does not make every value as large as it is.
    indirect case regex(RE2SearchRegex)
    case array([RemapValue])
    case object([String: RemapValue])

    /// The value's type, for the checker and for runtime type errors.
    public var kind: RemapKind {
        switch self {
        case .null: .null
        case .boolean: .boolean
        case .integer: .integer
        case .float: .float
        case .string: .string
        case .timestamp: .timestamp
        case .regex: .regex
        case .array: .array
        case .object: .object
        }
    }

    /// VRL's equality: an integer equals the float of the same value.
    public static func == (lhs: RemapValue, rhs: RemapValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.boolean(let a), .boolean(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.float(let a), .float(let b)): a == b
        case (.integer(let a), .float(let b)), (.float(let b), .integer(let a)): Double(a) == b
        case (.string(let a), .string(let b)): a == b
        case (.timestamp(let a), .timestamp(let b)): a == b
        case (.regex(let a), .regex(let b)): a.pattern == b.pattern
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a == b
        default: false
        }
    }

    /// A log field or attribute as the program sees it; bytes become text.
    public init(_ value: AnyValue) {
        switch value {
        case .null: self = .null
        case .bool(let value): self = .boolean(value)
        case .int(let value): self = .integer(value)
        case .double(let value): self = .float(value)
        case .string(let value): self = .string(value)
        case .bytes(let value): self = .string(String(decoding: value, as: UTF8.self))
        case .array(let values): self = .array(values.map(RemapValue.init))
        case .object(let fields): self = .object(fields.mapValues(RemapValue.init))
        }
    }

    /// The value stored back into a log record: timestamps as RFC 3339 text, regular expressions as their pattern.
    public var anyValue: AnyValue {
        switch self {
        case .null: .null
        case .boolean(let value): .bool(value)
        case .integer(let value): .int(value)
        case .float(let value): .double(value)
        case .string(let value): .string(value)
        case .timestamp(let value): .string(RemapTime.rfc3339(value))
        case .regex(let regex): .string(regex.pattern)
        case .array(let values): .array(values.map(\.anyValue))
        case .object(let fields): .object(fields.mapValues(\.anyValue))
        }
    }

    /// Text as `to_string` gives it: strings as they are, numbers and timestamps formatted, null empty;
    /// containers as JSON.
    public var text: String {
        switch self {
        case .null: ""
        case .boolean(let value): value ? "true" : "false"
        case .integer(let value): String(value)
        case .float(let value): Self.floatText(value)
        case .string(let value): value
        case .timestamp(let value): RemapTime.rfc3339(value)
        case .regex(let regex): regex.pattern
        case .array, .object: RemapJSON.encode(self)
        }
    }

    /// A float as VRL prints it: no trailing `.0` on whole numbers.
    static func floatText(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e16 { return String(Int64(value)) }
        return String(value)
    }

    /// The value as it appears in a program, for error messages.
    public var literal: String {
        switch self {
        case .string(let value): RemapJSON.quote(value)
        case .timestamp(let value): "t'\(RemapTime.rfc3339(value))'"
        case .regex(let regex): "r'\(regex.pattern)'"
        case .null: "null"
        case .float(let value): String(value)
        default: text
        }
    }
}

/// A set of VRL types: what an expression may evaluate to.
public struct RemapKind: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let null = RemapKind(rawValue: 1)
    public static let boolean = RemapKind(rawValue: 2)
    public static let integer = RemapKind(rawValue: 4)
    public static let float = RemapKind(rawValue: 8)
    public static let string = RemapKind(rawValue: 16)
    public static let timestamp = RemapKind(rawValue: 32)
    public static let regex = RemapKind(rawValue: 64)
    public static let array = RemapKind(rawValue: 128)
    public static let object = RemapKind(rawValue: 256)
    public static let any: RemapKind = [
        .null, .boolean, .integer, .float, .string, .timestamp, .regex, .array, .object,
    ]
    public static let number: RemapKind = [.integer, .float]
    public static let scalar: RemapKind = [.null, .boolean, .integer, .float, .string, .timestamp]

    private static let names: [(RemapKind, String)] = [
        (.string, "string"), (.integer, "integer"), (.float, "float"), (.boolean, "boolean"), (.object, "object"),
        (.array, "array"), (.timestamp, "timestamp"), (.regex, "regex"), (.null, "null"),
    ]

    /// Whether the two sets share a type.
    public func intersects(_ other: RemapKind) -> Bool { !isDisjoint(with: other) }

    public var description: String {
        if self == .any { return "any" }
        let words = Self.names.filter { contains($0.0) }.map(\.1)
        if words.isEmpty { return "never" }
        if words.count == 1 { return words[0] }
        return words.dropLast().joined(separator: ", ") + " or " + words.last!
    }
}
