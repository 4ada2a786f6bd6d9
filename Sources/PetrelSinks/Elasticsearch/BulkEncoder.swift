import PetrelCodecs
import PetrelCore

/// A request's documents as `_bulk` NDJSON: per record an action line and a source line, each ending in `\n`, kept in
/// one buffer with where each item ends, so that a retry can send only some of them.
struct BulkItems: Sendable {
    var bytes: [UInt8]
    /// The end offset of each item in `bytes`; item `i` starts where item `i - 1` ends.
    var ends: [Int]

    var count: Int { ends.count }

    func range(of item: Int) -> Range<Int> { (item == 0 ? 0 : ends[item - 1])..<ends[item] }
}

/// Encodes log records as `_bulk` items: the action (`index` or `create`) with `_index` and, with `id_field`, `_id`;
/// then the document, a flat object with `message`, `@timestamp`, `log.level` and the record's fields, resource
/// attributes (label and annotation names dedotted) and metadata.
struct BulkEncoder: Sendable {
    static let document = LogDocumentEncoder(
        messageKey: "message", timeKey: "@timestamp", severityKey: "log.level",
        dedottedPrefixes: LogDocumentEncoder.kubernetesLabelPrefixes)

    let config: ElasticsearchSinkConfig
    /// The action's name in the action line and in the answer's items.
    var actionName: String { config.mode == .dataStream ? "create" : config.action.rawValue }

    /// The data stream's fields, which the data stream's mappings declare as constant keywords.
    private var extraFields: [(key: String, value: String)] {
        guard config.mode == .dataStream else { return [] }
        return [
            ("data_stream.type", config.dataStream.type), ("data_stream.dataset", config.dataStream.dataset),
            ("data_stream.namespace", config.dataStream.namespace),
        ]
    }

    func encode(_ records: [LogRecord]) -> BulkItems {
        var writer = JSONWriter(capacity: records.count * 320)
        var ends: [Int] = []
        ends.reserveCapacity(records.count)
        let extra = extraFields
        // Index names change once an hour at most: render each hour once.
        var indexHour: Int64?
        var indexName = config.dataStream.name
        for record in records {
            if config.mode == .bulk {
                let hour = TimeTemplate.hour(ofNanoseconds: record.timestamp)
                if hour != indexHour {
                    indexHour = hour
                    indexName = config.index.render(hour: hour)
                }
            }
            writer.beginObject()
            writer.key(actionName)
            writer.beginObject()
            writer.key("_index")
            writer.string(indexName)
            if let idField = config.idField, let id = Self.id(of: record, field: idField) {
                writer.key("_id")
                writer.string(id)
            }
            writer.endObject()
            writer.endObject()
            writer.newline()
            Self.document.write(record, extra: extra, into: &writer)
            writer.newline()
            ends.append(writer.bytes.count)
        }
        return BulkItems(bytes: writer.bytes, ends: ends)
    }

    /// The value of `field` in the record's fields (a dotted path), else its resource attributes, else its metadata.
    static func id(of record: LogRecord, field: String) -> String? {
        if let value = record.field(path: field), value != .null { return LogDocumentEncoder.text(of: value) }
        if let attribute = record.resource.first(where: { $0.key == field }) {
            return LogDocumentEncoder.text(of: attribute.value)
        }
        return record.metadata[field]
    }
}
