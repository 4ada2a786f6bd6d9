import Foundation
import Logging
import PetrelCodecs
import PetrelComponents
import PetrelConfig
import PetrelCore
import Testing

@testable import PetrelTransforms

/// The `alert` transform: which events make which alert, when it fires and resolves, the cardinality guard, the
/// state that survives a restart, and the Falco preset on Falco's own JSON.
@Suite struct AlertTransformTests {
    private let second: Int64 = 1_000_000_000
    private let start: Int64 = 1_796_000_000_000_000_000
    private let telemetry = componentTestTelemetry(id: "alerts", type: "alert", kind: .transform)
    private var context: TransformContext {
        TransformContext(id: "alerts", telemetry: telemetry, logger: Logger(label: "test.alert"))
    }

    private func build(_ node: ConfigNode, id: String = "alerts") -> (transform: AlertTransform?, errors: [String]) {
        let outcome = buildComponent(AlertTransform.definition, at: "transforms.\(id)", node)
        guard case .transform(let transform as AlertTransform, let accepts)? = outcome.built else {
            return (nil, outcome.errors)
        }
        #expect(accepts == .logs)
        #expect(transform.emits(from: .logs) == .alerts)
        return (transform, outcome.errors)
    }

    private func transform(
        _ keys: KeyValuePairs<String, ComponentConfigValue>, stateFile: StateFile? = nil, startedAt: Int64? = nil
    ) throws -> AlertTransform {
        try transform(entries: keys.map { (key: $0.key, value: $0.value) }, stateFile: stateFile, startedAt: startedAt)
    }

    /// A transform on its own state file (nil: none), from `entries`.
    private func transform(
        entries: [(key: String, value: ComponentConfigValue)], stateFile: StateFile? = nil, startedAt: Int64? = nil
    ) throws -> AlertTransform {
        let node = ComponentConfigValue.map(entries).configNode()
        let outcome = buildComponent(AlertTransform.definition, at: "transforms.alerts", node)
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        guard case .transform(let built as AlertTransform, _)? = outcome.built else {
            throw TestFailure("not built: \(outcome.errors)")
        }
        return AlertTransform(
            config: built.config, component: "alerts", stateFile: stateFile, now: startedAt ?? start)
    }

    private let httpErrors: KeyValuePairs<String, ComponentConfigValue> = [
        "condition": "to_int!(.status) >= 500", "alertname": "HTTPServerErrors",
        "labels": ["service": "{{ fields.service }}"], "annotations": ["summary": "{{ message }}"],
        "severity": "critical", "resolve_after": "1m",
    ]

    private func record(_ service: String, status: Int, message: String = "boom") -> LogRecord {
        LogRecord(
            timestamp: start, message: message, fields: ["service": .string(service), "status": .int(Int64(status))])
    }

    private func run(_ transform: inout AlertTransform, _ records: [LogRecord], at now: Int64) -> [Alert] {
        guard case .alerts(let batch)? = transform.process(.logs(LogBatch(records: records)), context, now: now) else {
            return []
        }
        return batch.alerts
    }

    private func tick(_ transform: inout AlertTransform, at now: Int64) -> [Alert] {
        guard case .alerts(let batch)? = transform.process(.logs(LogBatch()), context, now: now) else { return [] }
        return batch.alerts
    }

