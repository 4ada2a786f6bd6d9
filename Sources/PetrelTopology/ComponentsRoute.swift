import PetrelCodecs
import PetrelCore

/// `GET /components`: every component with its totals and what its queue holds, as JSON, for `petrel top`.
///
/// Totals only; a client works out rates from two answers. A `prometheus_scrape` source also has its targets by
/// health (`targets_up`, `targets_down`, `targets_total`; neither up nor down is not scraped yet).
struct ComponentsRoute: Sendable {
    let telemetry: TelemetryRegistry

    func body() -> [UInt8] {
        var writer = JSONWriter(capacity: 4096)
        writer.beginObject()
        writer.key("components")
        writer.beginArray()
        for (layout, componentTelemetry) in telemetry.catalog.components {
            writer.beginObject()
            writer.key("id")
            writer.string(layout.id)
            writer.key("kind")
            writer.string(layout.kind.rawValue)
            writer.key("type")
            writer.string(layout.type)
            writer.key("inputs")
            writer.beginArray()
            for input in layout.inputs { writer.string(input) }
            writer.endArray()
            if let counts = componentTelemetry {
                field(&writer, "received_events", counts.receivedEvents.value)
                field(&writer, "received_bytes", counts.receivedBytes.value)
                field(&writer, "sent_events", counts.sentEvents.value)
                field(&writer, "sent_bytes", counts.sentBytes.value)
                field(&writer, "errors", counts.errors)
                field(&writer, "discarded_events", counts.discardedEvents)
                field(&writer, "queue_batches", counts.queueBatches.value)
                field(&writer, "queue_events", counts.queueEvents.value)
                field(&writer, "queue_bytes", counts.queueBytes.value)
            }
            field(&writer, "queue_capacity_batches", layout.queueCapacity)
            field(&writer, "queue_max_events", layout.queueMaxEvents)
            if let maxBytes = layout.diskBufferMaxBytes {
                field(&writer, "disk_buffer_max_bytes", maxBytes)
                field(
                    &writer, "disk_buffer_bytes",
                    telemetry.value(
                        "petrel_buffer_byte_size", labels: [("component_id", layout.id), ("buffer_type", "disk")]))
            }
            if let targets = telemetry.scrapeTargets.summary(source: layout.id) {
                field(&writer, "targets_up", Optional(targets.up))
                field(&writer, "targets_down", Optional(targets.down))
                field(&writer, "targets_total", Optional(targets.total))
            }
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        writer.newline()
        return writer.bytes
    }

    private func field(_ writer: inout JSONWriter, _ key: String, _ value: (some BinaryInteger)?) {
        guard let value else { return }
        writer.key(key)
        writer.int(Int64(value))
    }
}
