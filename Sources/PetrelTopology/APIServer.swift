import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PetrelCore
import PetrelNet
import ServiceLifecycle
import Synchronization

/// Serves Petrel's own telemetry: `/metrics` (Prometheus text), `/health` and `/ready`.
public final class APIServer: Service {
    public let host: String
    public let port: Int
    private let telemetry: TelemetryRegistry
    private let readiness: Readiness
    private let logger: Logger
    private let security: ListenerSecurity
    private let bound = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    public init(
        host: String, port: Int, security: ListenerSecurity = ListenerSecurity(), telemetry: TelemetryRegistry,
        readiness: Readiness, logger: Logger
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.telemetry = telemetry
        self.readiness = readiness
        self.logger = logger
    }

    /// The port the server listens on, once it is listening (useful with port 0).
    public func boundPort() async -> Int {
        await withCheckedContinuation { continuation in
            let port = bound.withLock { state -> Int? in
                if state.port == nil { state.waiters.append(continuation) }
                return state.port
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    public func run() async throws {
        let telemetry = self.telemetry
        let readiness = self.readiness
        let tls = try security.makeTLS(applicationProtocols: ["http/1.1"], logger: logger)
        let authenticator = security.makeAuthenticator(logger: logger)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeServerHandler()) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    if let authenticator {
                        // Probes carry no credentials, and health says nothing worth hiding.
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPAuthHandler(authenticator: authenticator, openPaths: ["/health", "/ready"]))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        APIHandler(telemetry: telemetry, readiness: readiness))
                }
            }
            .bind(host: host, port: port)
            .get()
        let port = channel.localAddress?.port ?? port
        logger.info("API listening", metadata: ["address": "\(host):\(port)"])
        let waiters = bound.withLock { state in
            state.port = port
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
        try? await gracefulShutdown()
        try await channel.close()
    }
}

/// Answers one API request at a time on a connection; all answers are small and immediate.
final class APIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let telemetry: TelemetryRegistry
    private let readiness: Readiness
    private var request: HTTPRequestHead?

    init(telemetry: TelemetryRegistry, readiness: Readiness) {
        self.telemetry = telemetry
        self.readiness = readiness
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let (status, contentType, body): (HTTPResponseStatus, String, String)
        if head.method != .GET && head.method != .HEAD {
            (status, contentType, body) = (.methodNotAllowed, "text/plain", "only GET and HEAD\n")
        } else {
            switch path {
            case "/metrics":
                (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", telemetry.render())
            case "/health":
                (status, contentType, body) = (.ok, "text/plain", "ok\n")
            case "/ready":
                let waiting = readiness.waitingFor
                (status, contentType, body) =
                    waiting.isEmpty
                    ? (.ok, "text/plain", "ready\n")
                    : (.serviceUnavailable, "text/plain", "waiting for: \(waiting.joined(separator: ", "))\n")
            default:
                (status, contentType, body) = (.notFound, "text/plain", "not found; try /metrics, /health or /ready\n")
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if head.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
