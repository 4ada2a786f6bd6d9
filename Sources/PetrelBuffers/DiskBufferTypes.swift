#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct DiskBufferConfiguration: Sendable {
    /// When appended records are made durable.
    public enum FsyncPolicy: Sendable, Equatable {
        /// `append` returns after fsync: what it accepted survives a power loss. One fsync covers a whole `append`.
        case always
        /// A background timer fsyncs at most this often; `append` returns after write(2). A process crash loses
        /// nothing (the kernel holds the data), a power loss up to one interval.
        case interval(Duration)
    }

    /// Created with its parents if missing.
    public var directory: String
    /// Bound on the bytes of all segment files together.
    public var maxSize: Int
    /// A segment is closed and a new one started when the next record would take it past this size; a record that is
    /// bigger on its own gets a segment to itself. Space comes back a segment at a time, so keep this well below
    /// `maxSize`.
    public var maxSegmentSize: Int
    public var fsync: FsyncPolicy
    /// How long an acknowledgement may wait before the ledger records it (segment deletions and `close()` write the
    /// ledger at once). A crash re-delivers what was acknowledged in this window; tests shorten it.
    var ledgerInterval: Duration = .seconds(1)

    public init(directory: String, maxSize: Int, maxSegmentSize: Int = 8 << 20, fsync: FsyncPolicy = .always) {
        self.directory = directory
        self.maxSize = maxSize
        self.maxSegmentSize = maxSegmentSize
        self.fsync = fsync
    }

    func validate() throws(DiskBufferError) {
        let smallest = Format.segmentHeaderSize + Format.recordHeaderSize
        guard !directory.isEmpty else { throw .invalidConfiguration("the directory is empty") }
        guard maxSegmentSize > smallest else {
            throw .invalidConfiguration("maxSegmentSize \(maxSegmentSize) must be over \(smallest) bytes")
        }
        guard maxSize > smallest else {
            throw .invalidConfiguration("maxSize \(maxSize) must be over \(smallest) bytes")
        }
        if case .interval(let interval) = fsync, interval <= .zero {
            throw .invalidConfiguration("the fsync interval must be positive")
        }
    }
}

public enum DiskBufferError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No room now: the buffer holds `maxSize` bytes, or the disk is full or over quota. Apply the `when_full` policy:
    /// drop the records, or `waitForSpace(for:)` and append again.
    case full
    /// The records of one `append` need more than `maxSize` bytes even in an empty buffer, or a record is 4 GiB or
    /// more: waiting cannot help.
    case tooLarge(bytes: Int, limit: Int)
    /// `close()` or `finishWriting()` was called.
    case closed
    case invalidConfiguration(String)
    /// The directory holds segments of a format version this code does not read; they are left untouched.
    case unsupportedVersion(path: String, version: UInt32)
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .full:
            return "disk buffer is full"
        case .tooLarge(let bytes, let limit):
            return "records need \(bytes) bytes on disk, more than the buffer's maximum size of \(limit)"
        case .closed:
            return "disk buffer is closed"
        case .invalidConfiguration(let reason):
            return "invalid disk buffer configuration: \(reason)"
        case .unsupportedVersion(let path, let version):
            return "\(path) has disk buffer format version \(version); this build reads version \(Format.version)"
        case .io(let operation, let path, let code):
            return "\(operation) \(path): \(FileIO.describe(code))"
        }
    }
}

public struct DiskBufferRecord: Sendable {
    public struct ID: Hashable, Sendable {
        /// The record's number in the buffer. It keeps it across restarts, so a re-delivery can be told apart in logs.
        public let sequence: UInt64
        /// Its place among the records this process handed out, for a constant-time acknowledgement.
        let slot: UInt64
    }

    public let id: ID
    public let payload: [UInt8]
    /// Wall-clock time of the `append` that stored it, in nanoseconds since the Unix epoch.
    public let writtenAt: Int64
}

public struct DiskBufferStatistics: Sendable, Equatable {
    /// Bytes of all segment files.
    public var bytesOnDisk: Int
    public var segmentCount: Int
    /// Records stored and not acknowledged, whether handed out by `next()` or not.
    public var unacknowledgedRecords: Int
    /// `writtenAt` of the oldest unacknowledged record, for an age gauge; nil when everything is acknowledged.
    public var oldestUnacknowledgedWrittenAt: Int64?
    /// The counters below count since this process opened the buffer. Bytes are as framed on disk.
    public var recordsWritten: Int
    public var bytesWritten: Int
    public var recordsRead: Int
    public var recordsAcknowledged: Int
    /// Records lost to damage: torn off the end of the newest segment when opening, or skipped by the reader.
    public var recordsCorrupted: Int
}
