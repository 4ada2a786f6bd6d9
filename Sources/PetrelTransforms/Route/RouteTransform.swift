import PetrelCore

/// Sends each event to every route whose condition it matches, as Vector's `route`: readers list `<id>.<route>`,
/// and `<id>._unmatched` takes the events no route matched. The transform's own output carries nothing.
public struct RouteTransform: Transform {
    /// A route's test: a remap boolean expression (logs), or the `filter` condition form (every signal).
    public enum RouteCondition: Sendable {
        case remap(RemapProgram)
        case filter(Condition)
    }

    /// The routes in the order they are written.
    public let routes: [(name: String, condition: RouteCondition)]
    private var outputs: [(output: String, batch: EventBatch)] = []

    /// The output of the events no route matched.
    public static let unmatched = "_unmatched"

    public init(routes: [(name: String, condition: RouteCondition)]) {
        self.routes = routes
    }

    public var namedOutputs: [String] { routes.map(\.name) + [Self.unmatched] }

    public mutating func takeNamedOutputBatches() -> [(output: String, batch: EventBatch)] {
        defer { outputs = [] }
        return outputs
    }

    public static let definition = ComponentDefinition(type: "route", kind: .transform) { reader, _ in
        guard let section = reader.section("routes") else {
            if !reader.contains("routes") {
                reader.error("routes", "is required: a mapping of route name to condition")
            }
            return nil
        }
        defer { section.finish() }
        var routes: [(name: String, condition: RouteCondition)] = []
        var valid = true
        for name in section.keys {
            if name == unmatched || name.isEmpty || name.contains(".") {
                section.error(name, "a route's name is not empty, has no dot and is not \(unmatched)")
                valid = false
                continue
            }
            if case .mapping? = section.node(name)?.value {
                guard let condition = section.section(name).flatMap(Condition.parse) else {
                    valid = false
                    continue
                }
                routes.append((name, .filter(condition)))
            } else {
                guard let program = RemapConfig.compile(section, name) else {
                    valid = false
                    continue
                }
                routes.append((name, .remap(program)))
            }
        }
        if routes.isEmpty && valid { reader.error("routes", "needs at least one route") }
        guard valid, !routes.isEmpty else { return nil }
        return .transform(RouteTransform(routes: routes), accepts: .all)
    }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        switch consume batch {
        case .logs(let logs): route(logs)
        case .metrics(let metrics): route(metrics)
        case .traces(let traces): route(traces)
        // It takes no alerts (`accepts: .all` names the three telemetry signals).
        case .alerts: break
        }
        return nil
    }

    private mutating func route(_ logs: LogBatch) {
        var routed = Array(repeating: [LogRecord](), count: routes.count)
        var unmatched: [LogRecord] = []
        for record in logs.records {
            var matched = false
            var state: RemapState?
            for (index, route) in routes.enumerated() where Self.matches(record, route.condition, &state) {
                routed[index].append(record)
                matched = true
            }
            if !matched { unmatched.append(record) }
        }
        for (index, records) in routed.enumerated() where !records.isEmpty {
            outputs.append((routes[index].name, .logs(LogBatch(records: records))))
        }
        if !unmatched.isEmpty { outputs.append((Self.unmatched, .logs(LogBatch(records: unmatched)))) }
    }

    /// Whether the record matches; a remap expression matches when it gives `true` (an error or any other value
    /// does not match). The program's view of the record is made once per record, for every remap route.
    private static func matches(_ record: LogRecord, _ condition: RouteCondition, _ state: inout RemapState?) -> Bool {
        switch condition {
        case .filter(let condition):
            return condition.evaluate { FilterTransform.lookup(record, $0) }
        case .remap(let program):
            if state == nil { state = RemapTransform.state(of: record, metadata: true) }
            var scratch = state!
            return (try? program.run(&scratch)) == .boolean(true)
        }
    }

    /// Metrics and spans take the `filter` form of condition; a remap expression (about a log's shape) matches none.
    private mutating func route(_ metrics: MetricBatch) {
        var matchedAny = Array(repeating: false, count: metrics.series.count)
        for route in routes {
            guard case .filter(let condition) = route.condition else { continue }
            var part = metrics
            part.retainSeries { metrics, series in
                let matched = condition.evaluate {
                    metrics.labelValue(series: series, name: $0).map(Condition.Value.text)
                }
                if matched { matchedAny[series] = true }
                return matched
            }
            if !part.series.isEmpty { outputs.append((route.name, .metrics(part))) }
        }
        var rest = metrics
        rest.retainSeries { _, series in !matchedAny[series] }
        if !rest.series.isEmpty { outputs.append((Self.unmatched, .metrics(rest))) }
    }

    private mutating func route(_ traces: SpanBatch) {
        let conditions = routes.map { route -> Condition? in
            if case .filter(let condition) = route.condition { condition } else { nil }
        }
        for (route, condition) in zip(routes, conditions) {
            guard let condition else { continue }
            var part = traces
            part.retainSpans { resource, span in condition.evaluate { FilterTransform.lookup(span, resource, $0) } }
            if !part.resourceSpans.isEmpty { outputs.append((route.name, .traces(part))) }
        }
        var rest = traces
        rest.retainSpans { resource, span in
            !conditions.contains { $0?.evaluate { FilterTransform.lookup(span, resource, $0) } ?? false }
        }
        if !rest.resourceSpans.isEmpty { outputs.append((Self.unmatched, .traces(rest))) }
    }
}
