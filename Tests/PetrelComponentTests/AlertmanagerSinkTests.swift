import Foundation
import Logging
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelTestSupport
import Synchronization
import Testing

@testable import PetrelSinks

/// The `alertmanager` sink: what falls due for which replica when (`AlertLedger`), the API v2 body, its keys, and
/// how it reads Alertmanager's answers.
@Suite struct AlertmanagerSinkTests {
    private let second: Int64 = 1_000_000_000
    private let start: Int64 = 1_796_000_000_000_000_000

    private func alert(_ name: String, _ state: Alert.State = .firing, startsAt: Int64? = nil, endsAt: Int64? = nil)
        -> Alert
    {
        Alert(
            labels: ["alertname": name], annotations: ["summary": name], startsAt: startsAt ?? start, endsAt: endsAt,
            state: state)
    }

    private func ledger() -> AlertLedger {
        AlertLedger(replicas: 2, resendInterval: .seconds(60), resolvedRetention: .seconds(900))
    }

    private func names(_ picks: [AlertLedger.Pick]) -> [String] {
        picks.map { $0.alert.labels["alertname"] ?? "" }.sorted()
    }

    @Test func aNewAlertIsDueForEveryReplicaUntilEachHasIt() {
        var ledger = ledger()
        let isNew = ledger.absorb(alert("A"))
        #expect(isNew)
        let picks = ledger.due(replica: 0, now: start, limit: 256)
        #expect(names(picks) == ["A"])
        ledger.markSent(picks, replica: 0, now: start)
        #expect(ledger.due(replica: 0, now: start + second, limit: 256).isEmpty)
        #expect(names(ledger.due(replica: 1, now: start + second, limit: 256)) == ["A"], "replica 1 still waits")
        #expect(ledger.dueCount(replica: 1, now: start + second) == 1)
    }

    @Test func aFiringAlertIsSentAgainEveryResendInterval() {
        var ledger = ledger()
        ledger.absorb(alert("A"))
        ledger.markSent(ledger.due(replica: 0, now: start, limit: 256), replica: 0, now: start)
        #expect(ledger.due(replica: 0, now: start + 59 * second, limit: 256).isEmpty)
        #expect(ledger.nextDue(replica: 0, now: start + 59 * second) == start + 60 * second)
        #expect(names(ledger.due(replica: 0, now: start + 60 * second, limit: 256)) == ["A"])
    }

    @Test func theSameStateAgainChangesNothing() {
        var ledger = ledger()
        ledger.absorb(alert("A"))
        ledger.markSent(ledger.due(replica: 0, now: start, limit: 256), replica: 0, now: start)
        let again = ledger.absorb(alert("A"))
        #expect(!again, "nothing new to tell")
        let laterStart = ledger.absorb(alert("A", startsAt: start + second))
        #expect(!laterStart, "a later start of the same occurrence")
        #expect(ledger.due(replica: 0, now: start + second, limit: 256).isEmpty)
        var changed = alert("A")
        changed.annotations["count"] = "2"
        let annotated = ledger.absorb(changed)
        #expect(annotated, "new annotations are sent")
        #expect(names(ledger.due(replica: 0, now: start + second, limit: 256)) == ["A"])
    }

    @Test func aResolvedAlertIsSentForTheRetentionThenForgotten() {
        var ledger = ledger()
        ledger.absorb(alert("A"))
        ledger.markSent(ledger.due(replica: 0, now: start, limit: 256), replica: 0, now: start)
        let resolvedAt = start + 10 * second
        let resolvedIsNews = ledger.absorb(alert("A", .resolved, endsAt: resolvedAt))
        #expect(resolvedIsNews)
        let picks = ledger.due(replica: 0, now: resolvedAt, limit: 256)
        #expect(picks.map(\.alert.state) == [.resolved] && picks.first?.alert.endsAt == resolvedAt)
        ledger.markSent(picks, replica: 0, now: resolvedAt)
        #expect(ledger.due(replica: 0, now: resolvedAt + 60 * second, limit: 256).count == 1, "re-sent")
        ledger.markSent(
            ledger.due(replica: 0, now: resolvedAt + 60 * second, limit: 256), replica: 0,
            now: resolvedAt + 870 * second)
        #expect(ledger.nextDue(replica: 0, now: resolvedAt + 870 * second) == nil, "no resend past the retention")
        #expect(ledger.nextDue(replica: 1, now: resolvedAt + 870 * second) == resolvedAt + 870 * second, "never had it")
        let expiredEarly = ledger.expire(now: resolvedAt + 899 * second)
        #expect(!expiredEarly)
        let expired = ledger.expire(now: resolvedAt + 900 * second)
        #expect(expired)
        #expect(ledger.entries.isEmpty)
    }

