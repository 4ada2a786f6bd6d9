import Logging
import NIOCore
import NIOHTTP1
import PetrelCore
import PetrelNet
import ServiceLifecycle
import Synchronization

/// Serves Petrel's own telemetry: `/metrics` (Prometheus text), `/health`, `/ready` and `/targets` (scrape targets).
///
/// It runs on the same `HTTPIngestServer` as the push sources, so it has the same connection limit and timeouts.
public final class APIServer: Service {
    /// API requests have no body worth reading.
    static let maxBodySize = 64 * 1024

    public let host: String
    public let port: Int
    public let limits: HTTPListenerLimits
    private let routes: APIRoutes
    private let logger: Logger
    private let security: ListenerSecurity
    private let bound = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    public init(
        host: String, port: Int, limits: HTTPListenerLimits = HTTPListenerLimits(),
        security: ListenerSecurity = ListenerSecurity(), telemetry: TelemetryRegistry, readiness: Readiness,
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.security = security
        self.routes = APIRoutes(telemetry: telemetry, readiness: readiness)
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
        let routes = self.routes
        let server = HTTPIngestServer(
            settings: HTTPServerSettings(host: host, port: port, maxBodySize: Self.maxBodySize, limits: limits),
            tls: try security.makeTLS(applicationProtocols: ["http/1.1"], logger: logger),
            // Probes carry no credentials, and health says nothing worth hiding.
            authenticator: security.makeAuthenticator(logger: logger), openPaths: ["/health", "/ready"],
            logger: logger
        ) { request in
            routes.respond(to: request)
        }
        let shutdown = ShutdownSignal()
        try await withGracefulShutdownHandler {
            try await server.run(shutdown: shutdown) { port in
                logger.info("API listening", metadata: ["address": "\(HostPort(host: host, port: port))"])
                let waiters = bound.withLock { state in
                    state.port = port
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: port) }
            }
        } onGracefulShutdown: {
            shutdown.trigger()
        }
    }
}

/// The API's answers; all are small and immediate.
struct APIRoutes: Sendable {
    let telemetry: TelemetryRegistry
    let readiness: Readiness

    func respond(to request: HTTPIngestRequest) -> HTTPIngestResponse {
        // A HEAD answer is the GET answer; the server leaves its body out.
        guard request.method == .GET || request.method == .HEAD else {
            return answer(.methodNotAllowed, "text/plain", "only GET and HEAD\n")
        }
        switch request.path {
        case "/metrics":
            return answer(.ok, "text/plain; version=0.0.4; charset=utf-8", telemetry.render())
        case "/health":
            return answer(.ok, "text/plain", "ok\n")
        case "/targets":
            return answer(.ok, "application/json", telemetry.scrapeTargets.renderJSON())
        case "/ready":
            let waiting = readiness.waitingFor
            return waiting.isEmpty
                ? answer(.ok, "text/plain", "ready\n")
                : answer(.serviceUnavailable, "text/plain", "waiting for: \(waiting.joined(separator: ", "))\n")
        default:
            return answer(.notFound, "text/plain", "not found; try /metrics, /health or /ready\n")
        }
    }

    private func answer(_ status: HTTPResponseStatus, _ contentType: String, _ body: String) -> HTTPIngestResponse {
        HTTPIngestResponse(status: status, headers: ["Content-Type": contentType], body: Array(body.utf8))
    }
}
