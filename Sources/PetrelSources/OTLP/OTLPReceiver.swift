import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf

typealias ExportTraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
typealias ExportTraceResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
typealias ExportMetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
typealias ExportMetricsResponse = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse
typealias ExportLogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
typealias ExportLogsResponse = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse

/// How an OTLP request body is encoded.
enum OTLPBodyEncoding: Sendable {
    case protobuf
    case json
}

/// What became of one Export call, whatever the transport.
enum OTLPExportOutcome: Sendable, Equatable {
    /// In every downstream queue (or empty, so nothing was sent). `rejected` items were invalid and dropped, as
    /// `message` explains; the sender learns of them through the response's partial-success field.
    case accepted(rejected: Int, message: String?)
    /// The request cannot be decoded or holds nothing valid; retrying it would fail the same way.
    case malformed(String)
    /// A downstream queue is full: the sender keeps the data and retries later.
    case throttled
}

/// Turns the bytes of one Export request into one batch and sends it on, without waiting: the gRPC services and the
/// HTTP handler share it, so both transports answer and count alike.
struct OTLPReceiver: Sendable {
    let output: Output
    let telemetry: ComponentTelemetry
    let metricConversion: OTLPMetricConversion

    init(output: Output, telemetry: ComponentTelemetry, metricOptions: OTLPMetricOptions) {
        self.output = output
        self.telemetry = telemetry
        self.metricConversion = OTLPMetricConversion(options: metricOptions)
    }

    /// Decodes, converts and sends one request body of `signal` (protobuf traces and logs by hand, the rest through
    /// swift-protobuf's messages), and answers once every sink's buffer holds it;
    /// `wireBytes` is its size on the wire.
    func export(
        _ signal: Signal, _ body: [UInt8], encoding: OTLPBodyEncoding, wireBytes: Int
    ) async -> OTLPExportOutcome {
        let started = ContinuousClock.now
        defer { telemetry.requestDuration.observe(since: started) }
        telemetry.receivedBytes.increment(by: wireBytes)
        switch signal {
        case .traces:
            let converted: (batch: SpanBatch, rejectedSpans: Int, message: String?)
            switch encoding {
            case .protobuf:
                // The hand-written decoder: the same spans as swift-protobuf's messages converted, without them.
                do throws(OTLPDecodingError) {
                    converted = try OTLPTraceDecoder.decode(body, dropInvalid: true)
                } catch {
                    return malformed(Self.reason(error, body))
                }
            case .json:
                let request: ExportTraceRequest
                switch decode(body, as: ExportTraceRequest.self, encoding: encoding) {
                case .success(let decoded): request = decoded
                case .failure(let problem): return malformed(problem.reason)
                }
                converted = OTLPTraceConversion.spanBatch(from: request, dropInvalid: true)
            }
            return await deliver(
                .traces(converted.batch), rejected: converted.rejectedSpans, message: converted.message, of: "spans")
        case .metrics:
            let request: ExportMetricsRequest
            switch decode(body, as: ExportMetricsRequest.self, encoding: encoding) {
            case .success(let decoded): request = decoded
            case .failure(let problem): return malformed(problem.reason)
            }
            let converted = metricConversion.metricBatch(from: request)
            return await deliver(
                .metrics(converted.batch), rejected: converted.rejectedDataPoints, message: converted.message,
                of: "data points")
        case .logs:
            let batch: LogBatch
            switch encoding {
            case .protobuf:
                do throws(OTLPDecodingError) {
                    batch = try OTLPLogDecoder.decode(body)
                } catch {
                    return malformed(Self.reason(error, body))
                }
            case .json:
                let request: ExportLogsRequest
                switch decode(body, as: ExportLogsRequest.self, encoding: encoding) {
                case .success(let decoded): request = decoded
                case .failure(let problem): return malformed(problem.reason)
                }
                batch = OTLPLogConversion.logBatch(from: request)
            }
            return await deliver(.logs(batch), rejected: 0, message: nil, of: "records")
        case .alerts:
            // OTLP has no alerts; the receiver's routes name only the three OTLP signals.
            return malformed("OTLP carries no alerts")
        }
    }

    /// Counts a request refused before its body could be decoded (bad gzip, too large, unsupported type).
    func refused(wireBytes: Int) {
        telemetry.receivedBytes.increment(by: wireBytes)
        telemetry.error(.receiving)
    }

