import PetrelCore
import PetrelNet

/// Settings of the `alertmanager` sink.
public struct AlertmanagerSinkConfig: Sendable {
    /// Every replica's base URL (`/api/v2/alerts` is appended): each gets every alert, through its own queue.
    public var endpoints: [HTTPEndpoint] = []
    /// How often a firing alert (and, for `resolvedRetention`, a resolved one) is sent again.
    public var resendInterval: Duration = .seconds(60)
    /// How far past each send a firing alert's `endsAt` lies: if Petrel stops sending, Alertmanager resolves it then.
    public var resolveTimeout: Duration = .seconds(240)
    /// How long a resolved alert keeps being sent, for a replica that missed the first one.
    public var resolvedRetention: Duration = .seconds(15 * 60)
    /// Timeout, backoff, headers, TLS and credentials: the keys every sink shares; `batch.max_events` bounds a
    /// request's alerts.
    public var request = Self.defaults

    /// Prometheus' notifier's neighbourhood: small requests, a 10s timeout, no compression (Alertmanager takes none).
    public static let defaults = SinkRequestSettings(
        maxEvents: 256, maxBytes: 4 * 1024 * 1024, maxAge: .seconds(1), timeout: .seconds(10), concurrency: 1,
        initialBackoff: .milliseconds(500), maxBackoff: .seconds(30), compression: .none)

    public init(endpoints: [HTTPEndpoint]) {
        self.endpoints = endpoints
    }

    public init(from reader: ConfigReader) {
        if let urls = reader.stringList("endpoints") {
            if urls.isEmpty { reader.error("endpoints", "needs at least one Alertmanager URL") }
            for url in urls {
                switch HTTPEndpoint.parse(url) {
                case .success(let parsed):
                    if parsed.target.contains("?") {
                        reader.error(
                            "endpoints", "expected a base URL such as http://alertmanager:9093, without a query")
                    } else if endpoints.contains(parsed) {
                        reader.error("endpoints", "\(url) is listed twice")
                    }
                    endpoints.append(parsed)
                case .failure(let problem):
                    reader.error("endpoints", "invalid URL \"\(url)\": \(problem.message)")
                }
            }
        } else if !reader.contains("endpoints") {
            reader.error("endpoints", "is required: the base URL of every Alertmanager replica")
        }
        resendInterval = reader.duration("resend_interval", default: resendInterval)
        if resendInterval <= .zero { reader.error("resend_interval", "must be longer than zero") }
        resolveTimeout = reader.duration("resolve_timeout", default: resendInterval * 4)
        if resolveTimeout <= resendInterval {
            reader.error(
                "resolve_timeout", "must be longer than resend_interval, or alerts resolve between two sends")
        }
        resolvedRetention = reader.duration("resolved_retention", default: resolvedRetention)
        if resolvedRetention < .zero { reader.error("resolved_retention", "must not be negative") }
        request = SinkRequestSettings.read(from: reader, defaults: Self.defaults, compressions: [.none])
        // Shared keys that mean nothing here: each replica sends one request at a time, of the alerts due.
        if reader.contains("concurrency") {
            reader.error("concurrency", "the alertmanager sink sends one request at a time to each replica")
        }
        if let batch = reader.section("batch") {
            for key in ["max_bytes", "max_age"] where batch.contains(key) {
                batch.error(key, "the alertmanager sink batches by batch.max_events only")
            }
        }
    }

    /// Where a replica takes alerts: its base path with `api/v2/alerts` appended.
    public static func alertsEndpoint(_ base: HTTPEndpoint) -> HTTPEndpoint {
        var path = base.target
        while path.hasSuffix("/") { path.removeLast() }
        var resolved = base
        resolved.target = path + "/api/v2/alerts"
        return resolved
    }
}
