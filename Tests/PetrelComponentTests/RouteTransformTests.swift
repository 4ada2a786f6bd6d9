import Logging
import PetrelCore
import PetrelTransforms
import Testing

/// The `route` transform: each event to every route it matches, the rest to `_unmatched`, nothing on its own output.
@Suite struct RouteTransformTests {
    private func build(_ routes: ComponentConfigValue) -> (route: RouteTransform?, errors: [String]) {
        let outcome = buildComponent(
            RouteTransform.definition, at: "transforms.split", componentConfig(["routes": routes]))
        guard case .transform(let transform, _)? = outcome.built else { return (nil, outcome.errors) }
        return (transform as? RouteTransform, outcome.errors)
    }

    private let context = TransformContext(
        id: "split", telemetry: componentTestTelemetry(id: "split", type: "route", kind: .transform),
        logger: Logger(label: "test.route"))

    /// Runs a batch and returns what each named output got (messages for logs, `__name__ status` for metrics).
    private func run(_ routes: ComponentConfigValue, _ batch: EventBatch) throws -> [String: [String]] {
        var route = try #require(build(routes).route)
        #expect(route.process(batch, context) == nil, "nothing on the transform's own output")
        var outputs: [String: [String]] = [:]
        for (name, batch) in route.takeNamedOutputBatches() {
            switch batch {
            case .logs(let logs): outputs[name, default: []] += logs.records.map(\.message)
            case .metrics(let metrics):
                outputs[name, default: []] += metrics.series.indices.map {
                    "\(metrics.labelValue(series: $0, name: "__name__") ?? "") "
                        + (metrics.labelValue(series: $0, name: "status") ?? "-")
                }
            case .traces: outputs[name, default: []].append("traces")
            case .alerts: outputs[name, default: []].append("alerts")
            }
        }
        #expect(route.takeNamedOutputBatches().isEmpty, "handed over once")
        return outputs
    }

    private let logs = EventBatch.logs(
        LogBatch(records: [
            LogRecord(timestamp: 1, message: "disk full", severity: "error", fields: ["team": .string("storage")]),
            LogRecord(timestamp: 2, message: "order placed", severity: "info", fields: ["team": .string("shop")]),
            LogRecord(timestamp: 3, message: "slow query", severity: "warn", fields: ["team": .string("storage")]),
        ]))

    @Test func logsGoToEveryRouteTheyMatchAndTheRestToUnmatched() throws {
        let outputs = try run(
            [
                "errors": #".severity == "error""#,
                "storage": ["key": "team", "equals": "storage"],
            ], logs)
        #expect(outputs["errors"] == ["disk full"])
        #expect(outputs["storage"] == ["disk full", "slow query"], "an event can take several routes")
        #expect(outputs["_unmatched"] == ["order placed"])
        #expect(
            try #require(build(["errors": #".severity == "error""#]).route).namedOutputs == ["errors", "_unmatched"])
    }

    @Test func anExpressionThatFailsOrIsNotTrueDoesNotMatch() throws {
        let outputs = try run(["numbered": "to_int!(.message) > 0", "text": #"is_string(.message)"#], logs)
        #expect(outputs["numbered"] == nil, "a failed expression matches nothing")
        #expect(outputs["text"] == ["disk full", "order placed", "slow query"])
        #expect(outputs["_unmatched"] == nil)
    }

    @Test func metricsTakeTheFilterFormAndNeverARemapExpression() throws {
        var batch = MetricBatch()
        batch.appendSeries(
            labels: [("__name__", "http_requests_total"), ("status", "500")], samples: [Sample(timestamp: 1, value: 1)],
            type: .counter)
        batch.appendSeries(
            labels: [("__name__", "http_requests_total"), ("status", "200")], samples: [Sample(timestamp: 1, value: 1)],
            type: .counter)
        let outputs = try run(
            ["failures": ["key": "status", "matches": "5.."], "logs_only": #".severity == "error""#], .metrics(batch))
        #expect(outputs["failures"] == ["http_requests_total 500"])
        #expect(outputs["logs_only"] == nil)
        #expect(outputs["_unmatched"] == ["http_requests_total 200"])
    }

    @Test func badRoutesAreLocatedErrors() {
        #expect(build([:]).errors.contains { $0.contains("needs at least one route") })
        #expect(build(["_unmatched": ".a == 1"]).errors.contains { $0.contains("_unmatched") })
        #expect(build(["a.b": ".a == 1"]).errors.contains { $0.contains("no dot") })
        let invalid = build(["errors": ".severity =="]).errors
        #expect(invalid.count >= 1 && invalid.allSatisfy { $0.contains("routes.errors") }, "\(invalid)")
        #expect(build(["bad": ["key": "x"]]).errors.contains { $0.contains("exactly one of") })
        #expect(build(nil).errors.contains { $0.contains("routes") })
    }
}
