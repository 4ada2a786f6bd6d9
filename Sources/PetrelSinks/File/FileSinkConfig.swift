import PetrelCore

/// Settings of the `file` sink.
public struct FileSinkConfig: Sendable, Equatable {
    /// How events are written.
    public enum Encoding: String, Sendable, CaseIterable {
        /// One JSON object per line, as the `console` sink prints them.
        case ndjson
    }

    /// When written lines reach the disk, named and read as a disk buffer's `fsync`.
    public enum Fsync: Sendable, Equatable {
        /// Before each batch is acknowledged.
        case batch
        /// At most this often; batches are acknowledged after the fsync that follows their write.
        case interval(Duration)
    }

    public var path: TimeTemplate
    public var encoding: Encoding = .ndjson
    public var fsync: Fsync = .batch
    /// Files kept open at once; the least recently written is closed first.
    public var maxOpenFiles = 64
    /// A file nothing was written to for this long is closed.
    public var idleTimeout: Duration = .seconds(30)
    /// The first wait before writing again after a failure; it doubles up to `maxBackoff`, with jitter.
    public var initialBackoff: Duration = .milliseconds(100)
    public var maxBackoff: Duration = .seconds(30)

    public init(path: TimeTemplate) {
        self.path = path
    }

    /// Reads the sink's keys; `nil` (with the errors reported to `reader`) when they are not usable.
    public init?(from reader: ConfigReader) {
        var template: TimeTemplate?
        if let text = reader.requiredString("path") {
            switch TimeTemplate.parse(text) {
            case .success(let parsed): template = parsed
            case .failure(let error): reader.error("path", error.description)
            }
        }
        encoding = reader.choice("encoding", default: encoding)
        if let text = reader.string("fsync"), text != "batch" {
            let interval = reader.duration("fsync", default: .seconds(1))
            if interval <= .zero { reader.error("fsync", "expected `batch` or a positive duration such as 100ms") }
            fsync = .interval(interval)
        }
        maxOpenFiles = reader.int("max_open_files", default: maxOpenFiles, range: 1...65_536)
        idleTimeout = reader.duration("idle_timeout", default: idleTimeout)
        if idleTimeout <= .zero { reader.error("idle_timeout", "must be longer than zero") }
        if let retry = reader.section("retry") {
            initialBackoff = retry.duration("initial_backoff", default: initialBackoff)
            maxBackoff = retry.duration("max_backoff", default: maxBackoff)
            if initialBackoff <= .zero {
                retry.error("initial_backoff", "must be longer than zero")
            } else if maxBackoff < initialBackoff {
                retry.error("max_backoff", "must not be shorter than initial_backoff")
            }
            retry.finish()
        }
        // Every key is read before giving up, so each problem is reported and none is taken for unknown.
        guard let template else { return nil }
        path = template
    }
}
