import PetrelCore

extension RemapFunctions {
    /// Text: case, tests, search and replace, splitting and joining, and the `encode_*` writers.
    static let strings: [RemapFunction] = [
        RemapFunction("downcase", [Parameter("value", .string)], returns: .string, fallible: false) { arguments in
            .string(try arguments.string(0).lowercased())
        },
        RemapFunction("upcase", [Parameter("value", .string)], returns: .string, fallible: false) { arguments in
            .string(try arguments.string(0).uppercased())
        },
        RemapFunction("strip_whitespace", [Parameter("value", .string)], returns: .string, fallible: false) {
            arguments in
            .string(try arguments.string(0).trimmingSpaces())
        },
        affix("contains") { $0.contains($1) || $1.isEmpty },
        affix("starts_with") { $0.hasPrefix($1) },
        affix("ends_with") { $0.hasSuffix($1) },
        RemapFunction(
            "replace",
            [
                Parameter("value", .string), Parameter("pattern", [.string, .regex]), Parameter("with", .string),
                Parameter("count", .integer, required: false),
            ], returns: .string, fallible: false
        ) { arguments in
            let text = try arguments.string(0)
            let replacement = try arguments.string(2)
            let count = arguments.optionalInteger(3) ?? -1
            switch arguments.value(1) {
            case .regex(let regex):
                var matches = regex.allMatches(in: text)
                if count >= 0 { matches = Array(matches.prefix(Int(count))) }
                var output = ""
                var last = text.startIndex
                for match in matches {
                    guard let whole = match[0] else { continue }
                    output += text[last..<whole.lowerBound]
                    output += expand(replacement, match, regex, text)
                    last = whole.upperBound
                }
                return .string(output + text[last...])
            case .string(let pattern):
                guard !pattern.isEmpty else { return .string(text) }
                var output = ""
                var rest = Substring(text)
                var replaced: Int64 = 0
                while count < 0 || replaced < count, let range = rest.firstRange(of: pattern) {
                    output += rest[..<range.lowerBound] + replacement
                    rest = rest[range.upperBound...]
                    replaced += 1
                }
                return .string(output + rest)
            default: throw failure("expected string or regex")
            }
        },
        RemapFunction(
            "split",
            [
                Parameter("value", .string), Parameter("pattern", [.string, .regex]),
                Parameter("limit", .integer, required: false),
            ],
            returns: .array, fallible: false
        ) { arguments in
            let text = try arguments.string(0)
            let limit = arguments.optionalInteger(2).map { Int(max($0, 0)) } ?? Int.max
            guard limit > 0 else { return .array([]) }
            var pieces: [String] = []
            switch arguments.value(1) {
            case .regex(let regex):
                var last = text.startIndex
                for match in regex.allMatches(in: text) where pieces.count < limit - 1 {
                    guard let whole = match[0], !whole.isEmpty else { continue }
                    pieces.append(String(text[last..<whole.lowerBound]))
                    last = whole.upperBound
                }
                pieces.append(String(text[last...]))
            case .string(let pattern):
                if pattern.isEmpty {
                    pieces = [""] + text.map(String.init) + [""]
                } else {
                    var rest = Substring(text)
                    while pieces.count < limit - 1, let range = rest.firstRange(of: pattern) {
                        pieces.append(String(rest[..<range.lowerBound]))
                        rest = rest[range.upperBound...]
                    }
                    pieces.append(String(rest))
                }
            default: throw failure("expected string or regex")
            }
            return .array(pieces.map(RemapValue.string))
        },
        RemapFunction(
            "join", [Parameter("value", .array), Parameter("separator", .string, required: false)], returns: .string,
            fallible: true
        ) {
            arguments in
            let parts = try arguments.array(0).map { item -> String in
                guard case .string(let text) = item else { throw failure("all array items must be strings") }
                return text
            }
            return .string(parts.joined(separator: arguments.optionalString(1) ?? ""))
        },
        RemapFunction(
            "slice",
            [
                Parameter("value", [.string, .array]), Parameter("start", .integer),
                Parameter("end", .integer, required: false),
            ],
            returns: [.string, .array], fallible: true
        ) { arguments in
            let start = try arguments.integer(1)
            let end = arguments.optionalInteger(2)
            func bounds(_ count: Int) throws -> Range<Int> {
                let lower = start < 0 ? count + Int(start) : Int(start)
                let upper = end.map { $0 < 0 ? count + Int($0) : Int($0) } ?? count
                guard lower >= 0, lower <= upper, upper <= count else {
                    throw failure("\"start\" must be between 0 and the length, and not after \"end\"")
                }
                return lower..<upper
            }
            switch arguments.value(0) {
            case .string(let text):
                let characters = Array(text)
                return .string(String(characters[try bounds(characters.count)]))
            case .array(let values): return .array(Array(values[try bounds(values.count)]))
            default: throw failure("expected string or array")
            }
        },
        RemapFunction(
            "truncate",
            [
                Parameter("value", .string), Parameter("limit", .integer),
                Parameter("suffix", .string, required: false),
                Parameter("ellipsis", .boolean, required: false),
            ], returns: .string, fallible: false
        ) { arguments in
            let text = try arguments.string(0)
            let limit = max(0, Int(try arguments.integer(1)))
            guard text.count > limit else { return .string(text) }
            let suffix = arguments.optionalString(2) ?? (arguments.bool(3, default: false) ? "..." : "")
            return .string(String(text.prefix(limit)) + suffix)
        },
        RemapFunction(
            "match", [Parameter("value", .string), Parameter("pattern", .regex)], returns: .boolean, fallible: false
        ) {
            arguments in
            guard case .regex(let regex) = arguments.value(1) else { throw failure("expected regex") }
            return .boolean(regex.isFound(in: try arguments.string(0)))
        },
        RemapFunction(
            "encode_json", [Parameter("value", .any), Parameter("pretty", .boolean, required: false)], returns: .string,
            fallible: false
        ) {
            arguments in
            .string(RemapJSON.encode(arguments.value(0), pretty: arguments.bool(1, default: false)))
        },
        RemapFunction(
            "encode_logfmt", [Parameter("value", .object), Parameter("fields_ordering", .array, required: false)],
            returns: .string,
            fallible: true
        ) { arguments in
            var fields: [String: RemapValue] = [:]
            flatten(try arguments.object(0), prefix: nil, separator: ".", into: &fields)
            var order: [String] = []
            if case .array(let names)? = arguments[1] {
                order = names.compactMap { if case .string(let name) = $0 { name } else { nil } }
            }
            let rest = fields.keys.filter { !order.contains($0) }.sorted()
            let pairs = (order.filter { fields[$0] != nil } + rest).map { key in
                "\(logfmtText(key))=\(logfmtText(fields[key]!.text))"
            }
            return .string(pairs.joined(separator: " "))
        },
    ]

