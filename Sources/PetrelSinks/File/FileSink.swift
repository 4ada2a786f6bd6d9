import Dispatch
import Logging
import PetrelCodecs
import PetrelCore
import Synchronization

/// Appends every event as one JSON line (the `console` sink's shape) to files whose path may follow the event's
/// hour, and acknowledges a batch only once its lines are written and fsynced per `fsync`.
///
/// A failed write (disk full, permission denied) is logged with the path and tried again with backoff, from where it
/// stopped, for as long as it takes: the wait pushes back on the sources, and nothing unwritten is acknowledged.
public struct FileSink: Sink {
    public let config: FileSinkConfig

    public init(config: FileSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "file", kind: .sink) { reader, _ in
        guard let config = FileSinkConfig(from: reader) else { return nil }
        return .sink(FileSink(config: config), accepts: SignalSet.all.union(.alerts))
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let files = FileSinkFiles(maxOpenFiles: config.maxOpenFiles)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await maintain(files, context) }
            var encoder = EventJSONEncoder()
            for await envelope in input {
                let bytes = encoder.encode(envelope.batch)
                let chunks = FileSinkChunk.split(bytes, of: envelope.batch, by: config.path)
                try await write(chunks, acknowledging: envelope.acknowledgement, files, context)
                context.telemetry.sentEvents.increment(by: envelope.batch.eventCount)
                context.telemetry.sentBytes.increment(by: bytes.count)
            }
            group.cancelAll()
            // The maintenance task ends with a CancellationError, as asked.
            _ = try? await group.next()
            let waiting = try await retrying("fsync", files, context) { state throws(FileSinkError) in
                try state.files.closeAll()
                defer { state.waitingForSync.removeAll() }
                return state.waitingForSync
            }
            for acknowledgement in waiting { acknowledgement.acknowledge() }
        }
    }

    /// Writes the chunks of one batch; in `batch` mode fsyncs and acknowledges, else hands the acknowledgement to
    /// the next periodic fsync.
    private func write(
        _ chunks: [FileSinkChunk], acknowledging acknowledgement: Acknowledgement, _ files: FileSinkFiles,
        _ context: SinkContext
    ) async throws {
        let syncEachBatch = config.fsync == .batch
        try await retrying("write", files, context) { state throws(FileSinkError) in
            // `state.progress` survives a failed attempt, so the next one continues where it stopped.
            while state.progress.chunk < chunks.count {
                let chunk = chunks[state.progress.chunk]
                try state.files.append(chunk.bytes, to: chunk.path, written: &state.progress.written)
                state.progress = (state.progress.chunk + 1, 0)
            }
            if syncEachBatch {
                do throws(FileSinkError) {
                    try state.files.syncDirty()
                } catch {
                    // After a failed fsync the kernel may have dropped the written pages: write the batch again
                    // (its lines may then appear twice, but none is lost).
                    state.progress = (0, 0)
                    throw error
                }
            } else {
                state.waitingForSync.append(acknowledgement)
            }
            state.progress = (0, 0)
        }
        if syncEachBatch { acknowledgement.acknowledge() }
    }

    /// Runs `body` on the file thread until it succeeds, logging each failure and backing off with jitter; only
    /// cancellation (the shutdown deadline) ends it otherwise.
    private func retrying<T: Sendable>(
        _ what: String, _ files: FileSinkFiles, _ context: SinkContext,
        _ body: @escaping @Sendable (inout FileSinkFiles.State) throws(FileSinkError) -> T
    ) async throws -> T {
        var backoff = config.initialBackoff
        while true {
            let outcome = await files.perform { state -> Result<T, FileSinkError> in
                do throws(FileSinkError) {
                    return .success(try body(&state))
                } catch {
                    return .failure(error)
                }
            }
            switch outcome {
            case .success(let value):
                return value
            case .failure(let error):
                context.telemetry.error(.sending)
                context.logger.error(
                    "cannot \(what) a file; trying again",
                    metadata: ["path": "\(error.path)", "error": "\(error)", "retry_in": "\(backoff)"])
                try await Task.sleep(for: backoff * Double.random(in: 0.5...1.0))
                backoff = min(backoff * 2, config.maxBackoff)
            }
        }
    }

    /// Fsyncs on the `fsync` interval (acknowledging what waited for it) and closes idle files, until cancelled.
    private func maintain(_ files: FileSinkFiles, _ context: SinkContext) async throws {
        let tick: Duration
        var nextSync = ContinuousClock.now
        switch config.fsync {
        case .batch: tick = .seconds(1)
        case .interval(let interval): tick = min(interval, .seconds(1))
        }
        let idleTimeout = config.idleTimeout
        let syncInterval: Duration? = if case .interval(let interval) = config.fsync { interval } else { nil }
        while true {
            try await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let syncDue = syncInterval != nil && now >= nextSync
            if let syncInterval, syncDue { nextSync = now + syncInterval }
            let outcome = await files.perform { state -> (acknowledged: [Acknowledgement], error: FileSinkError?) in
                do throws(FileSinkError) {
                    var acknowledged: [Acknowledgement] = []
                    if syncDue {
                        try state.files.syncDirty()
                        acknowledged = state.waitingForSync
                        state.waitingForSync.removeAll()
                    }
                    try state.files.closeIdle(before: now - idleTimeout)
                    return (acknowledged, nil)
                } catch {
                    return ([], error)
                }
            }
            for acknowledgement in outcome.acknowledged { acknowledgement.acknowledge() }
            if let error = outcome.error {
                context.telemetry.error(.sending)
                context.logger.error(
                    "cannot fsync a file; trying again", metadata: ["path": "\(error.path)", "error": "\(error)"])
            }
        }
    }
}

/// The sink's open files and the acknowledgements waiting for an fsync, touched only on the sink's own thread:
/// writes and fsyncs block, so they stay off Swift's cooperative threads (as the disk buffer's do).
final class FileSinkFiles: Sendable {
    struct State: Sendable {
        var files: OpenFiles
        /// Batches written since the last fsync (`fsync: <interval>` only).
        var waitingForSync: [Acknowledgement] = []
        /// How far the batch being written got: whole chunks, then bytes of the next one.
        var progress = (chunk: 0, written: 0)
    }

    private let queue = DispatchQueue(label: "petrel.file-sink")
    // Only ever locked on `queue`, so never contended: it is what makes the state Sendable.
    private let state: Mutex<State>

    init(maxOpenFiles: Int) {
        state = Mutex(State(files: OpenFiles(maxOpenFiles: maxOpenFiles)))
    }

    func perform<T: Sendable>(_ body: @escaping @Sendable (inout State) -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.state.withLock { body(&$0) }) }
        }
    }
}
