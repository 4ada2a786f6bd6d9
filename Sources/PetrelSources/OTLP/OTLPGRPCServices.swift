import GRPCCore
import OTLPServices
import PetrelCore
import SwiftProtobuf

/// The OTLP trace, metrics and logs gRPC services (`…TraceService/Export` and its twins) over one receiver.
///
/// Registered by hand rather than through the generated `SimpleServiceProtocol`s, so that the handler gets the
/// message's bytes: the receiver decodes them as it does an HTTP body, counts them, and explains a malformed one.
struct OTLPGRPCServices: RegistrableRPCService {
    let receiver: OTLPReceiver
    /// The largest message answered; the stream guard refuses one declared larger on the wire, and the transport
    /// inflates up to `transportLimit(for:)` so that one past this once inflated gets RESOURCE_EXHAUSTED here.
    let maxMessageSize: Int
    let retryAfter: Duration

    /// grpc-swift resets the stream of a message past its limit, which clients see as UNAVAILABLE and retry;
    /// inflating up to twice the limit lets the service refuse the common case, a compressed batch somewhat too
    /// large, for good.
    static func transportLimit(for maxMessageSize: Int) -> Int {
        min(Int(UInt32.max), maxMessageSize.multipliedReportingOverflow(by: 2).partialValue)
    }

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        register(
            Opentelemetry_Proto_Collector_Trace_V1_TraceService.Method.Export.descriptor, .traces, with: &router,
            respond: OTLPExportResponses.traces)
        register(
            Opentelemetry_Proto_Collector_Metrics_V1_MetricsService.Method.Export.descriptor, .metrics, with: &router,
            respond: OTLPExportResponses.metrics)
        register(
            Opentelemetry_Proto_Collector_Logs_V1_LogsService.Method.Export.descriptor, .logs, with: &router,
            respond: OTLPExportResponses.logs)
    }

    private func register<Transport: ServerTransport, Response: SwiftProtobuf.Message & Sendable>(
        _ method: MethodDescriptor, _ signal: Signal, with router: inout RPCRouter<Transport>,
        respond: @escaping @Sendable (_ rejected: Int, _ message: String?) -> Response
    ) {
        let receiver = self.receiver
        let maxMessageSize = self.maxMessageSize
        let retryAfter = self.retryAfter
        router.registerHandler(
            forMethod: method, deserializer: MessageBytesDeserializer(),
            serializer: ProtobufMessageSerializer<Response>()
        ) { request, _ in
            let body = try await ServerRequest(stream: request).message
            guard body.count <= maxMessageSize else {
                receiver.refused(wireBytes: body.count)
                throw RPCError(
                    code: .resourceExhausted,
                    message: "the message of \(body.count) bytes exceeds the limit of \(maxMessageSize) bytes")
            }
            switch await receiver.export(signal, body, encoding: .protobuf, wireBytes: body.count) {
            case .accepted(let rejected, let message):
                return StreamingServerResponse(single: ServerResponse(message: respond(rejected, message)))
            case .malformed(let reason):
                throw RPCError(code: .invalidArgument, message: reason)
            case .throttled:
                throw Self.throttled(retryAfter: retryAfter)
            }
        }
    }

    /// RESOURCE_EXHAUSTED with a `RetryInfo` detail, which is what makes OTLP clients retry it.
    static func throttled(retryAfter: Duration) -> RPCError {
        let message = "the pipeline is full; retry later"
        let status = GoogleRPCStatus(.resourceExhausted, message, retryDelay: retryAfter)
        return RPCError(
            code: .resourceExhausted, message: message,
            metadata: ["grpc-status-details-bin": .binary(status.protobuf())])
    }
}

/// Hands a request message over as its bytes, undecoded.
struct MessageBytesDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

/// Serializes a response message with SwiftProtobuf.
struct ProtobufMessageSerializer<Message: SwiftProtobuf.Message>: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: Message) throws -> Bytes {
        let bytes: [UInt8] = try message.serializedBytes()
        return Bytes(bytes)
    }
}
