import Synchronization

/// A monotonically increasing count, safe to bump from any thread.
public final class Counter: Sendable {
    private let atomic = Atomic<UInt64>(0)

    public init() {}

    @inlinable
    public func increment(by amount: Int = 1) {
        add(UInt64(amount))
    }

    @usableFromInline
    func add(_ amount: UInt64) {
        atomic.wrappingAdd(amount, ordering: .relaxed)
    }

    public var value: UInt64 { atomic.load(ordering: .relaxed) }
}

/// A value that goes up and down, safe to set from any thread.
public final class Gauge: Sendable {
    private let atomic = Atomic<Int64>(0)

    public init() {}

    public func set(_ value: Int) { atomic.store(Int64(value), ordering: .relaxed) }

    public func add(_ delta: Int) { atomic.wrappingAdd(Int64(delta), ordering: .relaxed) }

    public var value: Int64 { atomic.load(ordering: .relaxed) }
}

/// Petrel's own metrics, rendered in the Prometheus text format at `/metrics`.
///
/// Handles are created once per component and kept; nothing is looked up per event.
public final class TelemetryRegistry: Sendable {
    private enum Metric {
        case counter(Counter)
        case gauge(Gauge)
        case histogram(Histogram)
    }

    private struct Family {
        var type: String
        var help: String
        var series: [String: Metric] = [:]
    }

    private let families = Mutex<[String: Family]>([:])
    /// The tap points of every component's outputs (`/tap`).
    public let taps = TapHub()
    /// The running components with their telemetry (`/components`).
    public let catalog = ComponentCatalog()
    /// The scrape targets of `prometheus_scrape` sources, which the API serves at `/targets`.
    public let scrapeTargets = ScrapeTargetStatus()

    public init() {}

    /// The counter with this name and labels, created on first use.
    public func counter(_ name: String, help: String, labels: [(String, String)] = []) -> Counter {
        let key = Self.labelText(labels)
        return families.withLock { families in
            if case .counter(let counter) = families[name]?.series[key] { return counter }
            let counter = Counter()
            families[name, default: Family(type: "counter", help: help)].series[key] = .counter(counter)
            return counter
        }
    }

    /// The gauge with this name and labels, created on first use.
    public func gauge(_ name: String, help: String, labels: [(String, String)] = []) -> Gauge {
        let key = Self.labelText(labels)
        return families.withLock { families in
            if case .gauge(let gauge) = families[name]?.series[key] { return gauge }
            let gauge = Gauge()
            families[name, default: Family(type: "gauge", help: help)].series[key] = .gauge(gauge)
            return gauge
        }
    }

    /// The histogram with this name and labels, created on first use with `upperBounds`.
    public func histogram(
        _ name: String, help: String, labels: [(String, String)] = [],
        upperBounds: [Double] = Histogram.defaultDurationBounds
    ) -> Histogram {
        let key = Self.labelText(labels)
        return families.withLock { families in
            if case .histogram(let histogram) = families[name]?.series[key] { return histogram }
            let histogram = Histogram(upperBounds: upperBounds)
            families[name, default: Family(type: "histogram", help: help)].series[key] = .histogram(histogram)
            return histogram
        }
    }

    /// Every metric in the Prometheus text exposition format 0.0.4, sorted for stable output.
    public func render() -> String {
        let snapshot = families.withLock { $0 }
        var text = ""
        for name in snapshot.keys.sorted() {
            let family = snapshot[name]!
            text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.type)\n"
            for key in family.series.keys.sorted() {
                switch family.series[key]! {
                case .counter(let counter): text += "\(name)\(key) \(counter.value)\n"
                case .gauge(let gauge): text += "\(name)\(key) \(gauge.value)\n"
                case .histogram(let histogram): Self.render(histogram, name: name, labels: key, to: &text)
                }
            }
        }
        return text
    }

    /// A histogram's `_bucket` series (cumulative, `le` last among the labels), `_sum` and `_count`.
    private static func render(_ histogram: Histogram, name: String, labels: String, to text: inout String) {
        let counts = histogram.cumulativeCounts
        // `{a="b"}` becomes `{a="b",le="…"}`; no labels becomes `{le="…"}`.
        let prefix = labels.isEmpty ? "{" : String(labels.dropLast()) + ","
        for (bound, count) in zip(histogram.upperBounds.map(formatBound) + ["+Inf"], counts) {
            text += "\(name)_bucket\(prefix)le=\"\(bound)\"} \(count)\n"
        }
        text += "\(name)_sum\(labels) \(formatBound(histogram.sum))\n"
        text += "\(name)_count\(labels) \(counts.last ?? 0)\n"
    }

    /// A float as Prometheus' client libraries write one: `0.005`, `1`, `2.5`, `10`.
    static func formatBound(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// The value of one metric, for tests and the benchmark harness; a histogram's is its count.
    public func value(_ name: String, labels: [(String, String)] = []) -> Int64? {
        let key = Self.labelText(labels)
        return families.withLock { families in
            switch families[name]?.series[key] {
            case .counter(let counter): Int64(counter.value)
            case .gauge(let gauge): gauge.value
            case .histogram(let histogram): Int64(histogram.count)
            case nil: nil
            }
        }
    }

    private static func labelText(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        let pairs = labels.map { name, value in "\(name)=\"\(escape(value))\"" }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    private static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
