import PetrelCore

typealias Parameter = RemapFunction.Parameter

extension RemapFunctions {
    /// `parse_*`: text into structured values; every one can fail on text that is not in its format.
    static let parsing: [RemapFunction] = [
        RemapFunction(
            "parse_json", [Parameter("value", .string), Parameter("max_depth", .integer, required: false)],
            returns: .any,
            fallible: true
        ) { arguments in
            do {
                return try RemapJSON.parse(try arguments.string(0), maxDepth: Int(arguments.optionalInteger(1) ?? 128))
            } catch let problem as RemapJSON.ParseError {
                throw failure("unable to parse json: \(problem.message)")
            }
        },
        RemapFunction(
            "parse_regex",
            [
                Parameter("value", .string), Parameter("pattern", .regex),
                Parameter("numeric_groups", .boolean, required: false),
            ],
            returns: .object, fallible: true
        ) { arguments in
            let text = try arguments.string(0)
            guard case .regex(let regex) = arguments.value(1) else { throw failure("expected regex") }
            guard let match = regex.firstMatch(in: text) else { throw failure("could not find any pattern matches") }
            return .object(captures(match, regex, text, numeric: arguments.bool(2, default: false)))
        },
        RemapFunction("parse_syslog", [Parameter("value", .string)], returns: .object, fallible: true) { arguments in
            try Syslog.parse(try arguments.string(0))
        },
        RemapFunction(
            "parse_key_value",
            [
                Parameter("value", .string), Parameter("key_value_delimiter", .string, required: false),
                Parameter("field_delimiter", .string, required: false),
                Parameter("whitespace", .string, required: false),
                Parameter("accept_standalone_key", .boolean, required: false),
            ], returns: .object, fallible: true
        ) { arguments in
            try keyValues(
                try arguments.string(0), pairDelimiter: arguments.optionalString(1) ?? "=",
                fieldDelimiter: arguments.optionalString(2) ?? " ", standalone: arguments.bool(4, default: true))
        },
        RemapFunction("parse_logfmt", [Parameter("value", .string)], returns: .object, fallible: true) { arguments in
            try keyValues(try arguments.string(0), pairDelimiter: "=", fieldDelimiter: " ", standalone: true)
        },
        RemapFunction(
            "parse_timestamp",
            [
                Parameter("value", [.string, .timestamp]), Parameter("format", .string),
                Parameter("timezone", .string, required: false),
            ],
            returns: .timestamp, fallible: { _ in true },
            compile: { known throws(RemapFunction.ArgumentProblem) in
                let format = try constantFormat(known, 1)
                let offset = try constantZone(known, 2)
                return { arguments in
                    if case .timestamp(let value) = arguments.value(0) { return .timestamp(value) }
                    let text = try arguments.string(0)
                    let zone = try offset ?? zoneOffset(arguments.optionalString(2))
                    do {
                        let compiled = try format ?? RemapTime.Format(try arguments.string(1))
                        return .timestamp(try compiled.parse(text, defaultOffset: zone))
                    } catch let problem as RemapTime.FormatError {
                        throw failure("unable to parse timestamp: \(problem.message)")
                    }
                }
            }),
        RemapFunction(
            "parse_int", [Parameter("value", .string), Parameter("base", .integer, required: false)], returns: .integer,
            fallible: true
        ) { arguments in
            var text = try arguments.string(0)
            var negative = false
            if text.hasPrefix("-") || text.hasPrefix("+") {
                negative = text.hasPrefix("-")
                text.removeFirst()
            }
            var base = arguments.optionalInteger(1).map(Int.init)
            if base == nil {
                base = 10
                for (prefix, radix) in [("0b", 2), ("0o", 8), ("0x", 16)] where text.hasPrefix(prefix) {
                    base = radix
                    text.removeFirst(2)
                }
            }
            guard let radix = base, (2...36).contains(radix), let value = Int64(text, radix: radix) else {
                throw failure("could not parse integer: invalid digit found in string")
            }
            return .integer(negative ? -value : value)
        },
        RemapFunction("parse_float", [Parameter("value", .string)], returns: .float, fallible: true) { arguments in
            guard let value = Double(try arguments.string(0)) else { throw failure("could not parse float") }
            return .float(value)
        },
    ]

    /// A compiled format when the argument is a literal; a bad literal is refused at load.
    static func constantFormat(_ known: RemapFunction.Arguments, _ index: Int) throws(RemapFunction.ArgumentProblem)
        -> RemapTime.Format?
    {
        guard case .string(let text)? = known.constant(index) else { return nil }
        do {
            return try RemapTime.Format(text)
        } catch {
            throw RemapFunction.ArgumentProblem(
                index: index, message: "invalid time format \"\(text)\": \(error.message)")
        }
    }

