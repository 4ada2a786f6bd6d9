import Synchronization

/// The health of every scrape target, by source, for the API's `GET /targets`.
///
/// A `prometheus_scrape` source reports each target after every scrape and removes it when it is no longer
/// discovered; the API renders the whole board, much as Prometheus' `/api/v1/targets` does.
public final class ScrapeTargetStatus: Sendable {
    /// One target as last seen.
    public struct Target: Sendable {
        public var job: String
        public var url: String
        /// The target's labels after `relabel_configs`, sorted by name.
        public var labels: [(name: String, value: String)]
        /// `up`, `down`, or `unknown` before the first scrape.
        public var health: String
        public var lastError: String
        /// When the last scrape started, in Unix milliseconds; 0 before the first.
        public var lastScrapeMilliseconds: Int64
        public var lastScrapeDurationSeconds: Double
        /// Samples in the last scrape, before `metric_relabel_configs`.
        public var samplesScraped: Int
        public var scrapeIntervalSeconds: Double

        public init(
            job: String, url: String, labels: [(name: String, value: String)], scrapeIntervalSeconds: Double
        ) {
            self.job = job
            self.url = url
            self.labels = labels
            self.health = "unknown"
            self.lastError = ""
            self.lastScrapeMilliseconds = 0
            self.lastScrapeDurationSeconds = 0
            self.samplesScraped = 0
            self.scrapeIntervalSeconds = scrapeIntervalSeconds
        }
    }

    /// Source id, then a key per target (its job and URL).
    private let sources = Mutex<[String: [String: Target]]>([:])

    public init() {}

    public func update(source: String, key: String, _ target: Target) {
        sources.withLock { $0[source, default: [:]][key] = target }
    }

    public func remove(source: String, key: String) {
        sources.withLock { _ = $0[source]?.removeValue(forKey: key) }
    }

    /// A source's targets by health, for `petrel top`; `nil` for a source that reported none.
    public func summary(source: String) -> (up: Int, down: Int, total: Int)? {
        sources.withLock { sources in
            guard let targets = sources[source] else { return nil }
            let up = targets.values.count { $0.health == "up" }
            let down = targets.values.count { $0.health == "down" }
            return (up, down, targets.count)
        }
    }

    /// Every target of every source, ordered by source, job and URL.
    public var targets: [(source: String, target: Target)] {
        sources.withLock { sources in
            sources.sorted { $0.key < $1.key }.flatMap { source, targets in
                targets.values.sorted { ($0.job, $0.url) < ($1.job, $1.url) }.map { (source, $0) }
            }
        }
    }

    /// `{"activeTargets":[{...}]}`, each target with its source, job (`scrapePool`, as Prometheus names it), URL,
    /// labels, health, last error, last scrape time and duration, and samples scraped.
    public func renderJSON() -> String {
        var json = "{\"activeTargets\":["
        for (index, entry) in targets.enumerated() {
            let target = entry.target
            if index > 0 { json += "," }
            json += "{\"source\":\(Self.quote(entry.source)),\"scrapePool\":\(Self.quote(target.job))"
            json += ",\"scrapeUrl\":\(Self.quote(target.url)),\"labels\":{"
            json += target.labels.map { "\(Self.quote($0.name)):\(Self.quote($0.value))" }.joined(separator: ",")
            json += "},\"health\":\(Self.quote(target.health)),\"lastError\":\(Self.quote(target.lastError))"
            json += ",\"lastScrapeUnixMilliseconds\":\(target.lastScrapeMilliseconds)"
            json += ",\"lastScrapeDuration\":\(Self.number(target.lastScrapeDurationSeconds))"
            json += ",\"samplesScraped\":\(target.samplesScraped)"
            json += ",\"scrapeInterval\":\(Self.number(target.scrapeIntervalSeconds))}"
        }
        return json + "]}\n"
    }

    private static func number(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "0"
    }

    private static func quote(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
