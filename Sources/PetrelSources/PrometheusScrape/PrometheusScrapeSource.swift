import Foundation
import Logging
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Scrapes Prometheus exporters as Prometheus does, from a pasted `scrape_configs`, and emits one metric batch per
/// scrape: the samples with their target's labels, staleness markers, and the synthetic series (`up`, ...).
///
/// ```yaml
/// sources:
///   scrape:
///     type: prometheus_scrape
///     scrape_interval: 15s
///     scrape_configs:
///       - job_name: node
///         static_configs: [{ targets: ["localhost:9100"] }]
/// ```
///
/// Each target has its own loop, started at an offset within the interval taken from a hash of the target (as
/// Prometheus spreads them); a scrape's batch is sent with `Output.send`, so a full pipeline delays the next scrape
/// rather than piling batches up. Targets and their health are on the API at `/targets`.
public struct PrometheusScrapeSource: Source {
    public let config: PrometheusScrapeSourceConfig

    public init(config: PrometheusScrapeSourceConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "prometheus_scrape", kind: .source) { reader, _ in
        let config = PrometheusScrapeSourceConfig(from: reader, environment: ProcessInfo.processInfo.environment)
        return .source(PrometheusScrapeSource(config: config), emits: .metrics)
    }

    public func run(_ context: SourceContext) async throws {
        context.markReady()
        await withTaskGroup(of: Void.self) { group in
            for job in config.jobs {
                group.addTask {
                    await ScrapeJobRunner(job: job, config: config, context: context).run()
                }
            }
            group.addTask { await context.shutdown.wait() }
            // The shutdown waiter is the first to finish unless there is no job at all.
            await group.next()
            group.cancelAll()
        }
    }
}

/// One `scrape_config`: discovers its targets, keeps a loop running per target, and ends the loops of targets that
/// went away with staleness markers.
struct ScrapeJobRunner: Sendable {
    let job: ScrapeJobConfig
    let config: PrometheusScrapeSourceConfig
    let context: SourceContext

    private struct Running {
        var target: ScrapeTarget
        var task: Task<ScrapeLoop.Ending, Never>
    }

    func run() async {
        let logger = context.logger
        var tls: ReloadingClientTLS?
        if job.scheme == "https" {
            do {
                tls = try ReloadingClientTLS(job.tls, logger: logger)
            } catch {
                // The configuration reader checked the files; they went away since.
                logger.error("cannot use tls_config", metadata: ["job": "\(job.jobName)", "error": "\(error)"])
                return
            }
        }
        let client = HTTPEndpointClient(
            origin: HTTPEndpoint(
                host: "localhost", port: tls == nil ? 80 : 443, target: "/", usesTLS: tls != nil),
            connections: 4, timeout: job.scrapeTimeout, tls: tls, serverName: job.tls.serverName)
        var rules: RelabelRules
        var metricRules: RelabelRules?
        do {
            rules = try RelabelRules(job.relabelConfigs)
            metricRules = job.metricRelabelConfigs.isEmpty ? nil : try RelabelRules(job.metricRelabelConfigs)
        } catch {
            // The configuration reader compiled the same rules.
            logger.error("cannot compile relabel rules", metadata: ["job": "\(job.jobName)", "error": "\(error)"])
            await client.shutdown()
            return
        }
        var fileDiscoveries = job.fileDiscovery.map(FileTargetDiscovery.init)
        let staticGroups = job.staticConfigs.map { group in
            TargetGroup(
                targets: group.targets.map { ["__address__": $0] },
                labels: Dictionary(group.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }))
        }
        var kubernetes: [KubernetesTargetDiscovery] = []
        for discovery in job.kubernetesDiscovery {
            do {
                kubernetes.append(try KubernetesTargetDiscovery(discovery, logger: logger))
            } catch {
                logger.error("cannot use the Kubernetes API's ca_file", metadata: ["error": "\(error)"])
            }
        }
        let watchers = kubernetes.map { discovery in Task { await discovery.run() } }
        var kubernetesVersions = kubernetes.map { _ in -1 }
        var running: [String: Running] = [:]
        var first = true
        while !Task.isCancelled {
            var groups = staticGroups
            var changed = first
            for (index, discovery) in kubernetes.enumerated() {
                let current = discovery.current
                groups += current.groups
                if current.version != kubernetesVersions[index] {
                    kubernetesVersions[index] = current.version
                    changed = true
                }
            }
            for index in fileDiscoveries.indices {
                let refreshed = fileDiscoveries[index].refresh()
                groups += refreshed.groups
                changed = changed || refreshed.changed
                for problem in refreshed.problems where refreshed.changed || first {
                    logger.warning("file_sd_configs", metadata: ["job": "\(job.jobName)", "problem": "\(problem)"])
                }
            }
            first = false
            if changed {
                let targets = ScrapeTarget.make(groups: groups, job: job, rules: &rules)
                let keys = Set(targets.map(\.key))
                for (key, old) in running where !keys.contains(key) {
                    running[key] = nil
                    old.task.cancel()
                    let ending = await old.task.value
                    context.telemetry.registry.scrapeTargets.remove(source: context.id, key: key)
                    if let stale = ending.staleMarkers, stale.seriesCount > 0 {
                        try? await context.output.send(.metrics(stale))
                    }
                    logger.info("target gone", metadata: ["job": "\(job.jobName)", "target": "\(old.target.endpoint)"])
                }
                for target in targets where running[target.key] == nil {
                    let loop = ScrapeLoop(
                        target: target, job: job, scraper: TargetScraper(job: job, client: client),
                        assembler: ScrapeAssembler(target: target, job: job, metricRules: metricRules),
                        context: context)
                    running[target.key] = Running(target: target, task: Task { await loop.run() })
                }
            }
            if fileDiscoveries.isEmpty && kubernetes.isEmpty {
                await context.shutdown.wait()
                break
            }
            try? await Task.sleep(for: config.fileCheckInterval)
        }
        for entry in running.values { entry.task.cancel() }
        for entry in running.values { _ = await entry.task.value }
        for watcher in watchers { watcher.cancel() }
        for watcher in watchers { await watcher.value }
        await client.shutdown()
    }
}

