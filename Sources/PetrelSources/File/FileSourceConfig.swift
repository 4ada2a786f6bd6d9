import PetrelCore

/// Settings of the `file` source.
public struct FileSourceConfig: Sendable {
    /// Where to start in a file that has no checkpoint and was there when the source started.
    public enum ReadFrom: String, Sendable, CaseIterable {
        case beginning
        case end
    }

    /// Globs of the files to tail (`*`, `?`, `[...]` within a path component, `**` for any depth).
    public var include: [String] = []
    /// Globs of files not to tail, matched against the whole path.
    public var exclude: [String] = []
    public var readFrom: ReadFrom = .beginning
    /// Longer lines are cut to this many bytes (the rest is counted as lost), never dropped whole.
    public var maxLineBytes = 32 * 1024
    /// Bytes read from one file before the next file gets its turn: the read-ahead per file.
    public var maxReadBytes = 64 * 1024
    /// Bytes read and sent but not yet delivered by every sink (or held by its disk buffer); reading waits past it.
    public var maxUnacknowledgedBytes = 4 * 1024 * 1024
    /// How long a file that was renamed away or deleted stays open to be drained; `nil` waits until it is drained.
    public var rotateWait: Duration?
    /// The time between two scans of the globs when no directory event came.
    public var globMinimumCooldown: Duration = .seconds(1)
    /// How often checkpoints are written while running (and once more at shutdown).
    public var checkpointInterval: Duration = .seconds(1)
    public var multiline: MultilineConfig?

    public init() {}

    /// Reads the settings, reporting problems to `reader`.
    public init(from reader: ConfigReader) {
        if let include = reader.stringList("include") {
            if include.isEmpty { reader.error("include", "must name at least one glob") }
            self.include = include
        } else {
            reader.error("include", "missing: the globs of the files to tail")
        }
        exclude = reader.stringList("exclude") ?? []
        for (key, globs) in [("include", include), ("exclude", exclude)] {
            for glob in globs where !glob.hasPrefix("/") {
                reader.error(key, "\"\(glob)\" is not an absolute path")
            }
        }
        let tailing = FileTailingConfig(from: reader)
        readFrom = tailing.readFrom
        maxLineBytes = tailing.maxLineBytes
        maxReadBytes = tailing.maxReadBytes
        maxUnacknowledgedBytes = tailing.maxUnacknowledgedBytes
        rotateWait = tailing.rotateWait
        globMinimumCooldown = tailing.globMinimumCooldown
        checkpointInterval = tailing.checkpointInterval
        if let section = reader.section("multiline") {
            multiline = MultilineConfig(from: section)
            section.finish()
        }
    }
}

/// How consecutive lines are joined into one record, as Vector's `multiline` joins them.
public struct MultilineConfig: Sendable {
    /// What the condition pattern says about the lines after a record's first.
    public enum Mode: String, Sendable, CaseIterable {
        /// Lines matching the condition continue the record; the first that does not starts the next.
        case continueThrough = "continue_through"
        /// Lines matching the condition continue the record, and so does the one line after them.
        case continuePast = "continue_past"
        /// Lines not matching the condition continue the record; the first that matches starts the next.
        case haltBefore = "halt_before"
        /// Lines not matching the condition continue the record; the first that matches ends it.
        case haltWith = "halt_with"
    }

    /// A line matching it starts a record (searched anywhere in the line, as Vector does).
    public var startPattern: RE2Regex
    public var conditionPattern: RE2Regex
    public var mode: Mode
    /// A record waiting this long for its next line is sent as it is.
    public var timeout: Duration

    public init(startPattern: RE2Regex, conditionPattern: RE2Regex, mode: Mode, timeout: Duration) {
        self.startPattern = startPattern
        self.conditionPattern = conditionPattern
        self.mode = mode
        self.timeout = timeout
    }

    /// Reads the section; `nil` when it has errors (reported).
    init?(from reader: ConfigReader) {
        let start = Self.pattern("start_pattern", reader)
        let condition = Self.pattern("condition_pattern", reader)
        let hasMode = reader.contains("mode")
        if !hasMode {
            reader.error("mode", "missing: one of continue_through, continue_past, halt_before, halt_with")
        }
        mode = reader.choice("mode", default: Mode.continueThrough)
        timeout = reader.duration("timeout", default: .seconds(1))
        guard hasMode, let start, let condition else { return nil }
        startPattern = start
        conditionPattern = condition
    }

    private static func pattern(_ key: String, _ reader: ConfigReader) -> RE2Regex? {
        guard let text = reader.requiredString(key) else { return nil }
        do {
            return try RE2Regex.searching(text)
        } catch {
            reader.error(key, "invalid pattern: \(error.description)")
            return nil
        }
    }
}

extension RE2Regex {
    /// A regex that matches wherever `pattern` matches inside a value, as Vector's (unanchored) patterns do:
    /// `^` and `$` inside it still mean the value's start and end.
    static func searching(_ pattern: String) throws(RE2SyntaxError) -> RE2Regex {
        try RE2Regex(".*(?:" + pattern + ").*")
    }
}
