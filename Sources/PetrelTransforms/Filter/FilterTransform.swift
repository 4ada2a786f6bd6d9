import PetrelCore

/// Keeps the events that match a condition: series for metrics, records for logs, spans for traces.
public struct FilterTransform: Transform {
    public let condition: Condition

    public init(condition: Condition) {
        self.condition = condition
    }

    public static let definition = ComponentDefinition(type: "filter", kind: .transform) { reader, _ in
        guard reader.contains("condition") else {
            _ = reader.requiredString("condition")
            return nil
        }
        guard let condition = reader.section("condition").flatMap(Condition.parse) else { return nil }
        return .transform(FilterTransform(condition: condition), accepts: .all)
    }

    public mutating func process(_ batch: consuming EventBatch, _ context: TransformContext) -> EventBatch? {
        switch consume batch {
        case .metrics(var metrics):
            metrics.retainSeries { metrics, series in
                condition.evaluate { metrics.labelValue(series: series, name: $0).map(Condition.Value.text) }
            }
            return metrics.series.isEmpty ? nil : .metrics(metrics)
        case .logs(var logs):
            logs.records.removeAll { record in !condition.evaluate { Self.lookup(record, $0) } }
            return logs.records.isEmpty ? nil : .logs(logs)
        case .traces(var traces):
            traces.retainSpans { resource, span in condition.evaluate { Self.lookup(span, resource, $0) } }
            return traces.resourceSpans.isEmpty ? nil : .traces(traces)
        case .alerts(let alerts):
            return .alerts(alerts)
        }
    }

    static func lookup(_ record: LogRecord, _ key: String) -> Condition.Value? {
        switch key {
        case "message": return .text(record.message)
        case "severity": return .text(record.severity)
        default:
            if key.hasPrefix("metadata.") { return record.metadata[String(key.dropFirst(9))].map(Condition.Value.text) }
            if key.hasPrefix("resource.") { return record.resource[String(key.dropFirst(9))].map(Condition.Value.init) }
            return record.field(path: key).map(Condition.Value.init)
        }
    }

    static func lookup(_ span: Span, _ resource: Resource, _ key: String) -> Condition.Value? {
        switch key {
        case "name": return .text(span.name)
        case "kind": return .text("\(span.kind)")
        case "status": return .text("\(span.status.code)")
        default:
            if key.hasPrefix("resource.") {
                return resource.attributes[String(key.dropFirst(9))].map(Condition.Value.init)
            }
            return span.attributes[key].map(Condition.Value.init)
        }
    }
}