    @Test func aStateSupersededInFlightStaysDue() {
        var ledger = ledger()
        ledger.absorb(alert("A"))
        let inFlight = ledger.due(replica: 0, now: start, limit: 256)
        ledger.absorb(alert("A", .resolved, endsAt: start + second))
        ledger.markSent(inFlight, replica: 0, now: start + 2 * second)
        let next = ledger.due(replica: 0, now: start + 2 * second, limit: 256)
        #expect(next.map(\.alert.state) == [.resolved], "the resolve still goes out")
    }

    @Test func aStaleFiringStateDoesNotResurrectAResolvedAlert() {
        var ledger = ledger()
        ledger.absorb(alert("A"))
        ledger.absorb(alert("A", .resolved, endsAt: start + 10 * second))
        let stale = ledger.absorb(alert("A", startsAt: start))
        #expect(!stale, "the firing state sent before the resolve")
        #expect(ledger.entries.values.first?.alert.state == .resolved)
        let recurred = ledger.absorb(alert("A", startsAt: start + 20 * second))
        #expect(recurred, "a new occurrence")
        #expect(ledger.entries.values.first?.alert.state == .firing)
        #expect(ledger.entries.values.first?.alert.startsAt == start + 20 * second)
    }

    @Test func aRequestTakesAtMostTheLimitLongestWaitingFirst() {
        var ledger = ledger()
        for name in ["A", "B", "C"] { ledger.absorb(alert(name)) }
        ledger.markSent(
            ledger.due(replica: 0, now: start, limit: 256).filter { $0.alert.labels["alertname"] == "C" }, replica: 0,
            now: start)
        ledger.markSent(
            ledger.due(replica: 0, now: start, limit: 256).filter { $0.alert.labels["alertname"] != "C" }, replica: 0,
            now: start + 30 * second)
        #expect(names(ledger.due(replica: 0, now: start + 120 * second, limit: 1)) == ["C"])
        #expect(names(ledger.due(replica: 0, now: start + 120 * second, limit: 5)) == ["A", "B", "C"])
    }

    @Test func theBodyIsAlertmanagersV2Array() {
        let firing = Alert(
            labels: ["alertname": "A", "severity": "warning"], annotations: ["summary": "s"], startsAt: start,
            generatorURL: "http://x")
        let resolved = alert("B", .resolved, endsAt: start + 5 * second)
        let body = AlertmanagerPayload.encode([firing, resolved], now: start + second, resolveTimeout: 240 * second)
        #expect(
            String(decoding: body, as: UTF8.self)
                == #"[{"labels":{"alertname":"A","severity":"warning"},"annotations":{"summary":"s"},"#
                + #""startsAt":"2026-11-30T00:53:20.000000000Z","endsAt":"2026-11-30T00:57:21.000000000Z","#
                + #""generatorURL":"http://x"},{"labels":{"alertname":"B"},"annotations":{"summary":"B"},"#
                + #""startsAt":"2026-11-30T00:53:20.000000000Z","endsAt":"2026-11-30T00:53:25.000000000Z"}]"#)
    }

