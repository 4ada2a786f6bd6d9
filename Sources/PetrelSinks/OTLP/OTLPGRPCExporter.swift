import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import OTLPProtos
import OTLPServices
import PetrelCodecs
import PetrelCore
import PetrelNet
import SwiftProtobuf
import Synchronization

/// OTLP/gRPC: the generated `TraceService` and `LogsService` clients over one HTTP/2 connection.
final class OTLPGRPCExporter: OTLPExporter {
    /// An export request message, converted once for every attempt.
    enum Request: Sendable {
        case traces(Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest)
        case logs(Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest)
    }

    private typealias Transport = HTTP2ClientTransport.Posix
    private typealias TraceResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
    private typealias LogsResponse = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse
    private let config: OTLPSinkConfig
    private let client: GRPCClient<Transport>
    private let traces: Opentelemetry_Proto_Collector_Trace_V1_TraceService.Client<Transport>
    private let logs: Opentelemetry_Proto_Collector_Logs_V1_LogsService.Client<Transport>

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
        traces = .init(wrapping: client)
        logs = .init(wrapping: client)
    }

    func prepare(_ batch: OTLPBatch) throws -> Request {
        switch batch {
        case .traces(let spans): .traces(OTLPTraceConversion.request(from: spans))
        case .logs(let records): .logs(OTLPLogConversion.request(from: records))
        }
    }

    func export(_ request: Request) async -> SendOutcome {
        var options = CallOptions.defaults
        options.timeout = config.request.timeout
        options.compression = config.request.compression == .gzip ? .gzip : CompressionAlgorithm.none
        var metadata = Metadata()
        for pair in config.request.metadata() { metadata.addString(pair.value, forKey: pair.name) }
        let size = SerializedSize()
        do {
            switch request {
            case .traces(let message):
                let response = try await traces.export(
                    request: ClientRequest(message: message, metadata: metadata),
                    serializer: SizeRecordingSerializer(size: size),
                    deserializer: ProtobufDeserializer<TraceResponse>(),
                    options: options
                ) { try $0.message }
                return .delivered(
                    wireBytes: size.bytes, rejectedEvents: Int(response.partialSuccess.rejectedSpans),
                    message: response.partialSuccess.errorMessage)
            case .logs(let message):
                let response = try await logs.export(
                    request: ClientRequest(message: message, metadata: metadata),
                    serializer: SizeRecordingSerializer(size: size),
                    deserializer: ProtobufDeserializer<LogsResponse>(),
                    options: options
                ) { try $0.message }
                return .delivered(
                    wireBytes: size.bytes, rejectedEvents: Int(response.partialSuccess.rejectedLogRecords),
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

/// The size of the last message a `SizeRecordingSerializer` wrote: the gRPC payload, before compression.
final class SerializedSize: Sendable {
    private let value = Atomic<Int>(0)

    var bytes: Int { value.load(ordering: .relaxed) }

    func record(_ bytes: Int) { value.store(bytes, ordering: .relaxed) }
}

/// Protobuf serialization that remembers the message's size, for the sent-bytes counter.
struct SizeRecordingSerializer<Message: SwiftProtobuf.Message>: MessageSerializer {
    let size: SerializedSize

    func serialize<Bytes: GRPCContiguousBytes>(_ message: Message) throws -> Bytes {
        let bytes: Bytes = try ProtobufSerializer<Message>().serialize(message)
        size.record(bytes.count)
        return bytes
    }
}
