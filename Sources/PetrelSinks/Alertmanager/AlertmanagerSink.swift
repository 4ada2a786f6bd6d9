import Logging
import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import Synchronization

/// Sends alerts to every Alertmanager replica through the API v2 (`POST /api/v2/alerts`), as Prometheus' notifier
/// does but with one queue and one task per replica, so a slow or dead replica never delays the others.
///
/// It keeps every alert it was given (`AlertLedger`) and persists them in `<data_dir>/alerts/<id>/state.json`
/// before acknowledging them: after a crash and restart it sends the same alerts again, with their first
/// `startsAt`, so Alertmanager neither resolves them nor notifies anew, and a resolved alert stays resolved. Firing
/// alerts are sent again every `resend_interval` with `endsAt` = now + `resolve_timeout`; resolved ones with their
/// resolve time, for `resolved_retention`. A 5xx or a network error is retried with backoff, each retry carrying the
/// alerts' latest state; a 400 means Alertmanager stored the valid alerts and refused the rest, which are counted
/// (`reason="invalid_alert"`) and logged.
public struct AlertmanagerSink: Sink {
    public let config: AlertmanagerSinkConfig
    /// Where the alerts are kept across restarts; nil keeps them in memory only.
    public let stateFile: StateFile?

    public init(config: AlertmanagerSinkConfig, stateFile: StateFile?) {
        self.config = config
        self.stateFile = stateFile
    }

    public static let definition = ComponentDefinition(type: "alertmanager", kind: .sink) { reader, context in
        let config = AlertmanagerSinkConfig(from: reader)
        let stateFile = StateFile(path: context.dataDirectory + "/alerts/" + context.id + "/state.json")
        return .sink(AlertmanagerSink(config: config, stateFile: stateFile), accepts: .alerts)
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let book = AlertBook(
            ledger: AlertLedger(
                replicas: config.endpoints.count, resendInterval: config.resendInterval,
                resolvedRetention: config.resolvedRetention))
        restore(into: book, context)
        var senders: [ReplicaSender] = []
        for (index, endpoint) in config.endpoints.enumerated() {
            senders.append(
                try ReplicaSender(index: index, base: endpoint, config: config, book: book, context: context))
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for sender in senders { group.addTask { try await sender.run() } }
                for await envelope in input {
                    take(envelope, into: book, context)
                    for sender in senders {
                        // Counted here too: a sender waiting on a hung replica does not count its queue.
                        sender.countQueue()
                        sender.wake.signal()
                    }
                }
                book.state.withLock { $0.inputEnded = true }
                for sender in senders { sender.wake.signal() }
                try await group.waitForAll()
            }
        } catch {
            for sender in senders { await sender.client.shutdown() }
            throw error
        }
        for sender in senders { await sender.client.shutdown() }
    }

    /// Absorbs a batch, saves the alerts when they changed, and lets the batch go: from here the sink owns them.
    private func take(_ envelope: Envelope, into book: AlertBook, _ context: SinkContext) {
        defer { envelope.acknowledgement.acknowledge() }
        guard case .alerts(let batch) = envelope.batch else { return }
        let snapshot: [Alert]? = book.state.withLock { state in
            var changed = false
            for alert in batch.alerts where state.ledger.absorb(alert) { changed = true }
            return changed ? state.ledger.alerts : nil
        }
        if let snapshot { save(snapshot, context) }
    }

    func save(_ alerts: [Alert], _ context: SinkContext) {
        guard let stateFile else { return }
        do {
            try stateFile.save(AlertRecordCodec.encode(alerts))
        } catch {
            context.telemetry.error(.processing)
            context.logger.error(
                "cannot save the alerts; a restart now would forget the changes",
                metadata: ["path": "\(stateFile.path)", "error": "\(error)"])
        }
    }

    private func restore(into book: AlertBook, _ context: SinkContext) {
        guard let stateFile else { return }
        do {
            guard let bytes = try stateFile.load() else { return }
            let alerts = try AlertRecordCodec.decodeAlerts(bytes)
            book.state.withLock { state in
                for alert in alerts { state.ledger.absorb(alert) }
            }
            context.logger.info(
                "restored alerts", metadata: ["alerts": "\(alerts.count)", "path": "\(stateFile.path)"])
        } catch {
            context.telemetry.error(.processing)
            let aside = stateFile.setAside()
            context.logger.error(
                "cannot read the saved alerts; starting without them",
                metadata: ["path": "\(stateFile.path)", "moved_to": "\(aside)", "error": "\(error)"])
        }
    }
}

