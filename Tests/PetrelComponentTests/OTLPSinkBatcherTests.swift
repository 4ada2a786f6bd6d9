import PetrelCore
import Synchronization
import Testing

@testable import PetrelSinks

/// How the OTLP sink groups batches into requests, without any network.
@Suite struct OTLPSinkBatcherTests {
    private func spans(of requests: [PendingExport]) -> [SpanBatch] {
        requests.compactMap {
            guard case .traces(let batch) = $0.batch else { return nil }
            return batch
        }
    }

    @Test func splitsAtMaxEventsKeepingEveryGroup() {
        var batcher = OTLPBatcher(maxEvents: 3, maxBytes: 1 << 30, maxAge: .seconds(1))
        let sent = OTLPSinkFixtures.spans(resources: 2, scopes: 2, spansPerScope: 2)
        let requests = spans(of: batcher.add(.traces(sent)) + batcher.flush())
        #expect(requests.map(\.spanCount) == [3, 3, 2])
        #expect(OTLPSinkFixtures.placedSpans(requests) == OTLPSinkFixtures.placedSpans([sent]))
        let order = requests.flatMap { $0.resourceSpans.flatMap { $0.scopeSpans.flatMap { $0.spans.map(\.spanID) } } }
        #expect(order == (1...8).map { SpanID(UInt64($0)) }, "spans keep their order")
        #expect(requests[0].resourceSpans.map { $0.scopeSpans.count } == [2], "a scope split across requests")
        #expect(requests[1].resourceSpans.count == 2, "and a resource")
    }

    @Test func mergesSmallBatchesUntilFull() {
        var batcher = OTLPBatcher(maxEvents: 4, maxBytes: 1 << 30, maxAge: .seconds(1))
        let first = OTLPSinkFixtures.spans(resources: 1, scopes: 1, spansPerScope: 1, firstID: 0)
        let second = OTLPSinkFixtures.spans(resources: 1, scopes: 1, spansPerScope: 3, firstID: 10)
        #expect(batcher.add(.traces(first)).isEmpty)
        let full = spans(of: batcher.add(.traces(second)))
        #expect(full.count == 1)
        #expect(full.first?.resourceSpans == first.resourceSpans + second.resourceSpans)
        #expect(batcher.flush().isEmpty && batcher.deadline == nil)
    }

    @Test func splitsAtMaxBytes() {
        let sent = OTLPSinkFixtures.spans(resources: 1, scopes: 1, spansPerScope: 10)
        var batcher = OTLPBatcher(maxEvents: 1000, maxBytes: sent.estimatedBytes / 3, maxAge: .seconds(1))
        let requests = spans(of: batcher.add(.traces(sent)) + batcher.flush())
        #expect(requests.count >= 3)
        #expect(requests.allSatisfy { $0.estimatedBytes <= sent.estimatedBytes / 3 + sent.estimatedBytes / 10 })
        #expect(requests.reduce(0) { $0 + $1.spanCount } == 10)
    }

    @Test func anEventLargerThanMaxBytesGoesAlone() {
        let sent = OTLPSinkFixtures.spans(resources: 1, scopes: 1, spansPerScope: 2)
        var batcher = OTLPBatcher(maxEvents: 100, maxBytes: 10, maxAge: .seconds(1))
        let requests = spans(of: batcher.add(.traces(sent)) + batcher.flush())
        #expect(requests.map(\.spanCount) == [1, 1])
    }

    @Test func pendingRequestsGoAtTheirDeadline() {
        let start = ContinuousClock.now
        var batcher = OTLPBatcher(maxEvents: 100, maxBytes: 1 << 30, maxAge: .milliseconds(200))
        #expect(batcher.deadline == nil)
        _ = batcher.add(.traces(OTLPSinkFixtures.spans(resources: 1, spansPerScope: 1)), now: start)
        _ = batcher.add(.logs(OTLPSinkFixtures.logs(count: 2)), now: start + .milliseconds(100))
        #expect(batcher.deadline == start + .milliseconds(200))
        #expect(batcher.flushExpired(now: start + .milliseconds(199)).isEmpty)
        let traces = batcher.flushExpired(now: start + .milliseconds(200))
        #expect(traces.map(\.signal) == [.traces] && traces.map(\.eventCount) == [2])
        #expect(batcher.deadline == start + .milliseconds(300), "the logs wait for their own deadline")
        let logs = batcher.flushExpired(now: start + .milliseconds(300))
        #expect(logs.map(\.signal) == [.logs] && logs.map(\.eventCount) == [2])
    }

    @Test func logsSplitAndMetricsAreIgnored() {
        var batcher = OTLPBatcher(maxEvents: 4, maxBytes: 1 << 30, maxAge: .seconds(1))
        #expect(batcher.add(.metrics(MetricBatch())).isEmpty)
        #expect(batcher.add(.logs(LogBatch())).isEmpty && batcher.deadline == nil)
        let requests = batcher.add(.logs(OTLPSinkFixtures.logs(count: 10))) + batcher.flush()
        let messages = requests.map { request -> [String] in
            guard case .logs(let batch) = request.batch else { return [] }
            return batch.records.map(\.message)
        }
        #expect(messages.map(\.count) == [4, 4, 2])
        #expect(messages.flatMap { $0 } == (0..<10).map { "line \($0)" })
    }

    @Test func aBatchSplitAcrossRequestsIsAcknowledgedOnceEveryRequestIs() throws {
        let acknowledged = Mutex(0)
        let acknowledgement = Acknowledgement { acknowledged.withLock { $0 += 1 } }
        var batcher = OTLPBatcher(maxEvents: 3, maxBytes: 1 << 30, maxAge: .seconds(1))
        let sent = OTLPSinkFixtures.spans(resources: 2, scopes: 1, spansPerScope: 4)
        let requests = batcher.add(.traces(sent), acknowledgement: acknowledgement) + batcher.flush()
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0.acknowledgements.count == 1 })
        for request in requests.dropLast() { request.acknowledge() }
        #expect(acknowledged.withLock { $0 } == 0, "one request is still out")
        requests.last!.acknowledge()
        #expect(acknowledged.withLock { $0 } == 1)
    }
}