    @Test func eventsWithTheSameLabelsAreOneAlert() throws {
        var transform = try transform(httpErrors)
        let first = run(&transform, [record("shop", status: 502), record("shop", status: 200)], at: start)
        #expect(
            first == [
                Alert(
                    labels: ["alertname": "HTTPServerErrors", "service": "shop", "severity": "critical"],
                    annotations: ["summary": "boom", "count": "1"], startsAt: start)
            ])
        #expect(run(&transform, [record("shop", status: 503, message: "again")], at: start + second).isEmpty)
        let update = tick(&transform, at: start + 2 * second)
        #expect(update.map(\.annotations) == [["summary": "again", "count": "2"]], "the latest event and a count")
        #expect(update.first?.startsAt == start)
        let other = run(&transform, [record("cart", status: 500)], at: start + 3 * second)
        #expect(other.map { $0.labels["service"] } == ["cart"], "another label set, another alert")
        #expect(transform.activeAlerts == 2)
    }

    @Test func noMatchingEventForResolveAfterResolves() throws {
        var transform = try transform(httpErrors)
        _ = run(&transform, [record("shop", status: 500)], at: start)
        _ = run(&transform, [record("shop", status: 500)], at: start + 10 * second)
        #expect(tick(&transform, at: start + 11 * second).map(\.annotations["count"]) == ["2"], "an update")
        #expect(tick(&transform, at: start + 69 * second).isEmpty)
        #expect(tick(&transform, at: start + 70 * second).isEmpty, "quiet at one tick: it may sit behind queued events")
        let resolved = tick(&transform, at: start + 71 * second)
        #expect(resolved.map(\.state) == [.resolved])
        #expect(resolved.first?.endsAt == start + 70 * second, "a resolve_after past the last event")
        #expect(transform.activeAlerts == 0)
        #expect(tick(&transform, at: start + 200 * second).isEmpty, "resolved once")
    }

    @Test func forHoldsAnAlertPendingUntilEventsKeptComing() throws {
        var transform = try transform(entries: httpErrors.map { (key: $0.key, value: $0.value) } + [("for", "30s")])
        #expect(run(&transform, [record("shop", status: 500)], at: start).isEmpty, "pending")
        #expect(tick(&transform, at: start + 29 * second).isEmpty)
        _ = run(&transform, [record("shop", status: 500)], at: start + 20 * second)
        let fired = tick(&transform, at: start + 30 * second)
        #expect(fired.map(\.state) == [Alert.State.firing])
        #expect(fired.first?.startsAt == start + 30 * second)
        // A pending alert whose events stop is dropped without a word.
        _ = run(&transform, [record("cart", status: 500)], at: start + 40 * second)
        #expect(tick(&transform, at: start + 100 * second).isEmpty, "quiet at one tick")
        let quiet = tick(&transform, at: start + 101 * second)
        #expect(quiet.map { "\($0.labels["service"] ?? "") \($0.state)" } == ["shop resolved"], "cart never fired")
    }

    @Test func beyondMaxActiveAlertsNewAlertsAreDroppedAndOneAlertSaysSo() throws {
        var transform = try transform(
            entries: httpErrors.map { (key: $0.key, value: $0.value) } + [("max_active_alerts", 2)])
        let emitted = run(
            &transform, ["a", "b", "c", "d"].map { record($0, status: 500) } + [record("a", status: 500)], at: start)
        #expect(emitted.compactMap { $0.labels["service"] }.sorted() == ["a", "b"])
        let limit = try #require(emitted.first { $0.labels["alertname"] == "PetrelAlertLimitReached" })
        #expect(
            limit.labels == [
                "alertname": "PetrelAlertLimitReached", "severity": "warning", "petrel_component": "alerts",
            ])
        #expect(
            telemetry.registry.value(
                "petrel_component_discarded_events_total",
                labels: [
                    ("component_id", "alerts"), ("component_kind", "transform"), ("component_type", "alert"),
                    ("reason", "alert_limit"),
                ]) == 2)
        #expect(transform.activeAlerts == 2)
        let resolved = tick(&transform, at: start + 60 * second) + tick(&transform, at: start + 61 * second)
        #expect(resolved.filter { $0.state == .resolved }.count == 3, "both alerts and the limit alert")
    }

    @Test func aRestartKeepsFiringAlertsWithoutResolvingOrRefiring() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-alert-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let stateFile = StateFile(path: directory.path + "/state.json")
        var before = try transform(httpErrors, stateFile: stateFile)
        _ = run(&before, [record("shop", status: 500)], at: start)
        _ = run(&before, [record("gone", status: 500)], at: start)
        _ = run(&before, [record("shop", status: 500)], at: start + 50 * second)
        _ = tick(&before, at: start + 60 * second)
        _ = tick(&before, at: start + 61 * second)  // resolves "gone"
        // The process dies here; a new one reads the state file 40 seconds later. The time it was down does not
        // count toward resolve_after: no event could reach it.
        var after = try transform(httpErrors, stateFile: stateFile, startedAt: start + 101 * second)
        let restored = tick(&after, at: start + 102 * second)
        #expect(restored.map { $0.labels["service"] } == ["shop"], "the firing alert again, for the sink")
        #expect(restored.first?.startsAt == start && restored.first?.state == .firing)
        #expect(tick(&after, at: start + 149 * second).isEmpty, "its last event is remembered")
        #expect(tick(&after, at: start + 150 * second).isEmpty, "quiet at one tick")
        let resolved = tick(&after, at: start + 151 * second)
        #expect(resolved.map(\.state) == [.resolved])
        #expect(resolved.first?.endsAt == start + 150 * second)
    }

    @Test func severityMapsValuesCaseInsensitively() throws {
        var transform = try transform([
            "condition": "true", "alertname": "Log",
            "severity": [
                "value": "{{ severity }}", "map": ["ERROR": "critical", "warn": "warning"], "default": "info",
            ],
        ])
        let records = ["error", "WARN", "debug"].map { LogRecord(timestamp: start, message: "m", severity: $0) }
        let alerts = run(&transform, records, at: start)
        #expect(alerts.compactMap { $0.labels["severity"] }.sorted() == ["critical", "info", "warning"])
    }

    @Test func theFilterFormOfConditionWorksToo() throws {
        var transform = try transform([
            "condition": ["key": "status", "equals": "500"], "alertname": "E",
            "labels": ["service": "{{ fields.service }}"],
        ])
        let alerts = run(&transform, [record("a", status: 500), record("b", status: 404)], at: start)
        #expect(alerts.compactMap { $0.labels["service"] } == ["a"])
    }

    @Test func errorsNameTheKey() {
        #expect(
            build(componentConfig(["labels": ["x": "{{ fields.a }}"]])).errors.sorted() == [
                "petrel.yaml: transforms.alerts.alertname: is required (or a preset such as preset: falco)"
            ])
        let errors = build(
            componentConfig([
                "condition": "true", "alertname": "A", "labels": ["alertname": "x", "bad": "{{ nope }}"],
                "annotations": ["count": "x"], "resolve_after": "0s", "minimum_priority": "warning",
            ])
        ).errors
        #expect(
            errors.sorted() == [
                "petrel.yaml: transforms.alerts.annotations.count: is set by the transform: the number of events since the alert fired",
                "petrel.yaml: transforms.alerts.labels.alertname: set by the alertname and severity keys, not under labels",
                "petrel.yaml: transforms.alerts.labels.bad: invalid template: unknown reference \"nope\"; expected resource.<attribute>, fields.<path>, metadata.<key>, message or severity inside {{ }}",
                "petrel.yaml: transforms.alerts.minimum_priority: unknown key",
                "petrel.yaml: transforms.alerts.resolve_after: must be longer than zero",
            ], "\(errors.sorted())")
        #expect(
            build(componentConfig(["alertname": "A"])).errors == [
                "petrel.yaml: transforms.alerts.condition: is required: which events raise the alert"
            ])
        #expect(
            build(componentConfig(["preset": "falco", "minimum_priority": "loud"])).errors == [
                "petrel.yaml: transforms.alerts.minimum_priority: expected one of emergency, alert, critical, error, warning, notice, informational, debug, found \"loud\""
            ])
    }

    /// Falco's JSON output as `http_output` posts it (falco 0.37, `json_output: true`), read by the `http_server`
    /// source's codec.
    static let falcoEvent = #"""
        {"hostname":"node-1","output":"10:21:09.190357203: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 process=bash proc_exepath=/usr/bin/bash parent=runc command=bash k8s_ns=shop k8s_pod=cart-7d9 container_id=0f2a1c3e4b5d container_name=cart)","priority":"Notice","rule":"Terminal shell in container","source":"syscall","tags":["T1059","container","maturity_stable","mitre_execution","shell"],"time":"2026-12-07T10:21:09.190357203Z","output_fields":{"container.id":"0f2a1c3e4b5d","container.name":"cart","evt.time":1796638869190357203,"evt.type":"execve","k8s.ns.name":"shop","k8s.pod.name":"cart-7d9","proc.cmdline":"bash","proc.name":"bash","user.name":"root","user.uid":0}}
        """#

    private func falcoRecords(priority: String = "Notice", rule: String = "Terminal shell in container") throws
        -> [LogRecord]
    {
        let body = Self.falcoEvent.replacingOccurrences(
            of: #""priority":"Notice""#, with: #""priority":"\#(priority)""#
        )
        .replacingOccurrences(of: #""rule":"Terminal shell in container""#, with: #""rule":"\#(rule)""#)
        return try LogBodyDecoder(codec: .json).decode(Array(body.utf8), receivedAt: start)
    }

    @Test func falcoPresetLabelsAndAnnotatesAsTheIssueSays() throws {
        var transform = try transform(["preset": "falco"])
        let alerts = run(&transform, try falcoRecords(), at: start)
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(
            alert.labels == [
                "alertname": "Terminal shell in container", "severity": "info", "rule": "Terminal shell in container",
                "priority": "Notice", "source": "syscall", "hostname": "node-1", "k8s_ns_name": "shop",
                "k8s_pod_name": "cart-7d9", "container_name": "cart",
            ])
        #expect(alert.annotations["summary"] == "Terminal shell in container")
        #expect(alert.annotations["description"]?.hasPrefix("10:21:09.190357203: Notice A shell was spawned") == true)
        #expect(alert.annotations["count"] == "1")
    }

    @Test func falcoPresetReadsASourceThatTookOutputAsTheMessage() throws {
        var keys = LogBodyDecoder.Keys()
        keys.message = "output"
        keys.timestamp = "time"
        keys.severity = "priority"
        let records = try LogBodyDecoder(codec: .json, keys: keys).decode(Array(Self.falcoEvent.utf8), receivedAt: 0)
        #expect(records.first?.timestamp == 1_796_638_869_190_357_203)
        var transform = try transform(["preset": "falco"])
        let alert = try #require(run(&transform, records, at: start).first)
        #expect(alert.labels["priority"] == "Notice" && alert.labels["severity"] == "info")
        #expect(alert.annotations["description"]?.hasPrefix("10:21:09.190357203: Notice A shell") == true)
    }

    @Test func falcoPrioritiesMapToSeveritiesWhateverTheirCase() throws {
        var transform = try transform(["preset": "falco"])
        let cases = [
            ("Emergency", "critical"), ("ALERT", "critical"), ("critical", "critical"), ("Error", "warning"),
            ("Warning", "warning"), ("notice", "info"), ("Informational", "info"), ("Debug", "info"),
        ]
        for (index, (priority, severity)) in cases.enumerated() {
            let alerts = run(&transform, try falcoRecords(priority: priority, rule: "r\(index)"), at: start)
            #expect(alerts.first?.labels["severity"] == severity, "\(priority)")
        }
    }

    @Test func falcoMinimumPriorityLeavesQuieterEventsOut() throws {
        var transform = try transform(["preset": "falco", "minimum_priority": "warning"])
        #expect(run(&transform, try falcoRecords(priority: "Notice"), at: start).isEmpty)
        #expect(run(&transform, try falcoRecords(priority: "Error"), at: start).count == 1)
        #expect(run(&transform, [LogRecord(timestamp: start, message: "not falco")], at: start).isEmpty)
    }

    @Test func falcoPresetTakesExtraLabelsAndACondition() throws {
        var transform = try transform([
            "preset": "falco", "condition": #".hostname == "node-1""#,
            "labels": ["cluster": "prod"],
        ])
        let alerts = run(&transform, try falcoRecords(), at: start)
        #expect(alerts.first?.labels["cluster"] == "prod")
        #expect(alerts.first?.labels["rule"] == "Terminal shell in container")
    }
}

/// What `petrel validate` says of alerts wired where they do not belong, and of logs wired into `alertmanager`.
@Suite struct AlertWiringTests {
    private func errors(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader(registry: BuiltinComponents.registry, environment: [:]).parse(
                yaml, file: "petrel.yaml")
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    private func config(sink: String) -> String {
        """
        data_dir: /tmp/petrel-alert-wiring
        sources:
          falco: { type: http_server, address: "127.0.0.1:8080", codec: json }
        transforms:
          alerts: { type: alert, inputs: [falco], preset: falco }
        sinks:
          out: \(sink)
        """
    }

    @Test func alertsGoToAlertmanagerConsoleAndFileOnly() {
        #expect(errors(config(sink: "{ type: alertmanager, inputs: [alerts], endpoints: [http://am:9093] }")) == [])
        #expect(errors(config(sink: "{ type: console, inputs: [alerts] }")) == [])
        #expect(errors(config(sink: "{ type: file, inputs: [alerts], path: /tmp/alerts.ndjson }")) == [])
        let intoLoki = errors(config(sink: "{ type: loki, inputs: [alerts], endpoint: http://loki:3100 }"))
        #expect(
            intoLoki.count == 1 && intoLoki.first?.contains("emits alerts but the loki sink takes logs") == true,
            "\(intoLoki)")
        let intoRemoteWrite = errors(
            config(
                sink: "{ type: prometheus_remote_write, inputs: [alerts], endpoints: [http://vm:8428/api/v1/write] }"))
        #expect(intoRemoteWrite.count == 1, "\(intoRemoteWrite)")
        let logsIntoAlertmanager = errors(
            config(sink: "{ type: alertmanager, inputs: [falco], endpoints: [http://am:9093] }"))
        #expect(
            logsIntoAlertmanager.contains { $0.contains("emits logs but the alertmanager sink takes alerts") },
            "\(logsIntoAlertmanager)")
    }
}

/// A test that cannot go on, with why.
struct TestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