/// The ledger shared by the input loop and the replicas' senders.
final class AlertBook: Sendable {
    struct State: Sendable {
        var ledger: AlertLedger
        /// Set once the input ended: senders stop once they delivered every change.
        var inputEnded = false
    }

    let state: Mutex<State>

    init(ledger: AlertLedger) {
        state = Mutex(State(ledger: ledger))
    }
}

/// Wakes one waiting task; a signal with nobody waiting is kept for the next wait.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns on a signal, after `limit`, or when cancelled.
    func wait(atMost limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait() }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    private func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}

/// One replica's sender: its own connections, its own backoff, its own metrics.
struct ReplicaSender: Sendable {
    let index: Int
    let endpoint: HTTPEndpoint
    let client: HTTPEndpointClient
    let headers: HTTPHeaders
    let config: AlertmanagerSinkConfig
    let book: AlertBook
    let context: SinkContext
    let wake = WakeSignal()
    let sent: Counter
    let failed: Counter
    let queued: Gauge
    let lastSuccess: Gauge

    init(
        index: Int, base: HTTPEndpoint, config: AlertmanagerSinkConfig, book: AlertBook, context: SinkContext
    ) throws {
        self.index = index
        self.endpoint = AlertmanagerSinkConfig.alertsEndpoint(base)
        let tls = base.usesTLS ? try ReloadingClientTLS(config.request.tls, logger: context.logger) : nil
        self.client = HTTPEndpointClient(
            origin: base, connections: 1, timeout: config.request.timeout, tls: tls,
            serverName: config.request.tls.serverName)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        config.request.addHeaders(to: &headers)
        self.headers = headers
        self.config = config
        self.book = book
        self.context = context
        let registry = context.telemetry.registry
        let labels = [("component_id", context.id), ("endpoint", base.description)]
        sent = registry.counter(
            "petrel_alertmanager_alerts_sent_total", help: "Alerts an Alertmanager replica took.", labels: labels)
        failed = registry.counter(
            "petrel_alertmanager_alerts_failed_total",
            help: "Alerts in requests to an Alertmanager replica that failed and will be retried.", labels: labels)
        queued = registry.gauge(
            "petrel_alertmanager_queue_alerts", help: "Alerts due for an Alertmanager replica and not yet sent.",
            labels: labels)
        lastSuccess = registry.gauge(
            "petrel_alertmanager_last_success_timestamp_seconds",
            help: "When an Alertmanager replica last took a request (Unix seconds).", labels: labels)
    }

    /// Sends what falls due until the input ended and this replica has every change, or the task is cancelled.
    func run() async throws {
        let maxEvents = config.request.maxEvents
        let resolveTimeout = AlertLedger.nanoseconds(config.resolveTimeout)
        var backoff = config.request.initialBackoff
        while true {
            try Task.checkCancellation()
            let now = WallClock.nowNanoseconds()
            let (picks, dueCount, nextDue, finished) = book.state.withLock { state in
                _ = state.ledger.expire(now: now)
                let picks = state.ledger.due(replica: index, now: now, limit: maxEvents)
                let changes = state.ledger.entries.values.contains { $0.delivered[index] != $0.version }
                return (
                    picks, state.ledger.dueCount(replica: index, now: now),
                    state.ledger.nextDue(replica: index, now: now), state.inputEnded && !changes
                )
            }
            queued.set(dueCount)
            if finished { return }
            if picks.isEmpty {
                let wait = nextDue.map { Duration.nanoseconds(max($0 - now, 0)) } ?? config.resendInterval
                await wake.wait(atMost: min(wait, config.resendInterval))
                continue
            }
            let valid = dropInvalid(picks, now: now)
            if valid.isEmpty { continue }
            let body = AlertmanagerPayload.encode(valid.map(\.alert), now: now, resolveTimeout: resolveTimeout)
            if await deliver(valid, body: body, now: now) {
                backoff = config.request.initialBackoff
            } else {
                try Task.checkCancellation()
                let jittered = backoff * Double.random(in: 0.5...1.0)
                try await Task.sleep(for: jittered)
                backoff = min(backoff * 2, config.request.maxBackoff)
            }
        }
    }

