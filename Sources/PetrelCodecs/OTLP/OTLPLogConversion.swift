import Foundation
import OTLPProtos
import PetrelCore

/// Converts OTLP log export requests to log batches and back.
///
/// A record's body becomes its message when it is a string, and `fields["body"]` otherwise; its attributes become
/// its fields and its resource's attributes its `resource`. What `LogRecord` has no field for goes into `metadata`
/// under the keys of `OTLPLogConversion.MetadataKey`, and comes back from there.
public enum OTLPLogConversion {
    private typealias ProtoRecord = Opentelemetry_Proto_Logs_V1_LogRecord
    private typealias Convert = OTLPValueConversion

    /// The metadata keys that carry what `LogRecord` has no field for.
    public enum MetadataKey {
        public static let scopeName = "otel.scope.name"
        public static let scopeVersion = "otel.scope.version"
        public static let scopeSchemaURL = "otel.scope.schema_url"
        public static let resourceSchemaURL = "otel.resource.schema_url"
        /// Lower-case hex, 32 digits.
        public static let traceID = "trace_id"
        /// Lower-case hex, 16 digits.
        public static let spanID = "span_id"
        /// The OTLP severity number in decimal (`9` for INFO).
        public static let severityNumber = "severity_number"
        public static let flags = "flags"
        public static let observedTimeUnixNano = "observed_time_unix_nano"
        public static let eventName = "event_name"
        public static let droppedAttributesCount = "dropped_attributes_count"
        /// `true` when `fields["body"]` holds a body that is not a string, rather than an attribute named `body`.
        public static let bodyInFields = "otel.body_in_fields"

        static let all: Set<String> = [
            scopeName, scopeVersion, scopeSchemaURL, resourceSchemaURL, traceID, spanID, severityNumber, flags,
            observedTimeUnixNano, eventName, droppedAttributesCount, bodyInFields,
        ]
    }

    /// The records of `request`, in order.
    public static func logBatch(from request: Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest)
        -> LogBatch
    {
        var batch = LogBatch()
        for resourceLogs in request.resourceLogs {
            let resource = Convert.attributes(resourceLogs.resource.attributes)
            for scopeLogs in resourceLogs.scopeLogs {
                var scopeMetadata: [String: String] = [:]
                if !scopeLogs.scope.name.isEmpty { scopeMetadata[MetadataKey.scopeName] = scopeLogs.scope.name }
                if !scopeLogs.scope.version.isEmpty {
                    scopeMetadata[MetadataKey.scopeVersion] = scopeLogs.scope.version
                }
                if !scopeLogs.schemaURL.isEmpty { scopeMetadata[MetadataKey.scopeSchemaURL] = scopeLogs.schemaURL }
                if !resourceLogs.schemaURL.isEmpty {
                    scopeMetadata[MetadataKey.resourceSchemaURL] = resourceLogs.schemaURL
                }
                batch.records.reserveCapacity(batch.records.count + scopeLogs.logRecords.count)
                for record in scopeLogs.logRecords {
                    batch.records.append(logRecord(record, resource: resource, metadata: scopeMetadata))
                }
            }
        }
        return batch
    }

    /// An export request holding every record of `batch`, grouped by identical resource, then by scope.
    public static func request(from batch: LogBatch) -> Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest {
        struct ResourceKey: Hashable {
            var attributes: [Attribute]
            var schemaURL: String
        }
        struct ScopeKey: Hashable {
            var name: String
            var version: String
            var schemaURL: String
        }
        var resourceIndex: [ResourceKey: Int] = [:]
        var scopeIndex: [[ScopeKey: Int]] = []
        var request = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
        for record in batch.records {
            let resourceKey = ResourceKey(
                attributes: record.resource, schemaURL: record.metadata[MetadataKey.resourceSchemaURL] ?? "")
            let resourcePosition: Int
            if let position = resourceIndex[resourceKey] {
                resourcePosition = position
            } else {
                resourcePosition = request.resourceLogs.count
                resourceIndex[resourceKey] = resourcePosition
                scopeIndex.append([:])
                var resourceLogs = Opentelemetry_Proto_Logs_V1_ResourceLogs()
                resourceLogs.resource.attributes = Convert.keyValues(record.resource)
                resourceLogs.schemaURL = resourceKey.schemaURL
                request.resourceLogs.append(resourceLogs)
            }
            let scopeKey = ScopeKey(
                name: record.metadata[MetadataKey.scopeName] ?? "",
                version: record.metadata[MetadataKey.scopeVersion] ?? "",
                schemaURL: record.metadata[MetadataKey.scopeSchemaURL] ?? "")
            let scopePosition: Int
            if let position = scopeIndex[resourcePosition][scopeKey] {
                scopePosition = position
            } else {
                scopePosition = request.resourceLogs[resourcePosition].scopeLogs.count
                scopeIndex[resourcePosition][scopeKey] = scopePosition
                var scopeLogs = Opentelemetry_Proto_Logs_V1_ScopeLogs()
                scopeLogs.scope.name = scopeKey.name
                scopeLogs.scope.version = scopeKey.version
                scopeLogs.schemaURL = scopeKey.schemaURL
                request.resourceLogs[resourcePosition].scopeLogs.append(scopeLogs)
            }
            request.resourceLogs[resourcePosition].scopeLogs[scopePosition].logRecords.append(protoRecord(record))
        }
        return request
    }

