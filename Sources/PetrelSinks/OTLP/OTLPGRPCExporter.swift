import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import OTLPProtos
import OTLPServices
import PetrelCodecs
import PetrelCore
import PetrelNet

/// OTLP/gRPC: the `TraceService` and `LogsService` Export methods over one HTTP/2 connection, sending the bytes of
/// the hand-written encoders (`OTLPTraceEncoder`, `OTLPLogEncoder`) as the messages.
final class OTLPGRPCExporter: OTLPExporter {
    /// An export request message, encoded once for every attempt.
    enum Request: Sendable {
        case traces([UInt8])
        case logs([UInt8])
    }

    private typealias Transport = HTTP2ClientTransport.Posix
    private typealias TraceResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
    private typealias LogsResponse = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse
    private let config: OTLPSinkConfig
    private let client: GRPCClient<Transport>

    /// With `tls` (an `https://` endpoint) every connection gets Petrel's own TLS handler, so certificates are
    /// re-read from disk and `min_version`/`server_name` apply as they do for HTTP.
    init(config: OTLPSinkConfig, tls: ReloadingTLSContext?) throws {
        self.config = config
        let compression: HTTP2ClientTransport.Config.Compression =
            config.request.compression == .gzip
            ? .init(algorithm: .gzip, enabledAlgorithms: .gzip) : .defaults
        let serverName = config.request.tls.serverName ?? config.endpoint.host
        let transport = try HTTP2ClientTransport.Posix(
            target: Self.target(config.endpoint), transportSecurity: tls == nil ? .plaintext : .customSecure,
            config: .defaults {
                $0.compression = compression
                if let tls {
                    $0.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                tls.makeClientHandler(serverName: serverName), position: .first)
                        }
                    }
                }
            })
        client = GRPCClient(transport: transport)
    }

    func prepare(_ batch: OTLPBatch) throws -> Request {
        switch batch {
        case .traces(let spans):
            var encoder = OTLPTraceEncoder()
            return .traces(encoder.encode(spans))
        case .logs(let records):
            var encoder = OTLPLogEncoder()
            return .logs(encoder.encode(records))
        }
    }

    func export(_ request: Request) async -> SendOutcome {
        var options = CallOptions.defaults
        options.timeout = config.request.timeout
        options.compression = config.request.compression == .gzip ? .gzip : CompressionAlgorithm.none
        var metadata = Metadata()
        for pair in config.request.metadata() { metadata.addString(pair.value, forKey: pair.name) }
        do {
            switch request {
            case .traces(let message):
                let response = try await client.unary(
                    request: ClientRequest(message: message, metadata: metadata),
                    descriptor: Opentelemetry_Proto_Collector_Trace_V1_TraceService.Method.Export.descriptor,
                    serializer: EncodedMessageSerializer(),
                    deserializer: ProtobufDeserializer<TraceResponse>(),
                    options: options
                ) { try $0.message }
                return .delivered(
                    wireBytes: message.count, rejectedEvents: Int(response.partialSuccess.rejectedSpans),
                    message: response.partialSuccess.errorMessage)
            case .logs(let message):
                let response = try await client.unary(
                    request: ClientRequest(message: message, metadata: metadata),
                    descriptor: Opentelemetry_Proto_Collector_Logs_V1_LogsService.Method.Export.descriptor,
                    serializer: EncodedMessageSerializer(),
                    deserializer: ProtobufDeserializer<LogsResponse>(),
                    options: options
                ) { try $0.message }
                return .delivered(
                    wireBytes: message.count, rejectedEvents: Int(response.partialSuccess.rejectedLogRecords),
                    message: response.partialSuccess.errorMessage)
            }
        } catch let error as RPCError {
            return Self.outcome(of: error)
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
    }

    func run() async throws {
        try await client.runConnections()
    }

    func shutdown() {
        client.beginGracefulShutdown()
    }

    /// Retryable or not, as the OTLP specification sorts gRPC status codes.
    static func outcome(of error: RPCError) -> SendOutcome {
        let name = Self.name(of: error.code)
        switch error.code {
        case .cancelled, .deadlineExceeded, .aborted, .outOfRange, .unavailable, .dataLoss, .resourceExhausted:
            // The specification retries RESOURCE_EXHAUSTED only when the server sent RetryInfo, and the
            // Collector's otlpexporter does just that. We retry it always, with backoff: it is gRPC's
            // 429, which we retry over HTTP, and receivers such as Tempo's distributor answer rate
            // limits with it and no RetryInfo; backing off pushes back on our sources, dropping loses data.
            let status = try? error.unpackGoogleRPCStatus()
            let delay = status?.details.lazy.compactMap(\.retryInfo).first?.delay
            return .retry(reason: "gRPC \(name): \(error.message)", after: delay)
        default:
            return .drop(reason: "grpc_\(name)", message: error.message)
        }
    }

    /// The status code's canonical name in lower case (`invalid_argument`), as discard reasons spell it.
    static func name(of code: RPCError.Code) -> String {
        switch code {
        case .cancelled: "cancelled"
        case .unknown: "unknown"
        case .invalidArgument: "invalid_argument"
        case .deadlineExceeded: "deadline_exceeded"
        case .notFound: "not_found"
        case .alreadyExists: "already_exists"
        case .permissionDenied: "permission_denied"
        case .resourceExhausted: "resource_exhausted"
        case .failedPrecondition: "failed_precondition"
        case .aborted: "aborted"
        case .outOfRange: "out_of_range"
        case .unimplemented: "unimplemented"
        case .internalError: "internal"
        case .unavailable: "unavailable"
        case .dataLoss: "data_loss"
        case .unauthenticated: "unauthenticated"
        default: "code_\(code.rawValue)"
        }
    }

    private static func target(_ endpoint: HTTPEndpoint) -> any ResolvableTarget {
        if endpoint.host.contains(":") {
            return .ipv6(address: endpoint.host, port: endpoint.port)
        }
        if endpoint.host.split(separator: ".").count == 4, endpoint.host.allSatisfy({ $0 == "." || $0.isNumber }) {
            return .ipv4(address: endpoint.host, port: endpoint.port)
        }
        return .dns(host: endpoint.host, port: endpoint.port)
    }
}

/// Hands over a message already encoded (by `OTLPTraceEncoder` or `OTLPLogEncoder`) as its gRPC payload.
struct EncodedMessageSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }
}
