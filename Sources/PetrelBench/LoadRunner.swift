import Histogram
import NIOCore
import PetrelNet
import Synchronization

/// Sends a `LoadProfile` to an endpoint over `connections` keep-alive connections, as fast as it answers or at a fixed
/// rate, and measures what it accepted and how long each request took.
///
/// At a fixed rate the requests are scheduled (open loop) and a request's latency counts from when it was due, not from
/// when a busy connection got round to it, so a slow target cannot hide its queueing (no coordinated omission).
public struct LoadRunner: Sendable {
    public var endpoint: HTTPEndpoint
    public var connections: Int
    public var duration: Duration
    /// Events per second to offer; `nil` for as fast as the target accepts.
    public var rate: Double?
    public var timeout: Duration = .seconds(30)

    public init(endpoint: HTTPEndpoint, connections: Int, duration: Duration, rate: Double?) {
        self.endpoint = endpoint
        self.connections = connections
        self.duration = duration
        self.rate = rate
    }

    /// Counters the connections share, read by the progress reporter.
    public final class Progress: Sendable {
        let requestCount = Atomic<Int>(0)
        let acceptedEventCount = Atomic<Int>(0)
        let failureCount = Atomic<Int>(0)

        public init() {}

        public var requests: Int { requestCount.load(ordering: .relaxed) }
        public var acceptedEvents: Int { acceptedEventCount.load(ordering: .relaxed) }
        /// Requests not answered 2xx.
        public var failures: Int { failureCount.load(ordering: .relaxed) }
    }

    public struct Summary: Sendable {
        public var elapsed: Duration
        public var requests: Int
        public var acceptedRequests: Int
        public var acceptedEvents: Int
        /// Answers by HTTP status, and `0` for requests that got no answer (connection refused, timeout).
        public var statuses: [Int: Int]
        /// Request latencies in microseconds.
        public var latency: Histogram<UInt64>

        public var acceptedEventsPerSecond: Double { Double(acceptedEvents) / elapsed.seconds }

        public var elapsedSeconds: Double { elapsed.seconds }
    }

    /// Numbers requests across connections: request n sends body n (mod the pool) and, at a fixed rate, is due at n.
    private final class Tickets: Sendable {
        private let counter = Atomic<Int>(0)

        func next() -> Int { counter.add(1, ordering: .relaxed).oldValue }
    }

    private struct ConnectionResult: Sendable {
        var requests = 0
        var acceptedRequests = 0
        var acceptedEvents = 0
        var statuses: [Int: Int] = [:]
        var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }

    public func run(_ profile: LoadProfile, progress: Progress) async -> Summary {
        let start = ContinuousClock.now
        let end = start + duration
        let tickets = Tickets()
        // At a fixed rate, request n is due at start + n * interval.
        let meanEvents = Double(profile.events.reduce(0, +)) / Double(max(profile.events.count, 1))
        let interval = rate.map { Duration.seconds(meanEvents / $0) }
        // One client whose pool holds a keep-alive connection per worker.
        let client = HTTPEndpointClient(origin: endpoint, connections: connections, timeout: timeout)
        let results = await withTaskGroup(of: ConnectionResult.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    var result = ConnectionResult()
                    while true {
                        let number = tickets.next()
                        var due = ContinuousClock.now
                        if let interval {
                            due = start + interval * number
                            if due >= end { break }
                            if due > .now { try? await Task.sleep(until: due) }
                        } else if due >= end {
                            break
                        }
                        let index = number % profile.bodies.count
                        let status: Int
                        do {
                            let response = try await client.post(
                                to: endpoint, body: profile.bodies[index], headers: profile.headers)
                            status = Int(response.status.code)
                        } catch {
                            status = 0
                        }
                        _ = result.latency.record(UInt64(max(0, due.duration(to: .now).microseconds)))
                        result.requests += 1
                        result.statuses[status, default: 0] += 1
                        progress.requestCount.add(1, ordering: .relaxed)
                        if (200..<300).contains(status) {
                            result.acceptedRequests += 1
                            result.acceptedEvents += profile.events[index]
                            progress.acceptedEventCount.add(profile.events[index], ordering: .relaxed)
                        } else {
                            progress.failureCount.add(1, ordering: .relaxed)
                            // A refusing or absent target is not hammered in a tight loop.
                            if interval == nil { try? await Task.sleep(for: .milliseconds(status == 0 ? 100 : 5)) }
                        }
                    }
                    return result
                }
            }
            var merged = ConnectionResult()
            for await result in group {
                merged.requests += result.requests
                merged.acceptedRequests += result.acceptedRequests
                merged.acceptedEvents += result.acceptedEvents
                merged.statuses.merge(result.statuses, uniquingKeysWith: +)
                merged.latency.add(result.latency)
            }
            return merged
        }
        await client.shutdown()
        return Summary(
            elapsed: start.duration(to: .now), requests: results.requests, acceptedRequests: results.acceptedRequests,
            acceptedEvents: results.acceptedEvents, statuses: results.statuses, latency: results.latency)
    }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }

    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
