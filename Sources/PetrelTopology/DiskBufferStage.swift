import Logging
import PetrelBuffers
import PetrelConfig
import PetrelCore

/// A sink's disk buffer in the graph.
///
/// The writer takes what arrives on the sink's input queue, writes it to the buffer's segment files (everything
/// queued at once, one fsync) and only then acknowledges it, so a source answers for what is on disk. The reader
/// feeds the sink from disk, oldest first; the sink's acknowledgement of a batch (delivered, or dropped for good)
/// frees its record. On shutdown the writer drains the queue to disk and the reader stops handing out records: the
/// sink finishes what it holds, and the rest waits on disk for the next run. A reload that replaces the sink stops it
/// the same way, and the new sink's stage opens the same directory once this one is closed.
final class DiskBufferStage: Sendable {
    /// What the sink's inputs send to.
    let input: BatchQueue
    /// What the sink reads.
    let output: BatchQueue
    private let buffer: DiskBuffer
    private let settings: BufferConfig.DiskBufferSettings
    /// What a record holds; the stage stores bytes and knows no encoding.
    private let codec: any BatchRecordCodec
    private let telemetry: ComponentTelemetry
    private let gauges: Gauges
    private let memory: MemoryLimit?
    /// Stops the reader handing out records: at shutdown, or when a reload replaces the sink.
    private let stop: ShutdownSignal
    private let logger: Logger

    /// Records written at once, with one fsync.
    static let maxGroup = 64

    init(
        sinkID: String, settings: BufferConfig.DiskBufferSettings, codec: any BatchRecordCodec, dataDirectory: String,
        input: BatchQueue, telemetry: ComponentTelemetry, memory: MemoryLimit?, stop: ShutdownSignal, logger: Logger
    ) async throws {
        self.settings = settings
        self.codec = codec
        self.telemetry = telemetry
        self.memory = memory
        self.stop = stop
        self.logger = logger
        self.gauges = Gauges(telemetry)
        let fsync: DiskBufferConfiguration.FsyncPolicy
        switch settings.fsync {
        case .batch: fsync = .always
        case .interval(let interval): fsync = .interval(interval)
        }
        let configuration = DiskBufferConfiguration(
            directory: "\(dataDirectory)/buffers/\(sinkID)", maxSize: settings.maxSize,
            maxSegmentSize: min(8 << 20, max(settings.maxSize / 8, 64 << 10)),
            fsync: fsync)
        do {
            buffer = try await DiskBuffer(configuration) { [logger] message in
                logger.warning("disk buffer: \(message)")
            }
        } catch {
            throw DiskBufferOpenError(sinkID: sinkID, directory: configuration.directory, underlying: error)
        }
        self.input = input
        // A few batches ahead of the sink: the rest waits on disk, not in memory.
        output = BatchQueue(capacity: 4, producers: 1, telemetry: nil, memory: memory)
        gauges.update(buffer.statistics)
    }

    /// Writes everything the sink's inputs send until they finish, then lets the reader stop.
    func runWriter() async throws {
        defer { buffer.finishWriting() }
        while let first = await input.next() {
            var group = [first]
            while group.count < Self.maxGroup, let next = input.tryNext() { group.append(next) }
            await write(group)
            gauges.update(buffer.statistics)
        }
    }

    /// Feeds the sink from disk until the writer finished and everything was read, or until shutdown.
    func runReader() async throws {
        defer { output.producerFinished() }
        while let record = await buffer.next() {
            // At shutdown, records not yet handed out stay on disk for the next run (or the next sink).
            if stop.isTriggered { return }
            let batch: EventBatch
            do {
                batch = try codec.decode(record.payload)
            } catch {
                telemetry.error(.processing)
                logger.error("disk buffer record cannot be decoded; skipping it", metadata: ["error": "\(error)"])
                buffer.acknowledge(record.id)
                continue
            }
            while let memory, !memory.admits(record.payload.count) {
                try await Task.sleep(for: .milliseconds(10))
            }
            let id = record.id
            // The gauges follow acknowledgements too: refreshed only on reads and writes, they kept showing the last
            // records handed to the sink as waiting once the traffic stopped.
            let acknowledgement = Acknowledgement { [buffer, gauges] in
                buffer.acknowledge(id)
                gauges.update(buffer.statistics)
            }
            try await output.send(Envelope(batch, acknowledgement: acknowledgement))
            gauges.update(buffer.statistics)
        }
    }

    /// Fsyncs and records the acknowledged position; after the sink has returned.
    func close() async {
        await buffer.close()
        gauges.update(buffer.statistics)
    }