    // MARK: Records

    private static func logRecord(_ proto: ProtoRecord, resource: [Attribute], metadata: [String: String])
        -> LogRecord
    {
        var metadata = metadata
        var fields = Convert.object(proto.attributes)
        var message = ""
        switch proto.body.value {
        case .stringValue(let text):
            message = text
        case nil:
            break
        default:
            fields["body"] = Convert.anyValue(proto.body)
            metadata[MetadataKey.bodyInFields] = "true"
        }
        let severityNumber = proto.severityNumber.rawValue
        var severity = proto.severityText
        if severity.isEmpty { severity = severityName(severityNumber) }
        if severityNumber != 0 { metadata[MetadataKey.severityNumber] = String(severityNumber) }
        if !proto.traceID.isEmpty { metadata[MetadataKey.traceID] = OTLPHex.encode(proto.traceID) }
        if !proto.spanID.isEmpty { metadata[MetadataKey.spanID] = OTLPHex.encode(proto.spanID) }
        if proto.flags != 0 { metadata[MetadataKey.flags] = String(proto.flags) }
        if proto.observedTimeUnixNano != 0 {
            metadata[MetadataKey.observedTimeUnixNano] = String(proto.observedTimeUnixNano)
        }
        if !proto.eventName.isEmpty { metadata[MetadataKey.eventName] = proto.eventName }
        if proto.droppedAttributesCount != 0 {
            metadata[MetadataKey.droppedAttributesCount] = String(proto.droppedAttributesCount)
        }
        let time = proto.timeUnixNano != 0 ? proto.timeUnixNano : proto.observedTimeUnixNano
        return LogRecord(
            timestamp: Int64(clamping: time), message: message, severity: severity, fields: fields,
            metadata: metadata, resource: resource)
    }

    private static func protoRecord(_ record: LogRecord) -> ProtoRecord {
        var proto = ProtoRecord()
        let metadata = record.metadata
        proto.timeUnixNano = UInt64(clamping: record.timestamp)
        if let observed = metadata[MetadataKey.observedTimeUnixNano].flatMap({ UInt64($0) }) {
            proto.observedTimeUnixNano = observed
        }
        proto.severityText = record.severity
        let number = metadata[MetadataKey.severityNumber].flatMap { Int($0) } ?? severityNumber(record.severity)
        proto.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: number) ?? .unspecified
        var fields = record.fields
        if metadata[MetadataKey.bodyInFields] == "true", let body = fields.removeValue(forKey: "body") {
            proto.body = Convert.protoValue(body)
        } else if !record.message.isEmpty {
            proto.body.value = .stringValue(record.message)
        }
        proto.attributes = Convert.keyValues(fields)
        if let text = metadata[MetadataKey.traceID], let bytes = OTLPHex.decode(text) { proto.traceID = Data(bytes) }
        if let text = metadata[MetadataKey.spanID], let bytes = OTLPHex.decode(text) { proto.spanID = Data(bytes) }
        if let flags = metadata[MetadataKey.flags].flatMap({ UInt32($0) }) { proto.flags = flags }
        if let name = metadata[MetadataKey.eventName] { proto.eventName = name }
        if let dropped = metadata[MetadataKey.droppedAttributesCount].flatMap({ UInt32($0) }) {
            proto.droppedAttributesCount = dropped
        }
        return proto
    }

    // MARK: Severity

    private static let severityNames: [String] = {
        var names = [""]
        for level in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] {
            names += [level, level + "2", level + "3", level + "4"]
        }
        return names
    }()

    /// The OpenTelemetry short name of a severity number (`INFO`, `WARN3`); empty when unspecified or unknown.
    static func severityName(_ number: Int) -> String {
        severityNames.indices.contains(number) ? severityNames[number] : ""
    }

    /// The severity number for a severity text, from the OpenTelemetry short names and the usual spellings of
    /// logging libraries and syslog; 0 (unspecified) when it is none of them.
    static func severityNumber(_ text: String) -> Int {
        guard !text.isEmpty else { return 0 }
        let upper = text.uppercased()
        if let index = severityNames.firstIndex(of: upper) { return index }
        switch upper {
        case "TRC", "FINEST", "FINER": return 1
        case "DBG", "FINE", "CONFIG": return 5
        case "INFORMATION", "INFORMATIONAL", "INF", "I": return 9
        case "NOTICE": return 10
        case "WARNING", "WRN", "W": return 13
        case "ERR", "E", "SEVERE": return 17
        case "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY", "PANIC", "F": return 21
        default: return 0
        }
    }
}
