import PetrelCore
import Synchronization
import Testing

@Suite struct TapTests {
    static func logs(_ count: Int) -> EventBatch {
        .logs(LogBatch(records: (0..<count).map { LogRecord(timestamp: Int64($0), message: "line \($0)") }))
    }

    /// Renders each event as its message, and counts the events it was asked to render.
    final class Rendered: Sendable {
        let events = Atomic<Int>(0)

        func render(_ batch: EventBatch, _ point: TapPoint, _ count: Int) -> [UInt8] {
            events.add(count, ordering: .relaxed)
            guard case .logs(let logs) = batch else { return [] }
            return Array(logs.records.prefix(count).map { "\(point.outputName) \($0.message)\n" }.joined().utf8)
        }
    }

    static func lines(of subscription: TapSubscription) async -> [String] {
        subscription.finish()
        var lines: [String] = []
        for await item in subscription.items {
            if case .lines(let bytes, _) = item {
                subscription.took()
                lines += String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
            }
        }
        return lines
    }

    @Test func patternsMatchWholeIDsWithStarAndQuestionMark() {
        #expect(IDPattern("*").matches("anything"))
        #expect(IDPattern("*").matches(""))
        #expect(IDPattern("kube*").matches("kube_logs"))
        #expect(!IDPattern("kube*").matches("my_kube"))
        #expect(IDPattern("*_logs").matches("kube_logs"))
        #expect(IDPattern("r?ute.*").matches("route.errors"))
        #expect(!IDPattern("r?ute").matches("route.errors"))
        #expect(IDPattern("a*b*c").matches("axxbyyc"))
        #expect(!IDPattern("a*b*c").matches("axxbyy"))
        #expect(IDPattern("exact").matches("exact"))
        #expect(!IDPattern("exact").matches("exactly"))
    }

    @Test func aPointWithoutTapsIsNotAttachedAndOffersGoNowhere() {
        let hub = TapHub()
        let point = hub.point(componentID: "demo")
        #expect(!point.isAttached)
        point.offer(Self.logs(3))
        #expect(hub.point(componentID: "demo") === point, "one point per output")
    }

    @Test func outputsOfAndInputsOfChooseThePoints() async {
        let hub = TapHub()
        let demo = hub.point(componentID: "demo")
        let routed = hub.point(componentID: "router", port: "errors")
        let other = hub.point(componentID: "other")
        hub.setInputs(["sink": ["router.errors"], "router": ["demo"]])
        let rendered = Rendered()
        let subscription = TapSubscription(
            outputsOf: [IDPattern("dem*")], inputsOf: [IDPattern("sink")], rate: 1000, render: rendered.render)
        #expect(hub.subscribe(subscription) == ["demo", "router.errors"])
        #expect(demo.isAttached && routed.isAttached && !other.isAttached)
        demo.offer(Self.logs(1))
        routed.offer(Self.logs(1))
        other.offer(Self.logs(1))
        hub.unsubscribe(subscription)
        #expect(!demo.isAttached && !routed.isAttached)
        demo.offer(Self.logs(1))
        #expect(await Self.lines(of: subscription) == ["demo line 0", "router.errors line 0"])
    }

    @Test func aPointCreatedLaterIsTappedWhenItMatches() async {
        let hub = TapHub()
        let subscription = TapSubscription(outputsOf: [], inputsOf: [], rate: 1000, render: Rendered().render)
        #expect(hub.subscribe(subscription) == [])
        let late = hub.point(componentID: "late")
        #expect(late.isAttached, "no pattern means every output")
        late.offer(Self.logs(2))
        #expect(await Self.lines(of: subscription) == ["late line 0", "late line 1"])
    }

    @Test func theRateIsKeptBeforeAnythingIsRendered() async {
        let hub = TapHub()
        let point = hub.point(componentID: "demo")
        let rendered = Rendered()
        let subscription = TapSubscription(outputsOf: [], inputsOf: [], rate: 10, render: rendered.render)
        _ = hub.subscribe(subscription)
        for _ in 0..<5 { point.offer(Self.logs(100)) }
        // One second's worth at most (the bucket starts full); the test takes far less than a second to offer.
        let counts = subscription.counts
        #expect(counts.passed >= 10 && counts.passed <= 11, "\(counts)")
        #expect(counts.passed + counts.sampledOut == 500)
        #expect(rendered.events.load(ordering: .relaxed) == counts.passed, "only what passed was rendered")
        #expect(await Self.lines(of: subscription).count == counts.passed)
    }

    @Test func aClientThatDoesNotReadLosesEventsInsteadOfHoldingThePipeline() {
        let hub = TapHub()
        let point = hub.point(componentID: "demo")
        let rendered = Rendered()
        let subscription = TapSubscription(outputsOf: [], inputsOf: [], rate: 100_000, render: rendered.render)
        _ = hub.subscribe(subscription)
        // Nobody reads `items`; every offer returns at once.
        for _ in 0..<(TapSubscription.bufferedItems + 50) { point.offer(Self.logs(1)) }
        let counts = subscription.counts
        #expect(counts.passed == TapSubscription.bufferedItems)
        #expect(counts.dropped == 50)
        #expect(rendered.events.load(ordering: .relaxed) == TapSubscription.bufferedItems, "dropped before rendering")
        subscription.finish()
    }
}
