import Logging
import PetrelCore

/// A request on its way to a receiver: how many events it carries, and how to let its input batches go.
protocol SinkRequest: Sendable {
    var eventCount: Int { get }

    /// The request was delivered or dropped for good.
    func acknowledge()
}

/// Turns a sink's input into requests bounded by events, bytes and age.
protocol RequestBatching {
    associatedtype Input: Sendable
    associatedtype Request: SinkRequest

    /// When the oldest pending request must go even if it is not full.
    var deadline: ContinuousClock.Instant? { get }

    /// Adds an input; returns the requests that filled up.
    mutating func add(_ input: Input) -> [Request]

    /// The requests whose deadline has passed.
    mutating func flushExpired() -> [Request]

    /// Everything pending, at the end of the input.
    mutating func flushAll() -> [Request]
}

/// The one request loop of every sink (Vector's `sinks/util`): a batcher fills a bounded queue of requests,
/// `concurrency` senders prepare and send them, classify each answer, retry with exponential backoff and jitter
/// (honouring the delay a receiver asks for) and acknowledge them once delivered or dropped.
///
/// A sink supplies the encoding (`prepare`), one attempt (`attempt`, which never throws: every failure is a
/// `SendOutcome`) and, where requests may move elsewhere, `handOff`. Cancellation stops retrying at once and
/// leaves the request unacknowledged.
struct RequestDriver<Request: SinkRequest>: Sendable {
    let settings: SinkRequestSettings
    let context: SinkContext
    /// Where requests go, for logs.
    let destination: String
    /// Requests retried after a retryable outcome.
    let retries: Counter
    /// One attempt at sending a request.
    let attempt: @Sendable (Request) async -> SendOutcome
    /// Asked before each attempt and after each retryable outcome; true when the request went elsewhere (to a
    /// healthy peer endpoint) and is done with here.
    var handOff: (@Sendable (Request) async throws -> Bool)? = nil

    /// Batches `pull`'s input with `batcher`, prepares each request with `prepare` and delivers it, until the input
    /// ends and every request is done with.
    func run<Batcher: RequestBatching>(
        batcher: Batcher, pull: @escaping @Sendable (ContinuousClock.Instant?) async -> Pulled<Batcher.Input>,
        prepare: @escaping @Sendable (Batcher.Request) throws -> Request
    ) async throws {
        let requests = BoundedQueue<Batcher.Request>(capacity: settings.concurrency, producers: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<settings.concurrency {
                group.addTask {
                    while let batched = await requests.next() {
                        let request: Request
                        do {
                            request = try prepare(batched)
                        } catch {
                            context.telemetry.error(.processing)
                            context.telemetry.discarded(batched.eventCount, reason: "encoding_failed")
                            context.logger.warning(
                                "cannot encode a request; dropping it",
                                metadata: [
                                    "endpoint": "\(destination)", "error": "\(error)",
                                    "events": "\(batched.eventCount)",
                                ])
                            batched.acknowledge()
                            continue
                        }
                        try await deliver(request)
                    }
                }
            }
            try await batch(pull, with: batcher, into: requests)
            try await group.waitForAll()
        }
    }

    /// Feeds the senders until the input ends, then hands over what is pending.
    private func batch<Batcher: RequestBatching>(
        _ pull: @Sendable (ContinuousClock.Instant?) async -> Pulled<Batcher.Input>, with batcher: Batcher,
        into requests: BoundedQueue<Batcher.Request>
    ) async throws {
        defer { requests.producerFinished() }
        var batcher = batcher
        while true {
            switch await pull(batcher.deadline) {
            case .ended:
                for request in batcher.flushAll() { try await requests.send(request) }
                return
            case .timedOut:
                for request in batcher.flushExpired() { try await requests.send(request) }
            case .element(let input):
                for request in batcher.add(input) { try await requests.send(request) }
            }
        }
    }

    /// Sends a request until it is delivered, dropped or handed elsewhere; throws only when cancelled, leaving it
    /// unacknowledged.
    func deliver(_ request: Request) async throws {
        var events = request.eventCount
        var backoff = settings.initialBackoff
        while true {
            if let handOff, try await handOff(request) { return }
            let started = ContinuousClock.now
            var outcome = await attempt(request)
            context.telemetry.requestDuration.observe(since: started)
            if case .itemized(let items) = outcome {
                events -= record(items)
                guard let retry = items.retry, events > 0 else {
                    request.acknowledge()
                    return
                }
                outcome = .retry(reason: retry.reason, after: retry.after)
            }
            switch outcome {
            case .delivered(let wireBytes, let rejected, let message):
                let refused = min(max(rejected, 0), events)
                context.telemetry.sentEvents.increment(by: events - refused)
                context.telemetry.sentBytes.increment(by: wireBytes)
                if refused > 0 {
                    context.telemetry.discarded(refused, reason: "rejected_by_receiver")
                    context.logger.warning(
                        "receiver rejected part of a request",
                        metadata: [
                            "endpoint": "\(destination)", "rejected": "\(refused)", "events": "\(events)",
                            "response": "\(Self.firstLine(message))",
                        ])
                } else if !message.isEmpty {
                    context.logger.info(
                        "receiver accepted a request with a warning",
                        metadata: ["endpoint": "\(destination)", "response": "\(Self.firstLine(message))"])
                }
                request.acknowledge()
                return
            case .drop(let reason, let message):
                context.telemetry.error(.sending)
                context.telemetry.discarded(events, reason: reason)
                context.logger.warning(
                    "receiver refused a request; dropping it",
                    metadata: [
                        "endpoint": "\(destination)", "reason": "\(reason)",
                        "response": "\(Self.firstLine(message))", "events": "\(events)",
                    ])
                request.acknowledge()
                return
            case .retry(let reason, let after):
                // Cancelled (the shutdown deadline, a second signal): the request stays unacknowledged, neither an
                // error nor handed to another endpoint.
                try Task.checkCancellation()
                context.telemetry.error(.sending)
                retries.increment()
                context.logger.debug(
                    "request failed; will retry", metadata: ["endpoint": "\(destination)", "reason": "\(reason)"])
                if let handOff, try await handOff(request) { return }
                let jittered = backoff * Double.random(in: 0.5...1.0)
                try await Task.sleep(for: max(jittered, after ?? .zero))
                backoff = min(backoff * 2, settings.maxBackoff)
            case .itemized:
                preconditionFailure("an itemized outcome was turned into a retry above")
            }
        }
    }

    /// Counts what a per-event answer delivered and dropped; returns how many events are done with.
    private func record(_ items: ItemizedOutcome) -> Int {
        context.telemetry.sentEvents.increment(by: items.delivered)
        context.telemetry.sentBytes.increment(by: items.wireBytes)
        var done = items.delivered
        for dropped in items.dropped where dropped.count > 0 {
            done += dropped.count
            context.telemetry.discarded(dropped.count, reason: dropped.reason)
            context.logger.warning(
                "receiver refused some events; dropping them",
                metadata: [
                    "endpoint": "\(destination)", "reason": "\(dropped.reason)", "events": "\(dropped.count)",
                    "response": "\(Self.firstLine(dropped.message))",
                ])
        }
        return done
    }

    private static func firstLine(_ text: String) -> Substring {
        text.prefix { $0 != "\n" && $0 != "\r" }.prefix(512)
    }
}