    /// Sets the queue gauge to the alerts due for this replica now.
    func countQueue() {
        let now = WallClock.nowNanoseconds()
        queued.set(book.state.withLock { $0.ledger.dueCount(replica: index, now: now) })
    }

    /// Alerts Alertmanager would refuse are dropped here, named in the log, and forgotten.
    private func dropInvalid(_ picks: [AlertLedger.Pick], now: Int64) -> [AlertLedger.Pick] {
        var valid: [AlertLedger.Pick] = []
        for pick in picks {
            guard let problem = AlertmanagerPayload.problem(with: pick.alert) else {
                valid.append(pick)
                continue
            }
            book.state.withLock { $0.ledger.remove(identity: pick.identity) }
            context.telemetry.discarded(1, reason: "invalid_alert")
            context.logger.warning(
                "dropping an alert Alertmanager would refuse",
                metadata: ["labels": "\(pick.alert.labels)", "problem": "\(problem)"])
        }
        return valid
    }

    /// One request; true when it is done with (delivered, or refused for good), false to retry after a backoff.
    private func deliver(_ picks: [AlertLedger.Pick], body: [UInt8], now: Int64) async -> Bool {
        let started = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            response = try await client.post(to: endpoint, body: ByteBuffer(bytes: body), headers: headers)
        } catch {
            retryLater(picks.count, reason: "\(error)")
            return false
        }
        context.telemetry.requestDuration.observe(since: started)
        let code = response.status.code
        switch code {
        case 200..<300:
            accepted(picks, refused: 0, bodyBytes: body.count, now: now)
            return true
        case 400:
            // Alertmanager stored the valid alerts of the request and says what was wrong with the others.
            let refused = AlertmanagerPayload.refusedCount(inBadRequest: response.firstBodyLine, alerts: picks.count)
            context.telemetry.discarded(refused, reason: "invalid_alert")
            context.logger.warning(
                "Alertmanager refused some alerts of a request; dropping them",
                metadata: [
                    "endpoint": "\(endpoint)", "refused": "\(refused)", "alerts": "\(picks.count)",
                    "response": "\(response.firstBodyLine)",
                ])
            accepted(picks, refused: refused, bodyBytes: body.count, now: now)
            return true
        case 429, 500..<600:
            retryLater(picks.count, reason: "HTTP \(code): \(response.firstBodyLine)")
            return false
        default:
            context.telemetry.error(.sending)
            context.telemetry.discarded(picks.count, reason: "http_\(code)")
            context.logger.warning(
                "Alertmanager refused a request; dropping it until the alerts are sent again",
                metadata: [
                    "endpoint": "\(endpoint)", "alerts": "\(picks.count)", "response": "\(response.firstBodyLine)",
                ])
            book.state.withLock { $0.ledger.markSent(picks, replica: index, now: now) }
            return true
        }
    }

    private func accepted(_ picks: [AlertLedger.Pick], refused: Int, bodyBytes: Int, now: Int64) {
        book.state.withLock { $0.ledger.markSent(picks, replica: index, now: now) }
        sent.increment(by: picks.count - refused)
        context.telemetry.sentEvents.increment(by: picks.count - refused)
        context.telemetry.sentBytes.increment(by: bodyBytes)
        lastSuccess.set(Int(WallClock.nowNanoseconds() / 1_000_000_000))
    }

    private func retryLater(_ count: Int, reason: String) {
        failed.increment(by: count)
        context.telemetry.error(.sending)
        context.logger.debug(
            "request to Alertmanager failed; will retry", metadata: ["endpoint": "\(endpoint)", "reason": "\(reason)"])
    }
}
