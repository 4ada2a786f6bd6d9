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

    public mutating func process(_ batch: EventBatch, _ context: TransformContext) -> EventBatch? {
        switch batch {
        case .metrics(var metrics):
            metrics.retainSeries { metrics, series in
                condition.evaluate { metrics.labelValue(series: series, name: $0) }
            }
            return metrics.series.isEmpty ? nil : .metrics(metrics)
        case .logs(var logs):
            logs.records.removeAll { record in !condition.evaluate { Self.lookup(record, $0) } }
            return logs.records.isEmpty ? nil : .logs(logs)
        case .traces(var traces):
            traces.retainSpans { resource, span in condition.evaluate { Self.lookup(span, resource, $0) } }
            return traces.resourceSpans.isEmpty ? nil : .traces(traces)
        }
    }

    static func lookup(_ record: LogRecord, _ key: String) -> String? {
        switch key {
        case "message": return record.message
        case "severity": return record.severity
        default:
            if key.hasPrefix("metadata.") { return record.metadata[String(key.dropFirst(9))] }
            if key.hasPrefix("resource.") { return record.resource[String(key.dropFirst(9))]?.text }
            return record.field(path: key)?.text
        }
    }

    static func lookup(_ span: Span, _ resource: Resource, _ key: String) -> String? {
        switch key {
        case "name": return span.name
        case "kind": return "\(span.kind)"
        case "status": return "\(span.status.code)"
        default:
            if key.hasPrefix("resource.") { return resource.attributes[String(key.dropFirst(9))]?.text }
            return span.attributes[key]?.text
        }
    }
}
