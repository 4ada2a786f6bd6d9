import PetrelCore
import Synchronization

/// What the tailer has read and what the pipeline has acknowledged, shared between the tailer's task and the
/// threads acknowledgements arrive on: a `ByteRangeTracker` per open file, and the bytes in flight.
///
/// The in-flight count is the source's memory bound: reading waits while `maxUnacknowledgedBytes` are sent and
/// not yet acknowledged, so a slow pipeline holds back the reads rather than filling memory.
final class CheckpointLedger: Sendable {
    fileprivate struct Entry {
        var fingerprint: UInt64
        var path: String
        var tracker: ByteRangeTracker
        /// Let go by the tailer with lines still unacknowledged: kept until they are.
        var isClosed = false
    }

    fileprivate struct State {
        var entries: [UInt64: Entry] = [:]
        /// Checkpoints loaded at start whose files are not open (yet): kept so that they are not forgotten.
        var retained: [UInt64: FileCheckpoint] = [:]
        var inFlightBytes = 0
        /// Tasks waiting for an acknowledgement, by wait number.
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWait = 0
        /// Every wait numbered up to here has seen an acknowledgement since it was numbered.
        var acknowledgedUpTo = -1
        /// Waits cancelled before they began.
        var cancelledWaits: Set<Int> = []
        var released = false
        /// Bumped on every change of what `checkpoints()` returns, so an unchanged ledger is not written again.
        var version = 0
    }

    private let state = Mutex(State())
    let maxUnacknowledgedBytes: Int

    init(maxUnacknowledgedBytes: Int, retained: [FileCheckpoint] = []) {
        self.maxUnacknowledgedBytes = maxUnacknowledgedBytes
        state.withLock { state in
            for checkpoint in retained { state.retained[checkpoint.fingerprint] = checkpoint }
        }
    }

    /// Starts tracking open file `file`, known by `fingerprint`, from `offset`.
    func open(_ file: UInt64, fingerprint: UInt64, path: String, offset: Int64) {
        state.withLock { state in
            state.retained[fingerprint] = nil
            state.entries[file] = Entry(fingerprint: fingerprint, path: path, tracker: ByteRangeTracker(offset: offset))
            state.version += 1
        }
    }

    /// Forgets a file let go, once nothing read from it waits for an acknowledgement.
    ///
    /// While lines of it are still unacknowledged (the first pieces of a line whose last piece is in the next file,
    /// a batch in flight), its checkpoint stays, so a crash before then reads them again (from the gzipped copy,
    /// if the kubelet compressed it meanwhile); it goes with the last acknowledgement.
    func close(_ file: UInt64) {
        state.withLock { state in
            if let entry = state.entries[file], entry.tracker.pendingCount > 0 {
                state.entries[file]?.isClosed = true
            } else {
                state.entries[file] = nil
            }
            state.version += 1
        }
    }

    /// Forgets loaded checkpoints of files that were not found.
    func dropRetained() {
        state.withLock { state in
            if !state.retained.isEmpty { state.version += 1 }
            state.retained = [:]
        }
    }

    func renamed(_ file: UInt64, to path: String) {
        state.withLock { state in
            state.entries[file]?.path = path
            state.version += 1
        }
    }

    /// Records the ranges of lines just read.
    func issue(_ spans: [FileSpan]) {
        state.withLock { state in
            for span in spans { state.entries[span.file]?.tracker.issue(span.range) }
        }
    }

    /// Marks the spans of an acknowledged batch done and frees their bytes from the in-flight window.
    func acknowledged(_ spans: [FileSpan], bytes: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            for span in spans where state.entries[span.file]?.tracker.markDone(span.range) == true {
                state.version += 1
                if let entry = state.entries[span.file], entry.isClosed, entry.tracker.pendingCount == 0 {
                    state.entries[span.file] = nil
                }
            }
            state.inFlightBytes -= bytes
            return state.wakeAll()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Counts `bytes` as in flight if the window has room (a batch larger than the window goes alone, and
    /// everything goes after `release()`); false when it has not.
    func tryReserve(_ bytes: Int) -> Bool {
        state.withLock { state in
            guard
                state.released || state.inFlightBytes == 0
                    || state.inFlightBytes + bytes <= maxUnacknowledgedBytes
            else { return false }
            state.inFlightBytes += bytes
            return true
        }
    }

    /// Returns after the next acknowledgement, `release()`, or `timeout`, whichever comes first.
    func waitForAcknowledgement(timeout: Duration) async {
        let wait = state.withLock { state in
            defer { state.nextWait += 1 }
            return state.nextWait
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForAcknowledgement(number: wait) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForAcknowledgement(number: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.released || number <= state.acknowledgedUpTo
                        || state.cancelledWaits.remove(number) != nil
                    {
                        return true
                    }
                    state.waiters[number] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiters.removeValue(forKey: number) { return waiter }
                if number > state.acknowledgedUpTo { state.cancelledWaits.insert(number) }
                return nil
            }
            waiter?.resume()
        }
    }

    /// Ends every wait: the source is shutting down.
    func release() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.released = true
            return state.wakeAll()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Bytes sent and not yet acknowledged.
    var inFlightBytes: Int { state.withLock { $0.inFlightBytes } }

    /// The checkpoints to save and their version.
    func checkpoints() -> (version: Int, checkpoints: [FileCheckpoint]) {
        state.withLock { state in
            var byFingerprint = state.retained
            for entry in state.entries.values {
                let checkpoint = FileCheckpoint(
                    fingerprint: entry.fingerprint, offset: entry.tracker.committed, path: entry.path)
                // Two open files with one fingerprint (a copy being told apart) keep the further one.
                if let other = byFingerprint[entry.fingerprint], other.offset >= checkpoint.offset { continue }
                byFingerprint[entry.fingerprint] = checkpoint
            }
            let sorted = byFingerprint.values.sorted { ($0.path, $0.fingerprint) < ($1.path, $1.fingerprint) }
            return (state.version, sorted)
        }
    }

    /// Where `file`'s checkpoint stands now.
    func committed(_ file: UInt64) -> Int64? {
        state.withLock { $0.entries[file]?.tracker.committed }
    }
}

extension CheckpointLedger.State {
    /// Takes every waiting continuation, and marks every wait numbered so far as having seen an acknowledgement.
    fileprivate mutating func wakeAll() -> [CheckedContinuation<Void, Never>] {
        acknowledgedUpTo = nextWait - 1
        defer { waiters = [:] }
        return Array(waiters.values)
    }
}
