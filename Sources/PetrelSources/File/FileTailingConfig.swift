import PetrelCore

/// The tailer's keys, shared by every source that tails files (`file`, `kubernetes_logs`): where reading starts, the
/// bounds on what is read and in flight, how long a rotated file is held, and how often checkpoints are written.
public struct FileTailingConfig: Sendable {
    public var readFrom: FileSourceConfig.ReadFrom = .beginning
    /// Longer lines are cut to this many bytes (the rest is counted as lost), never dropped whole.
    public var maxLineBytes = 32 * 1024
    /// Bytes read from one file before the next file gets its turn: the read-ahead per file.
    public var maxReadBytes = 64 * 1024
    /// Bytes read and sent but not yet delivered by every sink (or held by its disk buffer); reading waits past it.
    public var maxUnacknowledgedBytes = 4 * 1024 * 1024
    /// How long a file that was renamed away or deleted stays open to be drained; `nil` waits until it is drained.
    public var rotateWait: Duration?
    /// The time between two scans for files when no directory event came.
    public var globMinimumCooldown: Duration = .seconds(1)
    /// How often checkpoints are written while running (and once more at shutdown).
    public var checkpointInterval: Duration = .seconds(1)

    public init() {}

    /// Reads the keys, reporting problems to `reader`.
    public init(from reader: ConfigReader) {
        readFrom = reader.choice("read_from", default: readFrom)
        maxLineBytes = reader.byteSize("max_line_bytes", default: maxLineBytes)
        maxReadBytes = reader.byteSize("max_read_bytes", default: maxReadBytes)
        maxUnacknowledgedBytes = reader.byteSize("max_unacknowledged_bytes", default: maxUnacknowledgedBytes)
        if reader.contains("rotate_wait") {
            rotateWait = reader.duration("rotate_wait", default: .seconds(10))
        }
        globMinimumCooldown = reader.duration("glob_minimum_cooldown", default: globMinimumCooldown)
        checkpointInterval = reader.duration("checkpoint_interval", default: checkpointInterval)
        for (key, value) in [
            ("max_line_bytes", maxLineBytes), ("max_read_bytes", maxReadBytes),
            ("max_unacknowledged_bytes", maxUnacknowledgedBytes),
        ] where value < 1 {
            reader.error(key, "must be at least 1 byte")
        }
    }

    /// The tailer's settings, with checkpoints under `checkpointDirectory`.
    func settings(checkpointDirectory: String) -> TailerSettings {
        TailerSettings(
            readFrom: readFrom, maxLineBytes: maxLineBytes, maxReadBytes: maxReadBytes,
            maxUnacknowledgedBytes: maxUnacknowledgedBytes, rotateWait: rotateWait,
            globMinimumCooldown: globMinimumCooldown, checkpointInterval: checkpointInterval,
            checkpointDirectory: checkpointDirectory)
    }
}