    private func decode<Message: SwiftProtobuf.Message>(
        _ body: [UInt8], as type: Message.Type, encoding: OTLPBodyEncoding
    ) -> Result<Message, MalformedRequest> {
        do throws(OTLPDecodingError) {
            switch encoding {
            case .protobuf: return .success(try OTLPJSON.decodeProtobuf(body, as: type))
            case .json: return .success(try OTLPJSON.decode(body, as: type))
            }
        } catch {
            return .failure(MalformedRequest(reason: Self.reason(error, body)))
        }
    }

    private static func reason(_ error: OTLPDecodingError, _ body: [UInt8]) -> String {
        "\(error) (a body of \(body.count) bytes)"
    }

    struct MalformedRequest: Error {
        let reason: String
    }

    private func malformed(_ reason: String) -> OTLPExportOutcome {
        telemetry.error(.receiving)
        return .malformed(reason)
    }

    private func deliver(
        _ batch: EventBatch, rejected: Int, message: String?, of items: String
    ) async -> OTLPExportOutcome {
        let events = batch.eventCount
        // With nothing rejected, a message is a warning, which OTLP also carries in `partial_success`.
        let explanation = rejected > 0 ? message ?? "\(rejected) invalid \(items) were dropped" : message
        if events == 0 {
            // A request whose every item is invalid is bad data, not a partial success: the sender must not retry it.
            if rejected > 0 { return malformed(explanation ?? "") }
            return .accepted(rejected: 0, message: explanation)
        }
        guard let buffered = output.trySend(batch) else {
            telemetry.error(.sending)
            telemetry.refused(events, reason: "pipeline_full")
            return .throttled
        }
        telemetry.receivedEvents.increment(by: events)
        // Success only once every sink's buffer holds the batch; past the timeout, "retry later" (the batch may
        // still go through, so a retry can duplicate it: at-least-once).
        guard await buffered.wait(timeout: AcknowledgementWait.defaultTimeout) else {
            telemetry.error(.sending)
            telemetry.refused(events, reason: "buffer_timeout")
            return .throttled
        }
        if rejected > 0 { telemetry.discarded(rejected, reason: "invalid") }
        return .accepted(rejected: rejected, message: explanation)
    }
}

/// The Export*ServiceResponse messages: empty on full success, with `partial_success` when items were rejected.
enum OTLPExportResponses {
    static func traces(rejected: Int, message: String?) -> ExportTraceResponse {
        var response = ExportTraceResponse()
        if rejected > 0 || message != nil {
            response.partialSuccess.rejectedSpans = Int64(rejected)
            response.partialSuccess.errorMessage = message ?? ""
        }
        return response
    }

    static func metrics(rejected: Int, message: String?) -> ExportMetricsResponse {
        var response = ExportMetricsResponse()
        if rejected > 0 || message != nil {
            response.partialSuccess.rejectedDataPoints = Int64(rejected)
            response.partialSuccess.errorMessage = message ?? ""
        }
        return response
    }

    static func logs(rejected: Int, message: String?) -> ExportLogsResponse {
        var response = ExportLogsResponse()
        if rejected > 0 || message != nil {
            response.partialSuccess.rejectedLogRecords = Int64(rejected)
            response.partialSuccess.errorMessage = message ?? ""
        }
        return response
    }

    /// The response for `signal`, encoded as the request was.
    static func encoded(
        _ signal: Signal, rejected: Int, message: String?, as encoding: OTLPBodyEncoding
    ) -> [UInt8] {
        switch signal {
        case .traces: encode(traces(rejected: rejected, message: message), as: encoding)
        case .metrics: encode(metrics(rejected: rejected, message: message), as: encoding)
        case .logs, .alerts: encode(logs(rejected: rejected, message: message), as: encoding)
        }
    }

    private static func encode<Message: SwiftProtobuf.Message>(
        _ response: Message, as encoding: OTLPBodyEncoding
    ) -> [UInt8] {
        switch encoding {
        case .json: return OTLPJSON.encode(response)
        // Responses hold only integers and strings, which always serialize.
        case .protobuf: return (try? response.serializedBytes()) ?? []
        }
    }
}
