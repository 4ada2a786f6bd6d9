import PetrelCore

/// How `reduce` merges the values one field takes across the records of a group: Vector's merge strategies.
public enum ReduceStrategy: String, Sendable, CaseIterable {
    /// Every value, in order, as an array.
    case array
    /// Strings joined with a space; arrays joined into one.
    case concat
    /// Strings joined with a newline.
    case concatNewline = "concat_newline"
    /// Strings joined with nothing between them.
    case concatRaw = "concat_raw"
    /// The first value.
    case discard
    /// The last value.
    case retain
    /// Numbers added up.
    case sum
    /// The largest number.
    case max
    /// The smallest number.
    case min
    /// The distinct values, arrays flattened into them, in the order first seen.
    case flatUnique = "flat_unique"
    /// The array with the most elements.
    case longestArray = "longest_array"
    /// The array with the fewest elements.
    case shortestArray = "shortest_array"
}

/// One field's merged value so far.
struct FieldMerge: Sendable {
    let strategy: ReduceStrategy
    private(set) var value: AnyValue
    /// `flat_unique`'s values already in the array.
    private var seen: Set<AnyValue> = []

    /// A field's strategy when none is configured, as Vector's: numbers are summed, everything else keeps its first
    /// value.
    static func defaultStrategy(for value: AnyValue) -> ReduceStrategy {
        switch value {
        case .int, .double: .sum
        default: .discard
        }
    }

    init(_ strategy: ReduceStrategy, first: AnyValue) {
        self.strategy = strategy
        switch strategy {
        case .array:
            value = .array([first])
        case .flatUnique:
            value = .array([])
            addUnique(first)
        default:
            value = first
        }
    }

    /// Merges the next record's value in; a value the strategy cannot take (a string to `sum`) leaves it as it is.
    mutating func add(_ next: AnyValue) {
        switch strategy {
        case .array:
            guard case .array(var values) = value else { return }
            value = .null
            values.append(next)
            value = .array(values)
        case .concat: join(next, separator: " ", arrays: true)
        case .concatNewline: join(next, separator: "\n", arrays: false)
        case .concatRaw: join(next, separator: "", arrays: false)
        case .discard: break
        case .retain: value = next
        case .sum: value = Self.sum(value, next) ?? value
        case .max:
            if let a = Self.number(value), let b = Self.number(next), b > a { value = next }
        case .min:
            if let a = Self.number(value), let b = Self.number(next), b < a { value = next }
        case .flatUnique: addUnique(next)
        case .longestArray:
            if case .array(let current) = value, case .array(let candidate) = next, candidate.count > current.count {
                value = next
            }
        case .shortestArray:
            if case .array(let current) = value, case .array(let candidate) = next, candidate.count < current.count {
                value = next
            }
        }
    }

    private mutating func join(_ next: AnyValue, separator: String, arrays: Bool) {
        switch (value, next) {
        case (.string(var text), .string(let more)):
            // Let go of the stored string first, so appending does not copy it: stack traces grow line by line.
            value = .null
            text += separator
            text += more
            value = .string(text)
        case (.array(var values), .array(let more)) where arrays:
            value = .null
            values += more
            value = .array(values)
        default:
            break
        }
    }

    private mutating func addUnique(_ next: AnyValue) {
        guard case .array(var values) = value else { return }
        value = .null
        let items: [AnyValue] = if case .array(let inner) = next { inner } else { [next] }
        for item in items where seen.insert(item).inserted { values.append(item) }
        value = .array(values)
    }

    private static func number(_ value: AnyValue) -> Double? {
        switch value {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// Integers stay integers until one overflows or a float joins them.
    private static func sum(_ a: AnyValue, _ b: AnyValue) -> AnyValue? {
        if case .int(let x) = a, case .int(let y) = b {
            let (total, overflow) = x.addingReportingOverflow(y)
            return overflow ? .double(Double(x) + Double(y)) : .int(total)
        }
        guard let x = number(a), let y = number(b) else { return nil }
        return .double(x + y)
    }
}
