import ArgumentParser
import Foundation
import Histogram
import PetrelBench
import PetrelNet

/// `petrel bench`: a load generator for Petrel and its peers (vmagent, the Collector): remote-write, OTLP spans or
/// OTLP logs, as fast as the target accepts or at a fixed rate, with a summary of what it accepted and how fast.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Send load to a remote-write or OTLP/HTTP endpoint and report accepted events/s and latency.")

    enum Load: String, ExpressibleByArgument, CaseIterable {
        case remoteWrite = "remote-write"
        case otlpTraces = "otlp-traces"
        case otlpLogs = "otlp-logs"
    }

    @Argument(help: "remote-write, otlp-traces or otlp-logs.")
    var load: Load

    @Option(help: "Where to send: http://host:port/api/v1/write, or http://host:port/v1/traces (or /v1/logs).")
    var url: String

    @Option(help: "Concurrent keep-alive connections.")
    var connections = 4

    @Option(help: "How long to send, in seconds.")
    var duration = 30.0

    @Option(help: "Events (samples, spans, records) per second to offer; 0 for as fast as the target accepts.")
    var rate = 0.0

    @Option(help: "Seed of the generated data.")
    var seed: UInt64 = 1

    @Option(help: "remote-write: distinct series per scrape round.")
    var series = 10_000

    @Option(help: "remote-write: labels per series, __name__ included.")
    var labels = 10

    @Option(help: "remote-write: series per request.")
    var seriesPerRequest = 1000

    @Option(help: "remote-write: samples per series in a request.")
    var samplesPerSeries = 1

    @Option(help: "remote-write: fraction of series replaced by new ones each round (0...1).")
    var churn = 0.0

    @Option(help: "remote-write: protocol 1 or 2.")
    var protocolVersion = 1

    @Option(help: "otlp: spans or log records per request.")
    var eventsPerRequest = 1000

    @Option(help: "otlp: attributes per span or record.")
    var attributes = 8

    @Flag(help: "Print the summary as one JSON object instead of text.")
    var json = false

    @Flag(help: "No progress lines while the load runs.")
    var quiet = false

    func validate() throws {
        guard case .success = HTTPEndpoint.parse(url) else { throw ValidationError("invalid --url \"\(url)\"") }
        guard connections > 0, duration > 0, rate >= 0 else {
            throw ValidationError("--connections and --duration must be positive, --rate not negative")
        }
        guard (0...1).contains(churn) else { throw ValidationError("--churn is a fraction between 0 and 1") }
        guard labels >= 3, series > 0, seriesPerRequest > 0, samplesPerSeries > 0, eventsPerRequest > 0 else {
            throw ValidationError("--labels is at least 3; counts are positive")
        }
    }

    func run() async throws {
        guard case .success(let endpoint) = HTTPEndpoint.parse(url) else { throw ExitCode(2) }
        let profile: LoadProfile
        switch load {
        case .remoteWrite:
            var options = LoadProfile.RemoteWrite()
            options.series = series
            options.labelsPerSeries = labels
            options.seriesPerRequest = seriesPerRequest
            options.samplesPerSeries = samplesPerSeries
            options.churn = churn
            options.seed = seed
            options.version = protocolVersion
            profile = LoadProfile.remoteWrite(options)
        case .otlpTraces, .otlpLogs:
            var options = LoadProfile.OTLP()
            options.eventsPerRequest = eventsPerRequest
            options.attributes = attributes
            options.seed = seed
            profile = load == .otlpTraces ? LoadProfile.otlpTraces(options) : LoadProfile.otlpLogs(options)
        }
        let runner = LoadRunner(
            endpoint: endpoint, connections: connections, duration: .milliseconds(Int(duration * 1000)),
            rate: rate > 0 ? rate : nil)
        let progress = LoadRunner.Progress()
        let reporter = Task {
            guard !quiet else { return }
            var previous = 0
            var second = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                second += 1
                let accepted = progress.acceptedEvents
                print(
                    "\(second)s: \(accepted - previous) \(profile.unit)/s accepted, "
                        + "\(progress.requests) requests, \(progress.failures) not accepted",
                    to: &standardError)
                previous = accepted
            }
        }
        let summary = await runner.run(profile, progress: progress)
        reporter.cancel()
        print(json ? jsonSummary(summary, unit: profile.unit) : textSummary(summary, unit: profile.unit))
        if summary.acceptedRequests == 0 { throw ExitCode(1) }
    }

    private func milliseconds(_ histogram: Histogram<UInt64>, _ percentile: Double) -> Double {
        Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    private func textSummary(_ summary: LoadRunner.Summary, unit: String) -> String {
        let statuses = summary.statuses.sorted { $0.key < $1.key }
            .map { "\($0.key == 0 ? "no answer" : String($0.key)): \($0.value)" }.joined(separator: ", ")
        let latency = summary.latency
        return """
            \(load.rawValue) to \(url), \(connections) connections, \(rate > 0 ? "\(Int(rate)) \(unit)/s offered" : "as fast as accepted")
            requests: \(summary.requests) (\(statuses))
            accepted: \(summary.acceptedEvents) \(unit), \(Int(summary.acceptedEventsPerSecond.rounded())) \(unit)/s
            latency ms: p50 \(milliseconds(latency, 50)), p90 \(milliseconds(latency, 90)), \
            p99 \(milliseconds(latency, 99)), p99.9 \(milliseconds(latency, 99.9)), max \(Double(latency.max) / 1000)
            """
    }

    private func jsonSummary(_ summary: LoadRunner.Summary, unit: String) -> String {
        let latency = summary.latency
        let object: [String: Any] = [
            "load": load.rawValue, "url": url, "connections": connections, "offered_rate": rate, "unit": unit,
            "elapsed_seconds": summary.elapsedSeconds,
            "requests": summary.requests, "accepted_requests": summary.acceptedRequests,
            "accepted_events": summary.acceptedEvents, "accepted_events_per_second": summary.acceptedEventsPerSecond,
            "statuses": Dictionary(uniqueKeysWithValues: summary.statuses.map { (String($0.key), $0.value) }),
            "latency_ms": [
                "p50": milliseconds(latency, 50), "p90": milliseconds(latency, 90), "p99": milliseconds(latency, 99),
                "p99_9": milliseconds(latency, 99.9), "max": Double(latency.max) / 1000,
            ],
        ]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

nonisolated(unsafe) private var standardError = StandardError()