    /// A time zone offset when the argument is a literal; only UTC and fixed offsets are known.
    static func constantZone(_ known: RemapFunction.Arguments, _ index: Int) throws(RemapFunction.ArgumentProblem)
        -> Int64?
    {
        guard index < known.constants.count, case .string(let name)? = known.constant(index) else { return nil }
        guard let offset = RemapTime.offset(named: name) else {
            throw RemapFunction.ArgumentProblem(
                index: index, message: "unknown time zone \"\(name)\": remap knows UTC and fixed offsets such as +02:00"
            )
        }
        return offset
    }

    static func zoneOffset(_ name: String?) throws -> Int64 {
        guard let name else { return 0 }
        guard let offset = RemapTime.offset(named: name) else { throw failure("unknown time zone \"\(name)\"") }
        return offset
    }

    /// The named groups of a match (and numbered ones when asked) as strings; groups that took no part are null.
    static func captures(_ match: [Range<String.Index>?], _ regex: RE2SearchRegex, _ text: String, numeric: Bool)
        -> [String: RemapValue]
    {
        var fields: [String: RemapValue] = [:]
        for (index, range) in match.enumerated() {
            let value: RemapValue = range.map { .string(String(text[$0])) } ?? .null
            if index < regex.groupNames.count, let name = regex.groupNames[index] { fields[name] = value }
            if numeric { fields[String(index)] = value }
        }
        return fields
    }

