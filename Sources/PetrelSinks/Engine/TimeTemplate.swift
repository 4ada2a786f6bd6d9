import PetrelCodecs

/// Text with `%Y`, `%m`, `%d` and `%H` standing for an event's UTC year, month, day and hour (and `%%` for a percent
/// sign): the `file` sink's `path`, so one template spreads events over a file per hour, day or month, and the
/// `elasticsearch` sink's `index`, an index per day.
public struct TimeTemplate: Sendable, Hashable, CustomStringConvertible {
    private enum Part: Sendable, Hashable {
        case literal(String)
        case year
        case month
        case day
        case hour
    }

    private let parts: [Part]
    public let description: String

    /// The template in `text`, or why it is not one.
    public static func parse(_ text: String) -> Result<TimeTemplate, TimeTemplateError> {
        guard !text.isEmpty else { return .failure(TimeTemplateError("must not be empty")) }
        var parts: [Part] = []
        var literal = ""
        var characters = text.makeIterator()
        while let character = characters.next() {
            guard character == "%" else {
                literal.append(character)
                continue
            }
            let field: Part
            switch characters.next() {
            case "%":
                literal.append("%")
                continue
            case "Y": field = .year
            case "m": field = .month
            case "d": field = .day
            case "H": field = .hour
            case let other:
                let found = other.map { "%\($0)" } ?? "a lone % at the end"
                return .failure(TimeTemplateError("supports %Y, %m, %d, %H and %%, found \(found)"))
            }
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
            parts.append(field)
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return .success(TimeTemplate(parts: parts, description: text))
    }

    private init(parts: [Part], description: String) {
        self.parts = parts
        self.description = description
    }

    /// Whether every event gets the same text.
    public var isStatic: Bool {
        parts.allSatisfy { if case .literal = $0 { true } else { false } }
    }

    /// The text for events of the given hour (hours since the Unix epoch, UTC).
    public func render(hour: Int64) -> String {
        let days = hour >= 0 ? hour / 24 : (hour - 23) / 24
        let hourOfDay = hour - days * 24
        let (year, month, day) = RFC3339.civilDate(daysSinceEpoch: days)
        var path = ""
        for part in parts {
            switch part {
            case .literal(let text): path += text
            case .year: path += Self.padded(year, 4)
            case .month: path += Self.padded(month, 2)
            case .day: path += Self.padded(day, 2)
            case .hour: path += Self.padded(hourOfDay, 2)
            }
        }
        return path
    }

    /// The hour since the Unix epoch (UTC) of a time in nanoseconds.
    public static func hour(ofNanoseconds nanoseconds: Int64) -> Int64 {
        let perHour: Int64 = 3_600_000_000_000
        return nanoseconds >= 0 ? nanoseconds / perHour : (nanoseconds - perHour + 1) / perHour
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

/// Why a text is not a template.
public struct TimeTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