    @Test func alertsAlertmanagerWouldRefuseAreNamed() {
        #expect(AlertmanagerPayload.problem(with: alert("A")) == nil)
        #expect(
            AlertmanagerPayload.problem(with: Alert(labels: ["bad-name": "x"], startsAt: start))
                == "invalid label set: invalid name \"bad-name\"")
        #expect(
            AlertmanagerPayload.problem(with: Alert(labels: ["alertname": ""], startsAt: start))
                == "at least one label pair required")
        #expect(AlertmanagerPayload.problem(with: Alert(labels: ["_a1": "x"], startsAt: start)) == nil)
    }

    @Test func aBadRequestCountsOneRefusalPerError() {
        // Alertmanager 0.25's answer to four alerts of which three were invalid (captured from the Debian package).
        let body =
            #""invalid label set: invalid name \"bad-name\"; at least one label pair required; start time must be before end time""#
        #expect(AlertmanagerPayload.refusedCount(inBadRequest: body, alerts: 4) == 3)
        #expect(AlertmanagerPayload.refusedCount(inBadRequest: body, alerts: 2) == 2)
        #expect(AlertmanagerPayload.refusedCount(inBadRequest: "", alerts: 5) == 5)
    }

    private func build(_ node: ConfigNode) -> (config: AlertmanagerSinkConfig?, errors: [String]) {
        let outcome = buildComponent(AlertmanagerSink.definition, at: "sinks.am", node)
        guard case .sink(let sink as AlertmanagerSink, let accepts)? = outcome.built else {
            return (nil, outcome.errors)
        }
        #expect(accepts == .alerts)
        return (sink.config, outcome.errors)
    }

    @Test func readsItsKeys() throws {
        let (config, errors) = build(
            componentConfig([
                "endpoints": ["http://am-0:9093", "http://am-1:9093/prefix/"], "resend_interval": "30s",
                "resolved_retention": "5m", "batch": ["max_events": 64], "headers": ["X-Scope": "ops"],
            ]))
        #expect(errors.isEmpty, "\(errors)")
        let built = try #require(config)
        #expect(built.endpoints.map(\.description) == ["http://am-0:9093/", "http://am-1:9093/prefix/"])
        #expect(
            built.endpoints.map { AlertmanagerSinkConfig.alertsEndpoint($0).target } == [
                "/api/v2/alerts", "/prefix/api/v2/alerts",
            ])
        #expect(built.resendInterval == .seconds(30) && built.resolveTimeout == .seconds(120))
        #expect(built.resolvedRetention == .seconds(300) && built.request.maxEvents == 64)
    }

    @Test func defaultsAreThoseOfPrometheusNotifier() throws {
        let built = try #require(build(componentConfig(["endpoints": ["http://am:9093"]])).config)
        #expect(built.resendInterval == .seconds(60) && built.resolveTimeout == .seconds(240))
        #expect(built.resolvedRetention == .seconds(900) && built.request.maxEvents == 256)
    }

    @Test func errorsNameTheKey() {
        let (_, errors) = build(
            componentConfig([
                "endpoints": ["am:9093", "http://a:1", "http://a:1"], "resend_interval": "1m", "resolve_timeout": "30s",
                "compression": "gzip", "endpoint": "http://x", "concurrency": 2, "batch": ["max_age": "1s"],
            ]))
        #expect(
            errors.sorted() == [
                "petrel.yaml: sinks.am.batch.max_age: the alertmanager sink batches by batch.max_events only",
                "petrel.yaml: sinks.am.compression: expected one of none, found \"gzip\"",
                "petrel.yaml: sinks.am.concurrency: the alertmanager sink sends one request at a time to each replica",
                "petrel.yaml: sinks.am.endpoint: unknown key",
                "petrel.yaml: sinks.am.endpoints: http://a:1 is listed twice",
                "petrel.yaml: sinks.am.endpoints: invalid URL \"am:9093\": expected a URL such as http://host:8428/api/v1/write",
                "petrel.yaml: sinks.am.resolve_timeout: must be longer than resend_interval, or alerts resolve between two sends",
            ], "\(errors.sorted())")
        #expect(
            build(componentConfig([:])).errors == [
                "petrel.yaml: sinks.am.endpoints: is required: the base URL of every Alertmanager replica"
            ])
    }

    @Test func aFailingReplicaIsRetriedAndARefusedAlertIsCounted() async throws {
        let receiver = try await ScriptedAlertmanager(script: [
            (500, "\"cannot store alerts\""), (400, "\"invalid label set: invalid name \\\"x\\\"\""),
        ])
        var config = AlertmanagerSinkConfig(endpoints: [try HTTPEndpoint.parse(receiver.url).get()])
        config.request.initialBackoff = .milliseconds(10)
        let sink = AlertmanagerSink(config: config, stateFile: nil)
        let alerts = ["A", "B", "C"].map { alert($0) }
        let telemetry = try await runLogStoreSink(
            sink, id: "am", type: "alertmanager", [Envelope(.alerts(AlertBatch(alerts: alerts)))])
        try await receiver.stop()
        #expect(receiver.bodies.count == 2, "the 500 retried once, the 400 not retried")
        #expect(receiver.bodies.allSatisfy { $0.count == 3 }, "both carry the three alerts")
        let labels = [("component_id", "am"), ("endpoint", "http://127.0.0.1:\(receiver.port)/")]
        #expect(telemetry.registry.value("petrel_alertmanager_alerts_failed_total", labels: labels) == 3)
        #expect(telemetry.registry.value("petrel_alertmanager_alerts_sent_total", labels: labels) == 2)
        #expect(telemetry.discarded("invalid_alert") == 1)
        #expect(telemetry.sent == 2)
        #expect(
            (telemetry.registry.value("petrel_alertmanager_last_success_timestamp_seconds", labels: labels) ?? 0) > 0)
        #expect(telemetry.registry.value("petrel_alertmanager_queue_alerts", labels: labels) == 0)
    }

    @Test func alertsSurviveARestartThroughTheStateFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-am-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let stateFile = StateFile(path: directory.path + "/state.json")
        let receiver = try await ScriptedAlertmanager(script: [])
        let config = AlertmanagerSinkConfig(endpoints: [try HTTPEndpoint.parse(receiver.url).get()])
        // Times near now: a resolved alert is forgotten resolved_retention after it ended.
        let now = WallClock.nowNanoseconds()
        let firing = alert("A", startsAt: now - 10 * second)
        let resolved = alert("B", .resolved, startsAt: now - 10 * second, endsAt: now - 5 * second)
        _ = try await runLogStoreSink(
            AlertmanagerSink(config: config, stateFile: stateFile), id: "am", type: "alertmanager",
            [Envelope(.alerts(AlertBatch(alerts: [firing, resolved])))])
        // A restart with no input: the saved alerts go out again, as they were.
        _ = try await runLogStoreSink(
            AlertmanagerSink(config: config, stateFile: stateFile), id: "am", type: "alertmanager", [])
        try await receiver.stop()
        // One request per run (a request timed out on a loaded machine is sent again: more, never fewer).
        #expect(receiver.bodies.count >= 2)
        let restarted = try #require(receiver.bodies.last)
        let byName = Dictionary(uniqueKeysWithValues: restarted.map { ($0.labels["alertname"] ?? "", $0) })
        #expect(byName["A"]?.startsAt == RFC3339.format(nanoseconds: now - 10 * second))
        #expect(
            byName["B"]?.endsAt == RFC3339.format(nanoseconds: now - 5 * second), "still resolved, at its resolve time")
    }
}

