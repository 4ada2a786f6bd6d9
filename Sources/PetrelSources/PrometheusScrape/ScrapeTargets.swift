import PetrelCore
import PetrelNet

/// A group of discovered targets and the labels they share, as Prometheus' service discovery yields them.
struct TargetGroup: Sendable, Equatable {
    /// Each target's own labels; `__address__` at least.
    var targets: [[String: String]]
    var labels: [String: String]
}

/// A target to scrape: its URL and the labels every sample of it gets.
struct ScrapeTarget: Sendable, Hashable {
    var job: String
    var endpoint: HTTPEndpoint
    /// `job`, `instance` and the other labels left after `relabel_configs`, sorted by name, none starting `__`.
    var labels: [Label]

    struct Label: Sendable, Hashable {
        var name: String
        var value: String
    }

    /// What tells targets apart: Prometheus hashes the labels and the URL.
    var key: String {
        "\(job)|\(endpoint)|" + labels.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
    }

    /// A stable hash of the target, for spreading scrapes over the interval.
    var hash: UInt64 {
        var hasher = XXHash64()
        Array(key.utf8).withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }

    /// Prometheus' `PopulateLabels`: the job's defaults under the discovered labels, `relabel_configs`, a default
    /// port, `__`-labels dropped, `instance` from `__address__`. `nil` when the rules drop the target or leave it
    /// without an address.
    static func make(
        discovered: [String: String], job: ScrapeJobConfig, rules: inout RelabelRules
    ) -> ScrapeTarget? {
        var labels = discovered
        let defaults: [(String, String)] = [
            ("job", job.jobName), ("__scheme__", job.scheme), ("__metrics_path__", job.metricsPath),
            ("__scrape_interval__", ScrapeDurationText.format(job.scrapeInterval)),
            ("__scrape_timeout__", ScrapeDurationText.format(job.scrapeTimeout)),
        ]
        for (name, value) in defaults where labels[name] == nil { labels[name] = value }
        for (name, values) in job.params where labels["__param_\(name)"] == nil {
            if let first = values.first { labels["__param_\(name)"] = first }
        }
        guard let relabeled = rules.apply(to: labels.map { ($0.key, $0.value) }) else { return nil }
        var result: [String: String] = [:]
        for (name, value) in relabeled { result[name] = value }
        guard let address = result["__address__"], let parsed = ScrapeTargetAddress.parse(address) else {
            return nil
        }
        let scheme = result["__scheme__"] ?? job.scheme
        let port = parsed.port ?? (scheme == "https" ? 443 : 80)
        let hostPort = parsed.host.contains(":") ? "[\(parsed.host)]:\(port)" : "\(parsed.host):\(port)"
        var query: [String] = []
        var params = job.params
        for (name, value) in result where name.hasPrefix("__param_") {
            let param = String(name.dropFirst("__param_".count))
            if let index = params.firstIndex(where: { $0.name == param }) {
                params[index].values[0] = value
            } else {
                params.append((param, [value]))
            }
        }
        for (name, values) in params.sorted(by: { $0.name < $1.name }) {
            for value in values { query.append("\(Self.escape(name))=\(Self.escape(value))") }
        }
        let path = result["__metrics_path__"] ?? job.metricsPath
        let target = path + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        var labelsOut = result.filter { !$0.key.hasPrefix("__") }
        if labelsOut["instance"] == nil { labelsOut["instance"] = hostPort }
        return ScrapeTarget(
            job: job.jobName,
            endpoint: HTTPEndpoint(host: parsed.host, port: port, target: target, usesTLS: scheme == "https"),
            labels: labelsOut.filter { !$0.value.isEmpty }.map { Label(name: $0.key, value: $0.value) }
                .sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) })
    }

    /// Percent-encoding for a query parameter.
    private static func escape(_ text: String) -> String {
        var escaped = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                escaped += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return escaped
    }

    /// Every target of `groups`, in order, without duplicates.
    static func make(groups: [TargetGroup], job: ScrapeJobConfig, rules: inout RelabelRules) -> [ScrapeTarget] {
        var seen: Set<String> = []
        var targets: [ScrapeTarget] = []
        for group in groups {
            for own in group.targets {
                var labels = group.labels
                for (name, value) in own { labels[name] = value }
                guard let target = make(discovered: labels, job: job, rules: &rules) else { continue }
                if seen.insert(target.key).inserted { targets.append(target) }
            }
        }
        return targets
    }
}

/// Durations as Prometheus prints them in `__scrape_interval__`: `15s`, `1m`, `1m30s`, `500ms`.
enum ScrapeDurationText {
    static func format(_ duration: Duration) -> String {
        var milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds == 0 { return "0s" }
        var text = ""
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)]
        where milliseconds >= size {
            if unit == "d" && milliseconds % size != 0 { continue }
            text += "\(milliseconds / size)\(unit)"
            milliseconds %= size
        }
        return text
    }
}
