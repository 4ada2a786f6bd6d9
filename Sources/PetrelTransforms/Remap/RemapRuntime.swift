/// What a running program reads and writes: the event, its metadata and the program's variables.
public struct RemapState: Sendable {
    /// The event as an object: `.message`, `.timestamp`, `.severity` and the record's fields beside them.
    public var event: RemapValue
    /// `%`: the record's metadata, with its resource attributes under `%resource`.
    public var metadata: RemapValue
    var variables: [RemapValue]

    public init(event: RemapValue, metadata: RemapValue = .object([:])) {
        self.event = event
        self.metadata = metadata
        variables = []
    }
}

/// Why a program stopped on an event: a failed expression, an `abort`, or an error raised through `!`.
public struct RemapRuntimeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// `abort` was reached, rather than an error.
    public var isAbort: Bool
    /// Whether `??` or an error assignment may handle it; errors raised through `!` and `abort` end the program.
    var isHandleable: Bool

    init(_ message: String, isAbort: Bool = false, isHandleable: Bool = true) {
        self.message = message
        self.isAbort = isAbort
        self.isHandleable = isHandleable
    }

    public var description: String { message }
}

/// One compiled expression: evaluated against the state, possibly throwing `RemapRuntimeError`.
typealias RemapEvaluation = @Sendable (inout RemapState) throws -> RemapValue

extension RemapValue {
    /// The value at `segments`, or null when any step is missing.
    func get(_ segments: ArraySlice<RemapSegment>) -> RemapValue {
        var current = self
        for segment in segments {
            switch (segment, current) {
            case (.field(let name), .object(let fields)):
                guard let next = fields[name] else { return .null }
                current = next
            case (.index(let index), .array(let values)):
                let position = index < 0 ? values.count + index : index
                guard values.indices.contains(position) else { return .null }
                current = values[position]
            default:
                return .null
            }
        }
        return current
    }

    /// Whether `segments` lead to a value (which may be null).
    func exists(_ segments: ArraySlice<RemapSegment>) -> Bool {
        guard let segment = segments.first else { return true }
        switch (segment, self) {
        case (.field(let name), .object(let fields)):
            return fields[name]?.exists(segments.dropFirst()) ?? false
        case (.index(let index), .array(let values)):
            let position = index < 0 ? values.count + index : index
            return values.indices.contains(position) && values[position].exists(segments.dropFirst())
        default:
            return false
        }
    }

    /// Sets the value at `segments`, making objects (and null-padded arrays) on the way as VRL does.
    mutating func set(_ segments: ArraySlice<RemapSegment>, _ value: RemapValue) {
        guard let segment = segments.first else {
            self = value
            return
        }
        switch segment {
        case .field(let name):
            var fields: [String: RemapValue] = [:]
            if case .object(let existing) = self { fields = existing }
            self = .null
            fields[name, default: .null].set(segments.dropFirst(), value)
            self = .object(fields)
        case .index(let index):
            var values: [RemapValue] = []
            if case .array(let existing) = self { values = existing }
            self = .null
            var position = index
            if position < 0 {
                position += values.count
                guard position >= 0 else {
                    self = .array(values)
                    return
                }
            }
            while values.count <= position { values.append(.null) }
            values[position].set(segments.dropFirst(), value)
            self = .array(values)
        }
    }

    /// Removes the value at `segments` and returns it; with `compact`, containers left empty are removed too.
    ///
    /// The container is taken out of `self` before it changes, so that it is changed in place rather than copied.
    @discardableResult
    mutating func remove(_ segments: ArraySlice<RemapSegment>, compact: Bool = false) -> RemapValue? {
        guard let segment = segments.first else { return nil }
        let last = segments.count == 1
        switch segment {
        case .field(let name):
            guard case .object(var fields) = self else { return nil }
            self = .null
            let removed: RemapValue?
            if last {
                removed = fields.removeValue(forKey: name)
            } else {
                removed = fields[name]?.remove(segments.dropFirst(), compact: compact)
                if compact, let child = fields[name], child.isEmptyContainer { fields.removeValue(forKey: name) }
            }
            self = .object(fields)
            return removed
        case .index(let index):
            guard case .array(var values) = self else { return nil }
            let position = index < 0 ? values.count + index : index
            guard values.indices.contains(position) else { return nil }
            self = .null
            let removed: RemapValue?
            if last {
                removed = values.remove(at: position)
            } else {
                removed = values[position].remove(segments.dropFirst(), compact: compact)
                if compact, values[position].isEmptyContainer { values.remove(at: position) }
            }
            self = .array(values)
            return removed
        }
    }

    var isEmptyContainer: Bool {
        switch self {
        case .object(let fields): fields.isEmpty
        case .array(let values): values.isEmpty
        default: false
        }
    }
}
