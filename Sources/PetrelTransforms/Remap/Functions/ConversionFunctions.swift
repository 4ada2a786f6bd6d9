extension RemapFunctions {
    /// `to_*` coercions, type assertions (`string`, `int`...) and type tests (`is_*`).
    static let conversion: [RemapFunction] = [
        RemapFunction(
            "to_string", [Parameter("value", .any)], returns: .string,
            fallible: { !($0.kinds[0] ?? .any).isSubset(of: RemapKind.scalar.union(.regex)) },
            compile: { _ in
                { arguments in
                    let value = arguments.value(0)
                    switch value {
                    case .array, .object: throw failure("unable to coerce \(value.kind) into string")
                    default: return .string(value.text)
                    }
                }
            }),
        RemapFunction(
            "to_int", [Parameter("value", .any)], returns: .integer,
            fallible: { !($0.kinds[0] ?? .any).isSubset(of: [.integer, .float, .boolean, .null, .timestamp]) },
            compile: { _ in
                { arguments in
                    switch arguments.value(0) {
                    case .integer(let value): return .integer(value)
                    case .float(let value):
                        guard value.isFinite, abs(value) < 9.2e18 else {
                            throw failure("float out of range for integer")
                        }
                        return .integer(Int64(value))
                    case .boolean(let value): return .integer(value ? 1 : 0)
                    case .null: return .integer(0)
                    case .timestamp(let value): return .integer(floorDivide(value, RemapTime.nanosPerSecond))
                    case .string(let text):
                        guard let value = Int64(text.trimmingSpaces()) else {
                            throw failure("unable to coerce \"\(text)\" into integer: invalid digit found in string")
                        }
                        return .integer(value)
                    case let value: throw failure("unable to coerce \(value.kind) into integer")
                    }
                }
            }),
        RemapFunction(
            "to_float", [Parameter("value", .any)], returns: .float,
            fallible: { !($0.kinds[0] ?? .any).isSubset(of: [.integer, .float, .boolean, .null, .timestamp]) },
            compile: { _ in
                { arguments in
                    switch arguments.value(0) {
                    case .integer(let value): return .float(Double(value))
                    case .float(let value): return .float(value)
                    case .boolean(let value): return .float(value ? 1 : 0)
                    case .null: return .float(0)
                    case .timestamp(let value): return .float(Double(value) / 1e9)
                    case .string(let text):
                        guard let value = Double(text.trimmingSpaces()) else {
                            throw failure("unable to coerce \"\(text)\" into float: invalid float literal")
                        }
                        return .float(value)
                    case let value: throw failure("unable to coerce \(value.kind) into float")
                    }
                }
            }),
        RemapFunction(
            "to_bool", [Parameter("value", .any)], returns: .boolean,
            fallible: { !($0.kinds[0] ?? .any).isSubset(of: [.integer, .float, .boolean, .null]) },
            compile: { _ in
                { arguments in
                    switch arguments.value(0) {
                    case .boolean(let value): return .boolean(value)
                    case .integer(let value): return .boolean(value != 0)
                    case .float(let value): return .boolean(value != 0)
                    case .null: return .boolean(false)
                    case .string(let text):
                        switch text.lowercased() {
                        case "true", "t", "yes", "y", "on", "1": return .boolean(true)
                        case "false", "f", "no", "n", "off", "0": return .boolean(false)
                        default: throw failure("unable to coerce \"\(text)\" into boolean")
                        }
                    case let value: throw failure("unable to coerce \(value.kind) into boolean")
                    }
                }
            }),
        assertion("string", .string),
        assertion("int", .integer),
        assertion("float", .float),
        assertion("bool", .boolean),
        assertion("object", .object),
        assertion("array", .array),
        assertion("timestamp", .timestamp),
        test("is_null", .null),
        test("is_string", .string),
        test("is_object", .object),
        test("is_array", .array),
        test("is_boolean", .boolean),
        test("is_integer", .integer),
        test("is_float", .float),
        test("is_timestamp", .timestamp),
    ]

    /// `string(value)`: the value when it has the type, an error otherwise; it tells the checker the type.
    private static func assertion(_ name: String, _ kind: RemapKind) -> RemapFunction {
        RemapFunction(
            name, [Parameter("value", .any)], returns: kind, fallible: { !($0.kinds[0] ?? .any).isSubset(of: kind) },
            compile: { _ in
                { arguments in
                    let value = arguments.value(0)
                    guard value.kind == kind else { throw failure("expected \(kind), got \(value.kind)") }
                    return value
                }
            })
    }

    private static func test(_ name: String, _ kind: RemapKind) -> RemapFunction {
        RemapFunction(name, [Parameter("value", .any)], returns: .boolean, fallible: false) { arguments in
            .boolean(arguments.value(0).kind == kind)
        }
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }
}