/// An Alertmanager API v2 endpoint that answers the statuses of its script (with their bodies), then 200, and keeps
/// every request's alerts.
final class ScriptedAlertmanager: Sendable {
    /// One alert of a request, as posted.
    struct Posted: Sendable {
        var labels: [String: String]
        var startsAt: String
        var endsAt: String
    }

    private final class Shared: Sendable {
        let state: Mutex<(script: [(Int, String)], bodies: [[Posted]])>

        init(_ script: [(Int, String)]) { state = Mutex((script, [])) }
    }

    let port = freePort()
    private let shared: Shared
    private let shutdown = ShutdownSignal()
    private let task: Task<Void, any Error>

    init(script: [(Int, String)]) async throws {
        let shared = Shared(script)
        self.shared = shared
        let server = HTTPIngestServer(
            host: "127.0.0.1", port: port, maxBodySize: 1 << 20, logger: Logger(label: "scripted-alertmanager")
        ) { request in
            guard request.path == "/api/v2/alerts", request.method == .POST else {
                return .error(.notFound, "not found")
            }
            let posted = Self.parse(Array(request.body.readableBytesView))
            let answer = shared.state.withLock { state -> (Int, String)? in
                state.bodies.append(posted)
                return state.script.isEmpty ? nil : state.script.removeFirst()
            }
            guard let (status, body) = answer else { return HTTPIngestResponse(status: .ok) }
            return HTTPIngestResponse(
                status: HTTPResponseStatus(statusCode: status), headers: ["Content-Type": "application/json"],
                body: Array((body + "\n").utf8))
        }
        let ready = Atomic<Bool>(false)
        let shutdown = self.shutdown
        task = Task { try await server.run(shutdown: shutdown) { _ in ready.store(true, ordering: .relaxed) } }
        for _ in 0..<1500 where !ready.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(20)) }
        guard ready.load(ordering: .relaxed) else { throw TestSupportError("the scripted Alertmanager did not start") }
    }

    var url: String { "http://127.0.0.1:\(port)" }
    /// Each request's alerts, in arrival order.
    var bodies: [[Posted]] { shared.state.withLock { $0.bodies } }

    func stop() async throws {
        shutdown.trigger()
        try await task.value
    }

    private static func parse(_ body: [UInt8]) -> [Posted] {
        guard let array = try? JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]] else { return [] }
        return array.map { object in
            Posted(
                labels: object["labels"] as? [String: String] ?? [:], startsAt: object["startsAt"] as? String ?? "",
                endsAt: object["endsAt"] as? String ?? "")
        }
    }
}