    /// Writes a group, acknowledging each batch once on disk (or dropped, with `when_full: drop_newest`).
    private func write(_ group: [Envelope]) async {
        let records = group.map { codec.encode($0.batch) }
        switch await append(records, events: group.reduce(0) { $0 + $1.batch.eventCount }) {
        case .done:
            for envelope in group { envelope.acknowledgement.acknowledge() }
        case .tooMany:
            // The group did not fit: one record at a time, so that each meets the policy on its own.
            for (envelope, record) in zip(group, records) {
                guard await append([record], events: envelope.batch.eventCount, single: true) == .done else { return }
                envelope.acknowledgement.acknowledge()
            }
        case .stopped:
            return
        }
    }

    private enum Appended {
        /// Written, or dropped and counted as the policy says: done with either way.
        case done
        /// A group of several did not fit; the caller tries record by record.
        case tooMany
        /// Cancelled (the shutdown deadline passed) or closed while waiting: not written, so not acknowledged.
        case stopped
    }

    /// Appends records; with `block`, waits for room.
    private func append(_ records: [[UInt8]], events: Int, single: Bool = false) async -> Appended {
        let bytes = records.reduce(0) { $0 + $1.count }
        while !Task.isCancelled {
            do {
                try await buffer.append(records)
                input.refuseReservations(false)
                return .done
            } catch .full {
                if !single && records.count > 1 { return .tooMany }
                switch settings.whenFull {
                case .block:
                    // Push sources answer 429 at once while the buffer is full, rather than queueing behind it.
                    input.refuseReservations(true)
                    await buffer.waitForSpace(for: records)
                case .dropNewest:
                    telemetry.discarded(events, reason: "buffer_full")
                    return .done
                }
            } catch .tooLarge {
                if !single && records.count > 1 { return .tooMany }
                telemetry.discarded(events, reason: "larger_than_buffer")
                logger.error(
                    "a batch is larger than the disk buffer's max_size; dropping it",
                    metadata: ["bytes": "\(bytes)", "max_size": "\(settings.maxSize)"])
                return .done
            } catch .closed {
                return .stopped
            } catch {
                telemetry.error(.sending)
                logger.error("disk buffer write failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return .stopped
    }

    /// `petrel_buffer_*`: what the buffer holds and has done, per sink.
    private struct Gauges: Sendable {
        let bytes: Gauge
        let records: Gauge
        let oldestAge: Gauge
        let written: Gauge
        let read: Gauge
        let acknowledged: Gauge
        let corrupted: Gauge

        init(_ telemetry: ComponentTelemetry) {
            let registry = telemetry.registry
            let labels = [("component_id", telemetry.id), ("buffer_type", "disk")]
            bytes = registry.gauge(
                "petrel_buffer_byte_size", help: "Bytes the sink's disk buffer holds on disk.", labels: labels)
            records = registry.gauge(
                "petrel_buffer_records", help: "Records (batches) in the disk buffer not yet acknowledged by the sink.",
                labels: labels)
            oldestAge = registry.gauge(
                "petrel_buffer_oldest_record_age_seconds",
                help: "Age of the oldest record the sink has not acknowledged; 0 when the buffer is empty.",
                labels: labels)
            written = registry.gauge(
                "petrel_buffer_records_written", help: "Records written to the disk buffer since start.", labels: labels
            )
            read = registry.gauge(
                "petrel_buffer_records_read", help: "Records read from the disk buffer since start.", labels: labels)
            acknowledged = registry.gauge(
                "petrel_buffer_records_acknowledged",
                help: "Records the sink acknowledged (delivered or dropped for good) since start.", labels: labels)
            corrupted = registry.gauge(
                "petrel_buffer_records_corrupted",
                help: "Records found torn or corrupt (checksum mismatch) and skipped since start.", labels: labels)
        }

        func update(_ statistics: DiskBufferStatistics) {
            bytes.set(statistics.bytesOnDisk)
            records.set(statistics.unacknowledgedRecords)
            let now = WallClock.nowNanoseconds()
            oldestAge.set(statistics.oldestUnacknowledgedWrittenAt.map { Int(max(0, now - $0) / 1_000_000_000) } ?? 0)
            written.set(statistics.recordsWritten)
            read.set(statistics.recordsRead)
            acknowledged.set(statistics.recordsAcknowledged)
            corrupted.set(statistics.recordsCorrupted)
        }
    }
}

/// A disk buffer could not be opened (its directory cannot be created or read).
struct DiskBufferOpenError: Error, CustomStringConvertible {
    let sinkID: String
    let directory: String
    let underlying: any Error

    var description: String { "sink \"\(sinkID)\": cannot open its disk buffer in \(directory): \(underlying)" }
}