    private static func affix(_ name: String, _ test: @escaping @Sendable (String, String) -> Bool) -> RemapFunction {
        RemapFunction(
            name,
            [
                Parameter("value", .string), Parameter("substring", .string),
                Parameter("case_sensitive", .boolean, required: false),
            ],
            returns: .boolean, fallible: false
        ) { arguments in
            var text = try arguments.string(0)
            var part = try arguments.string(1)
            if !arguments.bool(2, default: true) {
                text = text.lowercased()
                part = part.lowercased()
            }
            return .boolean(test(text, part))
        }
    }

    /// A logfmt key or value, quoted when it holds a space, `=` or `"`.
    private static func logfmtText(_ text: String) -> String {
        guard text.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" }) else { return text }
        return RemapJSON.quote(text)
    }

    /// `$1`, `$name` and `${name}` in a replacement, from the match; `$$` is a dollar.
    static func expand(_ template: String, _ match: [Range<String.Index>?], _ regex: RE2SearchRegex, _ text: String)
        -> String
    {
        var output = ""
        let scalars = Array(template.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "$", index + 1 < scalars.count else {
                output.unicodeScalars.append(scalar)
                index += 1
                continue
            }
            if scalars[index + 1] == "$" {
                output += "$"
                index += 2
                continue
            }
            var name = ""
            var end = index + 1
            if scalars[end] == "{" {
                end += 1
                while end < scalars.count, scalars[end] != "}" {
                    name.unicodeScalars.append(scalars[end])
                    end += 1
                }
                end += 1
            } else {
                while end < scalars.count,
                    scalars[end].properties.isAlphabetic || ("0"..."9").contains(scalars[end]) || scalars[end] == "_"
                {
                    name.unicodeScalars.append(scalars[end])
                    end += 1
                }
            }
            let group = Int(name) ?? regex.groupNames.firstIndex { $0 == name }
            if let group, group < match.count, let range = match[group] { output += text[range] }
            index = end
        }
        return output
    }
}
