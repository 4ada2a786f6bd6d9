import Foundation
import OTLPProtos
import PetrelCore
import SwiftProtobuf

/// Turns a batch into the bytes of one disk-buffer record and back.
///
/// A record is a format byte, a signal byte and the batch in the wire format that carries everything the model
/// holds: metrics as a remote-write 2.0 request (labels, samples, histograms, exemplars, type and metadata), spans as
/// an OTLP `ExportTraceServiceRequest`, and log records as an OTLP `ExportLogsServiceRequest` with one resource per
/// record, whose scope attributes carry the record's `metadata` (so nothing depends on the OTLP mapping of logs);
/// alerts as `AlertRecordCodec`'s JSON array.
public struct BufferRecordCodec: BatchRecordCodec {
    /// Bumped when the layout changes; a record of another format is reported as undecodable, never misread.
    static let format: UInt8 = 1

    private enum Tag: UInt8 {
        case metrics = 1
        case logs = 2
        case traces = 3
        case alerts = 4
    }

    public struct DecodingError: Error, CustomStringConvertible {
        public let description: String
    }

    public init() {}

    public func encode(_ batch: EventBatch) -> [UInt8] {
        var bytes: [UInt8]
        switch batch {
        case .metrics(let metrics):
            bytes = [Self.format, Tag.metrics.rawValue]
            var encoder = RemoteWriteEncoder()
            encoder.appendV2(metrics, series: metrics.series.indices, to: &bytes)
        case .traces(let spans):
            var encoder = OTLPTraceEncoder()
            bytes = [Self.format, Tag.traces.rawValue] + encoder.encode(spans)
        case .logs(let logs):
            bytes = [Self.format, Tag.logs.rawValue]
            bytes += try! Self.logsRequest(logs).serializedBytes() as [UInt8]
        case .alerts(let alerts):
            bytes = [Self.format, Tag.alerts.rawValue] + AlertRecordCodec.encode(alerts.alerts)
        }
        return bytes
    }

    public func decode(_ bytes: [UInt8]) throws(DecodingError) -> EventBatch {
        guard bytes.count >= 2 else { throw DecodingError(description: "record of \(bytes.count) bytes") }
        guard bytes[0] == Self.format else { throw DecodingError(description: "record format \(bytes[0])") }
        let payload = Array(bytes[2...])
        do {
            switch Tag(rawValue: bytes[1]) {
            case .metrics?:
                return .metrics(try RemoteWriteDecoder().decodeV2(payload))
            case .traces?:
                // The hand-written decoder, as the otlp source's; lenient, since these spans were accepted once.
                return .traces(try OTLPTraceDecoder.decode(payload, dropInvalid: false).batch)
            case .logs?:
                let request = try Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest(
                    serializedBytes: payload)
                return .logs(Self.logBatch(request))
            case .alerts?:
                return .alerts(AlertBatch(alerts: try AlertRecordCodec.decodeAlerts(payload)))
            case nil:
                throw DecodingError(description: "record signal \(bytes[1])")
            }
        } catch let error as DecodingError {
            throw error
        } catch {
            throw DecodingError(description: "\(error)")
        }
    }

    // MARK: Logs

    private typealias Convert = OTLPValueConversion

    private static func logsRequest(_ batch: LogBatch) -> Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
    {
        var request = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
        request.resourceLogs = batch.records.map { record in
            var proto = Opentelemetry_Proto_Logs_V1_LogRecord()
            proto.timeUnixNano = UInt64(bitPattern: record.timestamp)
            proto.body.stringValue = record.message
            proto.severityText = record.severity
            proto.attributes = Convert.keyValues(record.fields)
            var scope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
            scope.scope.attributes = record.metadata.sorted { $0.key < $1.key }.map {
                Convert.keyValue($0.key, .string($0.value))
            }
            scope.logRecords = [proto]
            var resource = Opentelemetry_Proto_Logs_V1_ResourceLogs()
            resource.resource.attributes = Convert.keyValues(record.resource)
            resource.scopeLogs = [scope]
            return resource
        }
        return request
    }

    private static func logBatch(_ request: Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest) -> LogBatch
    {
        var batch = LogBatch()
        batch.records.reserveCapacity(request.resourceLogs.count)
        for resource in request.resourceLogs {
            for scope in resource.scopeLogs {
                var metadata: [String: String] = [:]
                for pair in scope.scope.attributes { metadata[pair.key] = pair.value.stringValue }
                for proto in scope.logRecords {
                    batch.records.append(
                        LogRecord(
                            timestamp: Int64(bitPattern: proto.timeUnixNano), message: proto.body.stringValue,
                            severity: proto.severityText, fields: Convert.object(proto.attributes),
                            metadata: metadata, resource: Convert.attributes(resource.resource.attributes)))
                }
            }
        }
        return batch
    }
}
