import PetrelCore

/// Writes events as JSON lines, one line per event: a sample, a histogram sample, a log record, a span or an alert.
public struct EventJSONEncoder: Sendable {
    private var writer = JSONWriter(capacity: 4096)
    /// Lines still to write in this call; a tap renders only the events it samples, not the whole batch.
    private var remaining = Int.max

    public init() {}

    /// Encodes a batch, or its first `limit` lines; the bytes are valid until the next call.
    public mutating func encode(_ batch: EventBatch, limit: Int = .max) -> [UInt8] {
        writer.reset()
        remaining = limit
        switch batch {
        case .metrics(let metrics): encode(metrics)
        case .logs(let logs): for record in logs.records where remaining > 0 { encode(record) }
        case .traces(let traces): encode(traces)
        case .alerts(let alerts): for alert in alerts.alerts { encode(alert) }
        }
        return writer.bytes
    }

    private mutating func encode(_ batch: MetricBatch) {
        for seriesIndex in batch.series.indices {
            for sample in batch.samples(of: seriesIndex) {
                guard remaining > 0 else { return }
                remaining -= 1
                writer.beginObject()
                writer.key("kind")
                writer.string("metric")
                labels(batch, seriesIndex)
                writer.key("timestamp")
                writer.int(sample.timestamp)
                writer.key("value")
                writer.double(sample.value)
                writer.endObject()
                writer.newline()
            }
            for histogram in batch.histograms[batch.series[seriesIndex].histogramRange] {
                guard remaining > 0 else { return }
                remaining -= 1
                writer.beginObject()
                writer.key("kind")
                writer.string("histogram")
                labels(batch, seriesIndex)
                writer.key("timestamp")
                writer.int(histogram.timestamp)
                writer.key("count")
                switch histogram.count {
                case .int(let count): writer.uint(count)
                case .float(let count): writer.double(count)
                }
                writer.key("sum")
                writer.double(histogram.sum)
                writer.key("schema")
                writer.int(Int64(histogram.schema))
                writer.endObject()
                writer.newline()
            }
        }
    }

    private mutating func labels(_ batch: MetricBatch, _ seriesIndex: Int) {
        writer.key("labels")
        writer.beginObject()
        batch.arena.withUnsafeBytes { arena in
            for label in batch.labels(of: seriesIndex) {
                writer.key(
                    utf8: UnsafeRawBufferPointer(
                        rebasing: arena[Int(label.nameOffset)..<Int(label.nameOffset + label.nameLength)]))
                writer.string(
                    utf8: UnsafeRawBufferPointer(
                        rebasing: arena[Int(label.valueOffset)..<Int(label.valueOffset + label.valueLength)]))
            }
        }
        writer.endObject()
    }

    private mutating func encode(_ record: LogRecord) {
        remaining -= 1
        writer.beginObject()
        writer.key("kind")
        writer.string("log")
        writer.key("timestamp")
        RFC3339.withFormatted(nanoseconds: record.timestamp) { writer.string(utf8: $0) }
        writer.key("message")
        writer.string(record.message)
        if !record.severity.isEmpty {
            writer.key("severity")
            writer.string(record.severity)
        }
        if !record.fields.isEmpty {
            writer.key("fields")
            writer.object(record.fields)
        }
        if !record.metadata.isEmpty {
            writer.key("metadata")
            writer.beginObject()
            JSONWriter.forEachSorted(record.metadata) { key, value in
                writer.key(key)
                writer.string(value)
            }
            writer.endObject()
        }
        if !record.resource.isEmpty {
            writer.key("resource")
            attributes(record.resource)
        }
        writer.endObject()
        writer.newline()
    }

    private mutating func encode(_ alert: Alert) {
        writer.beginObject()
        writer.key("kind")
        writer.string("alert")
        writer.key("state")
        writer.string(alert.state.rawValue)
        writer.key("labels")
        AlertRecordCodec.strings(alert.labels, into: &writer)
        writer.key("annotations")
        AlertRecordCodec.strings(alert.annotations, into: &writer)
        writer.key("starts_at")
        RFC3339.withFormatted(nanoseconds: alert.startsAt) { writer.string(utf8: $0) }
        if let endsAt = alert.endsAt {
            writer.key("ends_at")
            RFC3339.withFormatted(nanoseconds: endsAt) { writer.string(utf8: $0) }
        }
        if !alert.generatorURL.isEmpty {
            writer.key("generator_url")
            writer.string(alert.generatorURL)
        }
        writer.endObject()
        writer.newline()
    }

    private mutating func encode(_ batch: SpanBatch) {
        for resourceSpans in batch.resourceSpans {
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    guard remaining > 0 else { return }
                    remaining -= 1
                    encode(span, scope: scopeSpans.scope, resource: resourceSpans.resource)
                }
            }
        }
    }

    private mutating func encode(_ span: Span, scope: InstrumentationScope, resource: Resource) {
        writer.beginObject()
        writer.key("kind")
        writer.string("span")
        writer.key("trace_id")
        writer.string(span.traceID.description)
        writer.key("span_id")
        writer.string(span.spanID.description)
        if span.parentSpanID != .none {
            writer.key("parent_span_id")
            writer.string(span.parentSpanID.description)
        }
        writer.key("name")
        writer.string(span.name)
        writer.key("span_kind")
        writer.string("\(span.kind)")
        writer.key("start_time")
        writer.string(RFC3339.format(nanoseconds: Int64(clamping: span.startTimeUnixNano)))
        writer.key("duration_ns")
        // A malformed span that ends before it starts lasted no time, not 2^64 ns.
        writer.uint(span.endTimeUnixNano >= span.startTimeUnixNano ? span.endTimeUnixNano - span.startTimeUnixNano : 0)
        writer.key("status")
        writer.string("\(span.status.code)")
        if !span.attributes.isEmpty {
            writer.key("attributes")
            attributes(span.attributes)
        }
        if !span.events.isEmpty {
            writer.key("events")
            writer.beginArray()
            for event in span.events {
                writer.beginObject()
                writer.key("name")
                writer.string(event.name)
                writer.key("time")
                writer.string(RFC3339.format(nanoseconds: Int64(clamping: event.timeUnixNano)))
                if !event.attributes.isEmpty {
                    writer.key("attributes")
                    attributes(event.attributes)
                }
                writer.endObject()
            }
            writer.endArray()
        }
        if !span.links.isEmpty {
            writer.key("links")
            writer.beginArray()
            for link in span.links {
                writer.beginObject()
                writer.key("trace_id")
                writer.string(link.traceID.description)
                writer.key("span_id")
                writer.string(link.spanID.description)
                writer.endObject()
            }
            writer.endArray()
        }
        writer.key("scope")
        writer.string(scope.name)
        writer.key("resource")
        attributes(resource.attributes)
        writer.endObject()
        writer.newline()
    }

    private mutating func attributes(_ attributes: [Attribute]) {
        writer.beginObject()
        for attribute in attributes {
            writer.key(attribute.key)
            writer.value(attribute.value)
        }
        writer.endObject()
    }
}