    /// `key=value` pairs; values may be quoted, a key repeated collects its values in an array, a lone word is `true`.
    static func keyValues(_ text: String, pairDelimiter: String, fieldDelimiter: String, standalone: Bool) throws
        -> RemapValue
    {
        var fields: [String: RemapValue] = [:]
        var keys: [String] = []
        let scalars = Array(text.unicodeScalars)
        let pair = Array(pairDelimiter.unicodeScalars)
        let field = Array(fieldDelimiter.unicodeScalars)
        var index = 0
        func matches(_ delimiter: [Unicode.Scalar], at position: Int) -> Bool {
            !delimiter.isEmpty && position + delimiter.count <= scalars.count
                && Array(scalars[position..<position + delimiter.count]) == delimiter
        }
        func token(stopAtPair: Bool) -> String {
            var output = String.UnicodeScalarView()
            if index < scalars.count, scalars[index] == "\"" {
                index += 1
                while index < scalars.count, scalars[index] != "\"" {
                    if scalars[index] == "\\", index + 1 < scalars.count {
                        index += 1
                    }
                    output.append(scalars[index])
                    index += 1
                }
                index += 1
                return String(output)
            }
            while index < scalars.count, !matches(field, at: index), !(stopAtPair && matches(pair, at: index)) {
                output.append(scalars[index])
                index += 1
            }
            return String(output)
        }
        while index < scalars.count {
            while matches(field, at: index) || (fieldDelimiter == " " && index < scalars.count && scalars[index] == " ")
            {
                index += matches(field, at: index) ? field.count : 1
            }
            guard index < scalars.count else { break }
            while index < scalars.count, scalars[index] == " " { index += 1 }
            let key = token(stopAtPair: true).trimmingSpaces()
            var value: RemapValue
            if matches(pair, at: index) {
                index += pair.count
                while index < scalars.count, scalars[index] == " ", !matches(field, at: index) { index += 1 }
                value = .string(token(stopAtPair: false).trimmingSpaces())
            } else {
                guard standalone else { throw failure("could not parse key-value pairs: \"\(key)\" has no value") }
                value = .boolean(true)
            }
            guard !key.isEmpty else { continue }
            if let existing = fields[key] {
                if case .array(var values) = existing {
                    values.append(value)
                    value = .array(values)
                } else {
                    value = .array([existing, value])
                }
            } else {
                keys.append(key)
            }
            fields[key] = value
        }
        return .object(fields)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

/// Syslog lines in RFC 5424 or RFC 3164 form, as `parse_syslog` reads them.
enum Syslog {
    static let facilities = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
        "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
        "local7",
    ]
    static let severities = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    static func parse(_ line: String) throws -> RemapValue {
        var rest = Substring(line)
        var fields: [String: RemapValue] = [:]
        if rest.hasPrefix("<"), let close = rest.firstIndex(of: ">"),
            let priority = Int(rest[rest.index(after: rest.startIndex)..<close]),
            priority < 192
        {
            fields["facility"] = .string(facilities[priority / 8])
            fields["severity"] = .string(severities[priority % 8])
            rest = rest[rest.index(after: close)...]
        }
        if let first = rest.first, first.isNumber, let space = rest.firstIndex(of: " "),
            let version = Int64(rest[..<space])
        {
            fields["version"] = .integer(version)
            rest = rest[rest.index(after: space)...]
            return .object(try rfc5424(rest, fields))
        }
        return .object(try rfc3164(rest, fields))
    }

    private static func word(_ rest: inout Substring) -> Substring? {
        while rest.first == " " { rest.removeFirst() }
        guard !rest.isEmpty else { return nil }
        let end = rest.firstIndex(of: " ") ?? rest.endIndex
        let word = rest[..<end]
        rest = rest[end...]
        if rest.first == " " { rest.removeFirst() }
        return word
    }

    private static func rfc5424(_ input: Substring, _ start: [String: RemapValue]) throws -> [String: RemapValue] {
        var fields = start
        var rest = input
        guard let timestamp = word(&rest), let host = word(&rest), let app = word(&rest), let procid = word(&rest),
            let msgid = word(&rest)
        else { throw RemapFunctions.failure("unable to parse input as valid syslog message") }
        if timestamp != "-" {
            guard let value = RemapTime.parseRFC3339(String(timestamp)) else {
                throw RemapFunctions.failure("unable to parse input as valid syslog message")
            }
            fields["timestamp"] = .timestamp(value)
        }
        if host != "-" { fields["hostname"] = .string(String(host)) }
        if app != "-" { fields["appname"] = .string(String(app)) }
        if procid != "-" { fields["procid"] = Int64(procid).map(RemapValue.integer) ?? .string(String(procid)) }
        if msgid != "-" { fields["msgid"] = .string(String(msgid)) }
        if rest.hasPrefix("-") {
            rest = rest.dropFirst()
        } else {
            while rest.hasPrefix("[") {
                guard let element = structuredElement(&rest) else {
                    throw RemapFunctions.failure("unable to parse input as valid syslog message")
                }
                fields[element.id] = .object(element.parameters)
            }
        }
        while rest.first == " " { rest.removeFirst() }
        if rest.hasPrefix("\u{FEFF}") { rest.removeFirst() }
        fields["message"] = .string(String(rest))
        return fields
    }

    /// `[id key="value" ...]`, with `\"`, `\\` and `\]` escapes in values.
    private static func structuredElement(_ rest: inout Substring) -> (id: String, parameters: [String: RemapValue])? {
        rest.removeFirst()
        guard let idEnd = rest.firstIndex(where: { $0 == " " || $0 == "]" }) else { return nil }
        let id = String(rest[..<idEnd])
        rest = rest[idEnd...]
        var parameters: [String: RemapValue] = [:]
        while true {
            while rest.first == " " { rest.removeFirst() }
            guard let next = rest.first else { return nil }
            if next == "]" {
                rest.removeFirst()
                return (id, parameters)
            }
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let name = String(rest[..<equals]).trimmingSpaces()
            rest = rest[rest.index(after: equals)...]
            while rest.first == " " { rest.removeFirst() }
            guard rest.first == "\"" else { return nil }
            rest.removeFirst()
            var value = ""
            while let character = rest.first, character != "\"" {
                rest.removeFirst()
                if character == "\\", let escaped = rest.first {
                    rest.removeFirst()
                    value.append(escaped)
                } else {
                    value.append(character)
                }
            }
            guard !rest.isEmpty else { return nil }
            rest.removeFirst()
            parameters[name] = .string(value)
        }
    }

    private static func rfc3164(_ input: Substring, _ start: [String: RemapValue]) throws -> [String: RemapValue] {
        var fields = start
        var rest = input
        guard let month = word(&rest), let day = word(&rest), let time = word(&rest),
            let monthIndex = RemapTime.monthNames.firstIndex(where: { $0.prefix(3) == month }),
            let dayNumber = Int64(day)
        else { throw RemapFunctions.failure("unable to parse input as valid syslog message") }
        let parts = time.split(separator: ":").compactMap { Int64($0) }
        guard parts.count == 3 else { throw RemapFunctions.failure("unable to parse input as valid syslog message") }
        var date = RemapTime.Fields(nanoseconds: RemapClock.now(), offset: 0)
        date.month = Int64(monthIndex + 1)
        date.day = dayNumber
        date.hour = parts[0]
        date.minute = parts[1]
        date.second = parts[2]
        date.nanosecond = 0
        fields["timestamp"] = .timestamp(date.nanoseconds)
        guard let host = word(&rest) else {
            throw RemapFunctions.failure("unable to parse input as valid syslog message")
        }
        fields["hostname"] = .string(String(host))
        if let colon = rest.firstIndex(of: ":"), !rest[..<colon].contains(" ") {
            var tag = rest[..<colon]
            if tag.hasSuffix("]"), let open = tag.firstIndex(of: "[") {
                let procid = tag[tag.index(after: open)..<tag.index(before: tag.endIndex)]
                fields["procid"] = Int64(procid).map(RemapValue.integer) ?? .string(String(procid))
                tag = tag[..<open]
            }
            fields["appname"] = .string(String(tag))
            rest = rest[rest.index(after: colon)...]
            while rest.first == " " { rest.removeFirst() }
        }
        fields["message"] = .string(String(rest))
        return fields
    }
}