/// One target's scrapes, every `scrape_interval` at the target's offset, until the task is cancelled.
struct ScrapeLoop: Sendable {
    /// What a loop leaves when it ends: the staleness markers for everything it last sent.
    struct Ending: Sendable {
        var staleMarkers: MetricBatch?
    }

    let target: ScrapeTarget
    let job: ScrapeJobConfig
    let scraper: TargetScraper
    let assembler: ScrapeAssembler
    let context: SourceContext

    func run() async -> Ending {
        var assembler = self.assembler
        let board = context.telemetry.registry.scrapeTargets
        let interval = job.scrapeInterval
        var status = ScrapeTargetStatus.Target(
            job: job.jobName, url: target.endpoint.description, labels: target.labels.map { ($0.name, $0.value) },
            scrapeIntervalSeconds: ScrapeSeconds.value(interval))
        board.update(source: context.id, key: target.key, status)
        let clock = ContinuousClock()
        var next = clock.now + Self.offset(hash: target.hash, interval: interval)
        while true {
            do {
                try await Task.sleep(until: next, clock: clock)
            } catch {
                break
            }
            let started = clock.now
            let timestamp = WallClock.nowNanoseconds() / 1_000_000
            let batch: MetricBatch
            let report: ScrapeAssembler.Report
            var wireBytes = 0
            do {
                let exposition = try await scraper.scrape(target)
                wireBytes = exposition.wireBytes
                let parser = ExpositionParser(
                    format: exposition.format, defaultTimestamp: timestamp, honorTimestamps: job.honorTimestamps)
                let parsed = try parser.parse(exposition.body)
                (batch, report) = assembler.assemble(
                    scraped: parsed, timestamp: timestamp, duration: ScrapeSeconds.value(clock.now - started))
            } catch {
                if Task.isCancelled { break }
                (batch, report) = assembler.failed(
                    "\(error)", timestamp: timestamp, duration: ScrapeSeconds.value(clock.now - started))
                context.telemetry.error(.receiving)
            }
            context.telemetry.receivedBytes.increment(by: wireBytes)
            context.telemetry.receivedEvents.increment(by: report.samplesScraped)
            status.health = report.up ? "up" : "down"
            status.lastError = report.error ?? ""
            status.lastScrapeMilliseconds = timestamp
            status.lastScrapeDurationSeconds = ScrapeSeconds.value(clock.now - started)
            status.samplesScraped = report.samplesScraped
            board.update(source: context.id, key: target.key, status)
            if let error = report.error {
                context.logger.debug(
                    "scrape failed", metadata: ["target": "\(target.endpoint)", "error": "\(error)"])
            }
            do {
                try await context.output.send(.metrics(batch))
            } catch {
                break
            }
            // A scrape that overran its interval skips the ticks it missed rather than scraping in a burst.
            next = next + interval
            let now = clock.now
            while next <= now { next = next + interval }
        }
        guard !context.shutdown.isTriggered else { return Ending(staleMarkers: nil) }
        return Ending(staleMarkers: assembler.ended(timestamp: WallClock.nowNanoseconds() / 1_000_000))
    }

    /// Prometheus' `offset`: the target scrapes at `hash mod interval` past each multiple of the interval on the
    /// wall clock, so that every agent with the same targets spreads them the same way.
    static func offset(hash: UInt64, interval: Duration) -> Duration {
        let intervalNanoseconds = UInt64(max(1, ScrapeSeconds.value(interval) * 1e9))
        let now = UInt64(max(0, WallClock.nowNanoseconds()))
        let base = intervalNanoseconds - now % intervalNanoseconds
        var next = base + hash % intervalNanoseconds
        if next > intervalNanoseconds { next -= intervalNanoseconds }
        return .nanoseconds(Int64(next))
    }
}
