import Logging
import PetrelCore
import PetrelNet

/// Keeps a `PodMetadataIndex` in step with this node's pods, gently on the control plane of a large cluster.
///
/// One LIST served from the API server's watch cache (`resourceVersion=0`, no quorum read of etcd), then one watch
/// after another, each resumed from the last resourceVersion seen (bookmarks included), so a dropped connection or
/// an ended watch costs no LIST. Only `410 Gone` (the version was compacted away) or an event that cannot be read
/// leads to a new LIST. Failures wait with jittered exponential backoff and are logged with their reason; a watch
/// that ends normally is started again at once, unless it ended at once.
public final class PodWatcher: Sendable {
    private let config: KubernetesAPIConfig
    private let index: PodMetadataIndex
    private let telemetry: KubernetesAPITelemetry
    private let logger: Logger
    private let client: KubernetesAPIClient

    /// The largest LIST answer or watch event taken: far above the pods one node can run.
    static let maxListBytes = 256 * 1024 * 1024
    static let maxEventBytes = 16 * 1024 * 1024

    /// Throws when the CA file cannot be used.
    public init(
        config: KubernetesAPIConfig, index: PodMetadataIndex, telemetry: KubernetesAPITelemetry, logger: Logger
    ) throws(TLSFileError) {
        self.config = config
        self.index = index
        self.telemetry = telemetry
        self.logger = logger
        client = try KubernetesAPIClient(config: config, logger: logger)
    }

    /// Watches until the task is cancelled.
    public func run() async {
        var resourceVersion: String?
        var backoff = RetryBackoff(initial: config.retryInitialDelay, maximum: config.retryMaxDelay)
        var nodeLabelsDue = ContinuousClock.now
        var hasListed = false
        var hasWatched = false
        while !Task.isCancelled {
            if ContinuousClock.now >= nodeLabelsDue {
                nodeLabelsDue = await refreshNodeLabels()
            }
            do {
                if resourceVersion == nil {
                    if hasListed { telemetry.relists.increment() }
                    hasListed = true
                    resourceVersion = try await list()
                }
                if hasWatched { telemetry.watchRestarts.increment() }
                hasWatched = true
                let started = ContinuousClock.now
                let events = try await watch(from: &resourceVersion)
                logger.debug(
                    "pod watch ended",
                    metadata: ["events": "\(events)", "resource_version": "\(resourceVersion ?? "")"])
                // A server that ends every watch at once must not be asked again in a tight loop.
                if events > 0 || ContinuousClock.now - started >= .seconds(1) {
                    backoff.reset()
                } else {
                    try await Task.sleep(for: backoff.next())
                }
            } catch is CancellationError {
                return
            } catch let error as KubernetesAPIError where error.isGone {
                logger.info(
                    "resourceVersion expired; LISTing the pods again",
                    metadata: ["resource_version": "\(resourceVersion ?? "")", "reason": "\(error)"])
                resourceVersion = nil
                // A second 410 straight after a LIST is not normal: wait before the next.
                if backoff.failures > 0 { try? await Task.sleep(for: backoff.next()) } else { _ = backoff.next() }
            } catch {
                if Task.isCancelled { return }
                telemetry.errors.increment()
                if let error = error as? KubernetesAPIError, error.isMalformed {
                    // The index may have missed what could not be read: start again from a LIST.
                    resourceVersion = nil
                }
                let delay = backoff.next()
                logger.warning(
                    "Kubernetes pod watch failed; retrying",
                    metadata: [
                        "reason": "\(error)", "retry_in": "\(delay)",
                        "resource_version": "\(resourceVersion ?? "none: LIST next")",
                    ])
                try? await Task.sleep(for: delay)
            }
        }
    }

    private var podsPath: String {
        "/api/v1/pods?fieldSelector=spec.nodeName%3D\(Self.percentEncoded(config.nodeName))"
    }

    /// LISTs the node's pods into the index and returns the LIST's resourceVersion.
    private func list() async throws -> String {
        let body = try await client.get(podsPath + "&resourceVersion=0", what: "pod LIST", maxBytes: Self.maxListBytes)
        let list = try KubernetesPodList.decode(body)
        guard let version = list.metadata.resourceVersion, !version.isEmpty else {
            throw KubernetesAPIError.malformed("the pod LIST has no metadata.resourceVersion")
        }
        index.replaceAll(list.items.compactMap(PodMetadata.init))
        logger.info(
            "listed the node's pods", metadata: ["pods": "\(list.items.count)", "resource_version": "\(version)"])
        return version
    }

    /// One watch from `resourceVersion`, which follows every event applied; returns the number of events.
    private func watch(from resourceVersion: inout String?) async throws -> Int {
        let timeout = Int(config.watchTimeout.components.seconds)
        let seconds = Int.random(in: timeout...(2 * timeout))
        let target =
            podsPath + "&watch=1&allowWatchBookmarks=true&resourceVersion=\(resourceVersion ?? "0")"
            + "&timeoutSeconds=\(seconds)"
        // The server ends the watch after `seconds`; silence well beyond that means the connection is gone.
        let idleTimeout = Duration.seconds(seconds) + .seconds(30)
        var events = 0
        var version = resourceVersion
        defer { resourceVersion = version }
        try await client.watch(target, idleTimeout: idleTimeout, maxLineBytes: Self.maxEventBytes) { line in
            events += 1
            switch try KubernetesWatchEvent.decode(line) {
            case .added(let pod), .modified(let pod):
                if let metadata = PodMetadata(pod) { index.update(metadata) }
                version = pod.metadata.resourceVersion ?? version
            case .deleted(let pod):
                if let metadata = PodMetadata(pod) { index.delete(metadata) }
                version = pod.metadata.resourceVersion ?? version
            case .bookmark(let bookmarked):
                version = bookmarked
            case .error(let status):
                throw KubernetesAPIError.status(status.code ?? 500, "watch ERROR event", message: status.message)
            }
        }
        return events
    }

    /// Fetches the node's labels; returns when to fetch them next (sooner after a failure).
    private func refreshNodeLabels() async -> ContinuousClock.Instant {
        let path = "/api/v1/nodes/\(Self.percentEncoded(config.nodeName))"
        do {
            let body = try await client.get(path, what: "node GET", maxBytes: 16 * 1024 * 1024)
            index.setNodeLabels(try KubernetesNode.decode(body).metadata.labels ?? [:])
            return .now + config.nodeLabelsRefresh
        } catch {
            guard !Task.isCancelled else { return .now }
            telemetry.errors.increment()
            logger.warning(
                "cannot fetch the node's labels; records go without them until a later try",
                metadata: ["node": "\(config.nodeName)", "reason": "\(error)"])
            return .now + min(config.nodeLabelsRefresh, .seconds(60))
        }
    }

    /// Node names are DNS subdomains; anything else is escaped rather than trusted into a URL.
    static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            let character = Character(Unicode.Scalar(byte))
            if character.isASCII && (character.isLetter || character.isNumber || "-._~".contains(character)) {
                encoded.append(character)
            } else {
                encoded += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return encoded
    }
}

/// Exponential backoff with equal jitter: half the step for sure, the other half at random, so many agents that
/// failed together do not come back together.
struct RetryBackoff {
    let initial: Duration
    let maximum: Duration
    private(set) var failures = 0

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    mutating func next() -> Duration {
        let step = min(maximum, initial * (1 << min(failures, 20)))
        failures += 1
        return step / 2 + step / 2 * Double.random(in: 0...1)
    }

    mutating func reset() { failures = 0 }
}
