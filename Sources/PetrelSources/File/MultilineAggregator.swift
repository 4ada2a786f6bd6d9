import PetrelCore

/// Joins consecutive lines into groups as Vector's `multiline` does (its `line_agg`).
///
/// With nothing held, a line matching `start_pattern` starts a group and is held; any other line passes alone.
/// With a group held, `condition_pattern` decides by `mode`: `continue_through` adds a matching line and ends the
/// group before one that does not (which starts the next, or passes alone); `continue_past` adds a matching line
/// and ends the group with the first that does not; `halt_before` adds a line that does not match and ends the
/// group before one that does; `halt_with` adds a line that does not match and ends the group with the first that
/// does. A group held `timeout` after its first line goes out as it is, as in Vector.
struct MultilineAggregator {
    let config: MultilineConfig
    private var held: [SourcedLine] = []
    private var startedAt: ContinuousClock.Instant = .now

    init(_ config: MultilineConfig) {
        self.config = config
    }

    /// Adds a line; returns the groups it completes, in order.
    mutating func add(_ line: SourcedLine, now: ContinuousClock.Instant) -> [[SourcedLine]] {
        guard !held.isEmpty else { return start(line, now: now) }
        let matched = config.conditionPattern.matches(line)
        switch config.mode {
        case .continueThrough:
            if matched { return hold(line) }
            return [take()] + start(line, now: now)
        case .continuePast:
            held.append(line)
            return matched ? [] : [take()]
        case .haltBefore:
            if !matched { return hold(line) }
            return [take()] + start(line, now: now)
        case .haltWith:
            held.append(line)
            return matched ? [take()] : []
        }
    }

    /// The held group if its time is up at `now`, or whatever its age with `nil`.
    mutating func flush(expiredAt now: ContinuousClock.Instant?) -> [SourcedLine]? {
        guard !held.isEmpty else { return nil }
        if let now, startedAt + config.timeout > now { return nil }
        return take()
    }

    private mutating func start(_ line: SourcedLine, now: ContinuousClock.Instant) -> [[SourcedLine]] {
        if config.startPattern.matches(line) {
            held = [line]
            startedAt = now
            return []
        }
        return [[line]]
    }

    private mutating func hold(_ line: SourcedLine) -> [[SourcedLine]] {
        held.append(line)
        return []
    }

    private mutating func take() -> [SourcedLine] {
        defer { held = [] }
        return held
    }
}

extension RE2Regex {
    /// Whether the regex matches the line's text (invalid UTF-8 read as U+FFFD).
    fileprivate func matches(_ line: SourcedLine) -> Bool {
        matches(String(decoding: line.line.bytes, as: UTF8.self))
    }
}
