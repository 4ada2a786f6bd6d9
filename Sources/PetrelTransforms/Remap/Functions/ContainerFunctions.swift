extension RemapFunctions {
    /// Objects and arrays: `merge`, `compact`, `flatten`, `keys`, `values`, `length`, `includes`.
    static let containers: [RemapFunction] = [
        RemapFunction(
            "merge",
            [Parameter("to", .object), Parameter("from", .object), Parameter("deep", .boolean, required: false)],
            returns: .object, fallible: false
        ) { arguments in
            .object(merge(try arguments.object(0), try arguments.object(1), deep: arguments.bool(2, default: false)))
        },
        RemapFunction(
            "compact",
            [
                Parameter("value", [.object, .array]), Parameter("recursive", .boolean, required: false),
                Parameter("null", .boolean, required: false), Parameter("string", .boolean, required: false),
                Parameter("object", .boolean, required: false), Parameter("array", .boolean, required: false),
                Parameter("nullish", .boolean, required: false),
            ], returns: [.object, .array], fallible: false
        ) { arguments in
            let options = CompactOptions(
                recursive: arguments.bool(1, default: true), null: arguments.bool(2, default: true),
                string: arguments.bool(3, default: true), object: arguments.bool(4, default: true),
                array: arguments.bool(5, default: true), nullish: arguments.bool(6, default: false))
            return compact(arguments.value(0), options)
        },
        RemapFunction(
            "flatten", [Parameter("value", [.object, .array]), Parameter("separator", .string, required: false)],
            returns: [.object, .array], fallible: false
        ) { arguments in
            let separator = arguments.optionalString(1) ?? "."
            switch arguments.value(0) {
            case .object(let fields):
                var output: [String: RemapValue] = [:]
                flatten(fields, prefix: nil, separator: separator, into: &output)
                return .object(output)
            case .array(let values): return .array(flatten(values))
            case let value: return value
            }
        },
        RemapFunction("keys", [Parameter("value", .object)], returns: .array, fallible: false) { arguments in
            .array(try arguments.object(0).keys.sorted().map(RemapValue.string))
        },
        RemapFunction("values", [Parameter("value", .object)], returns: .array, fallible: false) { arguments in
            let fields = try arguments.object(0)
            return .array(fields.keys.sorted().map { fields[$0]! })
        },
        RemapFunction("length", [Parameter("value", [.array, .object, .string])], returns: .integer, fallible: false) {
            arguments in
            switch arguments.value(0) {
            case .array(let values): return .integer(Int64(values.count))
            case .object(let fields): return .integer(Int64(fields.count))
            case .string(let text): return .integer(Int64(text.utf8.count))
            default: throw failure("expected array, object or string")
            }
        },
        RemapFunction(
            "includes", [Parameter("value", .array), Parameter("item", .any)], returns: .boolean, fallible: false
        ) {
            arguments in
            .boolean(try arguments.array(0).contains(arguments.value(1)))
        },
    ]

    static func merge(_ to: [String: RemapValue], _ from: [String: RemapValue], deep: Bool) -> [String: RemapValue] {
        var output = to
        for (key, value) in from {
            if deep, case .object(let existing)? = output[key], case .object(let incoming) = value {
                output[key] = .object(merge(existing, incoming, deep: true))
            } else {
                output[key] = value
            }
        }
        return output
    }

    struct CompactOptions {
        var recursive, null, string, object, array, nullish: Bool
    }

    static func compact(_ value: RemapValue, _ options: CompactOptions) -> RemapValue {
        func isEmpty(_ value: RemapValue) -> Bool {
            switch value {
            case .null: return options.null || options.nullish
            case .string(let text):
                if options.string, text.isEmpty { return true }
                return options.nullish && (text == "-" || text.allSatisfy(\.isWhitespace))
            case .object(let fields): return options.object && fields.isEmpty
            case .array(let values): return options.array && values.isEmpty
            default: return false
            }
        }
        func inner(_ value: RemapValue) -> RemapValue {
            guard options.recursive else { return value }
            switch value {
            case .object, .array: return compact(value, options)
            default: return value
            }
        }
        switch value {
        case .object(let fields):
            var output: [String: RemapValue] = [:]
            for (key, item) in fields {
                let compacted = inner(item)
                if !isEmpty(compacted) { output[key] = compacted }
            }
            return .object(output)
        case .array(let values):
            return .array(values.map(inner).filter { !isEmpty($0) })
        default:
            return value
        }
    }

    static func flatten(
        _ fields: [String: RemapValue], prefix: String?, separator: String, into output: inout [String: RemapValue]
    ) {
        for (key, value) in fields {
            let name = prefix.map { $0 + separator + key } ?? key
            if case .object(let inner) = value, !inner.isEmpty {
                flatten(inner, prefix: name, separator: separator, into: &output)
            } else {
                output[name] = value
            }
        }
    }

    static func flatten(_ values: [RemapValue]) -> [RemapValue] {
        values.flatMap { value -> [RemapValue] in
            if case .array(let inner) = value { return flatten(inner) }
            return [value]
        }
    }
}
