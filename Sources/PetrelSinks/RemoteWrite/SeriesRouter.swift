import PetrelCore
import Synchronization

/// Decides which endpoint writers get which series, and knows when everything routed is done.
///
/// In `shard` mode each series goes to one healthy endpoint chosen by rendezvous hashing of its
/// labels: the same series goes to the same endpoint while the set of healthy endpoints stays the
/// same, and only a failed endpoint's series move (and come back when it recovers).
final class SeriesRouter: Sendable {
    let writers: [EndpointWriter]
    let mode: RemoteWriteSinkConfig.Mode
    private let outstanding = Mutex<(series: Int, drained: CheckedContinuation<Void, Never>?)>(
        (0, nil))

    init(writers: [EndpointWriter], mode: RemoteWriteSinkConfig.Mode) {
        self.writers = writers
        self.mode = mode
    }

    /// Hands a batch to the writers, waiting while their buffers are full. Every part handed on holds
    /// `acknowledgement` (split once per further part), and gives it back once delivered or dropped.
    func route(
        _ batch: MetricBatch, _ acknowledgement: Acknowledgement, avoiding failed: EndpointWriter? = nil
    ) async throws {
        guard !batch.series.isEmpty else {
            acknowledgement.acknowledge()
            return
        }
        switch mode {
        case .replicate:
            let holds = Self.holds(acknowledgement, count: writers.count)
            for (writer, hold) in zip(writers, holds) {
                enter(batch.seriesCount)
                try await writer.enqueue(RoutedBatch(batch: batch, acknowledgement: hold))
            }
        case .shard:
            var targets = writers.filter { $0.isHealthy && $0 !== failed }
            if targets.isEmpty { targets = writers }
            if targets.count == 1 {
                enter(batch.seriesCount)
                try await targets[0].enqueue(RoutedBatch(batch: batch, acknowledgement: acknowledgement))
                return
            }
            var parts = Array(repeating: [Series](), count: targets.count)
            for index in batch.series.indices {
                parts[Self.owner(of: batch.labelsHash(series: index), among: targets)].append(
                    batch.series[index])
            }
            let used = zip(targets, parts).filter { !$0.1.isEmpty }
            for ((target, series), hold) in zip(used, Self.holds(acknowledgement, count: used.count)) {
                var part = batch
                part.series = series
                enter(series.count)
                try await target.enqueue(RoutedBatch(batch: part, acknowledgement: hold))
            }
        }
    }

    /// `count` holds of one acknowledgement, all taken before any part is handed on.
    static func holds(_ acknowledgement: Acknowledgement, count: Int) -> [Acknowledgement] {
        [acknowledgement] + (1..<max(count, 1)).map { _ in acknowledgement.split() }
    }

    /// Whether a writer's series may ever move to another writer (shard mode with several endpoints).
    var canReroute: Bool { mode == .shard && writers.count > 1 }

    /// Whether another writer than `writer` could take its series now.
    func hasHealthyPeer(of writer: EndpointWriter) -> Bool {
        mode == .shard && writers.contains { $0 !== writer && $0.isHealthy }
    }

    /// Rendezvous (highest random weight) hashing: the target whose mix with the series hash is largest.
    static func owner(of hash: UInt64, among targets: [EndpointWriter]) -> Int {
        var best = 0
        var bestScore: UInt64 = 0
        for (index, target) in targets.enumerated() {
            let score = mix(hash ^ target.seed)
            if index == 0 || score > bestScore {
                best = index
                bestScore = score
            }
        }
        return best
    }

    /// A 64-bit finalizer (SplitMix64's) so that close seeds give unrelated scores.
    static func mix(_ value: UInt64) -> UInt64 {
        var mixed = value &+ 0x9E37_79B9_7F4A_7C15
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// Counts series handed to a writer and not yet delivered, dropped or moved.
    func enter(_ series: Int) {
        outstanding.withLock { $0.series += series }
    }

    /// Counts series that are done with.
    func leave(_ series: Int) {
        let drained = outstanding.withLock { state -> CheckedContinuation<Void, Never>? in
            state.series -= series
            guard state.series == 0 else { return nil }
            defer { state.drained = nil }
            return state.drained
        }
        drained?.resume()
    }

    /// Waits until every routed series is done with, or until the task is cancelled, then ends the writers' queues.
    ///
    /// Cancellation (the shutdown deadline, a second signal) must end the wait: the writers' senders stop retrying
    /// when cancelled, so the series they hold never leave, and the sink would wait for them forever.
    func finish() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = outstanding.withLock { state -> Bool in
                    if state.series == 0 || Task.isCancelled { return true }
                    state.drained = continuation
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let drained = outstanding.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.drained = nil }
                return state.drained
            }
            drained?.resume()
        }
        for writer in writers { writer.inputFinished() }
    }
}
