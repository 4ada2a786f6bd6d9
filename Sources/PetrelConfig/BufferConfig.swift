import PetrelCore

/// Where a sink's batches wait for it: a sink's `buffer:` section.
public enum BufferConfig: Sendable, Equatable {
    /// In memory, bounded by events; lost if the process dies.
    case memory(maxEvents: Int)
    /// In segment files under `data_dir/buffers/<sink id>`, surviving restarts and crashes.
    case disk(DiskBufferSettings)

    public static let defaultMaxEvents = 10_000
    public static let `default` = BufferConfig.memory(maxEvents: defaultMaxEvents)

    /// What happens to a batch arriving at a full buffer.
    public enum WhenFull: String, Sendable, CaseIterable {
        /// Wait for room: the sink's inputs wait in turn, and push-based sources answer 429.
        case block
        /// Drop the batch and count it.
        case dropNewest = "drop_newest"
    }

    /// When a disk buffer's writes reach the disk.
    public enum Fsync: Sendable, Equatable {
        /// Before the batches written are acknowledged to their sources (one fsync for everything written at once).
        case batch
        /// At most this often; batches are acknowledged once written, so a machine crash (not a process crash) can
        /// lose what was written in the last interval.
        case interval(Duration)
    }

    public struct DiskBufferSettings: Sendable, Equatable {
        public var maxSize: Int
        public var whenFull: WhenFull
        public var fsync: Fsync

        public init(maxSize: Int, whenFull: WhenFull = .block, fsync: Fsync = .batch) {
            self.maxSize = maxSize
            self.whenFull = whenFull
            self.fsync = fsync
        }
    }

    /// The smallest disk buffer: room for a few segments, so that one being written never blocks one being read.
    public static let minimumDiskSize = 1 << 20

    /// Reads a sink's `buffer` section; `.default` when there is none.
    static func read(_ sink: ConfigReader) -> BufferConfig {
        guard let reader = sink.section("buffer") else { return .default }
        defer { reader.finish() }
        switch reader.string("type", default: "memory") {
        case "memory":
            return .memory(maxEvents: reader.int("max_events", default: defaultMaxEvents, range: 1...Int.max))
        case "disk":
            guard reader.contains("max_size") else {
                reader.error("max_size", "is required for a disk buffer (for example `max_size: 10GiB`)")
                return .default
            }
            let maxSize = reader.byteSize("max_size", default: minimumDiskSize)
            if maxSize < minimumDiskSize {
                reader.error("max_size", "must be at least 1MiB, found \(maxSize) bytes")
            }
            let whenFull = reader.choice("when_full", default: WhenFull.block)
            var fsync = Fsync.batch
            if let text = reader.string("fsync"), text != "batch" {
                let interval = reader.duration("fsync", default: .seconds(1))
                if interval <= .zero { reader.error("fsync", "expected `batch` or a positive duration such as 100ms") }
                fsync = .interval(interval)
            }
            return .disk(DiskBufferSettings(maxSize: maxSize, whenFull: whenFull, fsync: fsync))
        case let other:
            reader.error("type", "expected one of memory, disk, found \(other.quotedForMessage)")
            return .default
        }
    }
}
