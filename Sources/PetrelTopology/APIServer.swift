import Logging
import NIOCore
import NIOHTTP1
import PetrelCore
import PetrelNet
import ServiceLifecycle
import Synchronization

/// Serves Petrel's own telemetry: `/metrics` (Prometheus text), `/health`, `/ready`, `/targets` (scrape targets);
/// `POST /reload`; and for looking inside, `/components` (`petrel top`) and `/tap` (`petrel tap`).
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
    /// Ends the streamed answers (`/tap`) as the server shuts down, which would otherwise hold it up.
    private let shutdown = ShutdownSignal()
    private let bound = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    public init(
        host: String, port: Int, limits: HTTPListenerLimits = HTTPListenerLimits(),
        security: ListenerSecurity = ListenerSecurity(), telemetry: TelemetryRegistry, readiness: Readiness,
        reloader: ConfigReloader? = nil, logger: Logger
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.security = security
        self.routes = APIRoutes(
            telemetry: telemetry, readiness: readiness, tap: TapRoute(taps: telemetry.taps, shutdown: shutdown),
            reloader: reloader)
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
            await routes.respond(to: request)
        }
        let shutdown = self.shutdown
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

/// The API's answers; all are small and immediate but `/tap`'s, which streams.
struct APIRoutes: Sendable {
    let telemetry: TelemetryRegistry
    let readiness: Readiness
    let tap: TapRoute
    var reloader: ConfigReloader?

    func respond(to request: HTTPIngestRequest) async -> HTTPIngestResponse {
        if request.path == "/reload" { return await reload(request) }
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
        case "/components":
            return HTTPIngestResponse(
                status: .ok, headers: ["Content-Type": "application/json"],
                body: ComponentsRoute(telemetry: telemetry).body())
        case "/tap":
            return tap.respond(to: request)
        default:
            return answer(.notFound, "text/plain", "not found; try /metrics, /health, /ready, /components or /tap\n")
        }
    }

    /// `POST /reload`: 200 with what changed, or 400 with every error of a configuration it refused.
    private func reload(_ request: HTTPIngestRequest) async -> HTTPIngestResponse {
        guard request.method == .POST else { return answer(.methodNotAllowed, "text/plain", "only POST\n") }
        guard let reloader else { return answer(.notFound, "text/plain", "reloading is not enabled\n") }
        switch await reloader.reload(trigger: "POST /reload") {
        case .applied(let change):
            let replaced = change.started.intersection(change.stopped)
            let lines = [
                "reloaded", "replaced: \(replaced.sorted().joined(separator: " "))",
                "added: \(change.started.subtracting(replaced).sorted().joined(separator: " "))",
                "removed: \(change.stopped.subtracting(replaced).sorted().joined(separator: " "))",
                "unchanged: \(change.kept.sorted().joined(separator: " "))",
            ]
            return answer(.ok, "text/plain", lines.joined(separator: "\n") + "\n")
        case .refused(let errors):
            return answer(.badRequest, "text/plain", errors.description + "\n")
        }
    }

    private func answer(_ status: HTTPResponseStatus, _ contentType: String, _ body: String) -> HTTPIngestResponse {
        HTTPIngestResponse(status: status, headers: ["Content-Type": contentType], body: Array(body.utf8))
    }
}
