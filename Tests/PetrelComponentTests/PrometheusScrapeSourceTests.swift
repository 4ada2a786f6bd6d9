import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet
import Synchronization
import Testing

@testable import PetrelSources

/// The `prometheus_scrape` source: its Prometheus-shaped configuration, target labels, what each scrape sends
/// (labels, relabeling, limits, staleness, synthetic series), and a run against a real HTTP target.
@Suite struct PrometheusScrapeSourceTests {
    private func build(_ node: ConfigNode) -> ComponentBuildOutcome {
        buildComponent(PrometheusScrapeSource.definition, at: "sources.scrape", node)
    }

    private func config(_ node: ConfigNode) throws -> PrometheusScrapeSourceConfig {
        let outcome = build(node)
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        guard case .source(let source as PrometheusScrapeSource, _) = try #require(outcome.built) else {
            throw TestSupportFailure("not a prometheus_scrape source")
        }
        return source.config
    }

    struct TestSupportFailure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    // MARK: Configuration

    @Test func readsAPastedPrometheusScrapeConfig() throws {
        let config = try config(
            componentConfig([
                "scrape_interval": "30s",
                "scrape_configs": [
                    [
                        "job_name": "node",
                        "scrape_interval": "5s",
                        "scrape_timeout": "2s",
                        "metrics_path": "/probe",
                        "scheme": "http",
                        "params": ["module": ["http_2xx"]],
                        "honor_labels": true,
                        "honor_timestamps": false,
                        "sample_limit": 1000,
                        "label_limit": 30,
                        "body_size_limit": "10MiB",
                        "basic_auth": ["username": "u", "password": "p"],
                        "static_configs": [["targets": ["a:9100", "b:9100"], "labels": ["env": "prod"]]],
                        "file_sd_configs": [["files": ["/etc/targets/*.json"], "refresh_interval": "1m"]],
                        "relabel_configs": [["source_labels": ["__address__"], "target_label": "host"]],
                        "metric_relabel_configs": [
                            ["regex": "go_.*", "source_labels": ["__name__"], "action": "drop"]
                        ],
                    ],
                    ["job_name": "self", "static_configs": [["targets": ["localhost:8686"]]]],
                ],
            ]))
        #expect(config.jobs.count == 2)
        let node = config.jobs[0]
        #expect(node.jobName == "node" && node.scrapeInterval == .seconds(5) && node.scrapeTimeout == .seconds(2))
        #expect(node.metricsPath == "/probe" && node.params.map(\.name) == ["module"])
        #expect(node.honorLabels && !node.honorTimestamps)
        #expect(node.sampleLimit == 1000 && node.labelLimit == 30 && node.bodySizeLimit == 10 * 1024 * 1024)
        #expect(node.staticConfigs.first?.targets == ["a:9100", "b:9100"])
        #expect(node.fileDiscovery.first?.refreshInterval == .seconds(60))
        #expect(node.relabelConfigs.count == 1 && node.metricRelabelConfigs.first?.action == .drop)
        #expect(node.authorizationHeader() == "Basic dTpw")
        // The global interval, and a timeout no longer than it.
        #expect(config.jobs[1].scrapeInterval == .seconds(30) && config.jobs[1].scrapeTimeout == .seconds(10))
    }

    @Test func reportsErrorsWithTheirKeys() {
        let outcome = build(
            componentConfig([
                "scrape_configs": [
                    [
                        "job_name": "a", "scrape_interval": "1s", "scrape_timeout": "2s",
                        "static_configs": [["targets": ["http://a:1/metrics"]]], "scheme": "ftp",
                        "relabel_configs": [["action": "explode"]], "follow_redirect": true,
                    ],
                    ["job_name": "b"],
                    ["job_name": "b"],
                ]
            ]))
        #expect(
            outcome.errors == [
                "petrel.yaml: sources.scrape.scrape_configs[0].scrape_timeout: scrape timeout greater than scrape interval for scrape config with job name \"a\"",
                "petrel.yaml: sources.scrape.scrape_configs[0].scheme: expected http or https, found \"ftp\"",
                "petrel.yaml: sources.scrape.scrape_configs[0].relabel_configs[0].action: unknown relabel action \"explode\"; expected one of replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase",
                "petrel.yaml: sources.scrape.scrape_configs[0].static_configs[0].targets: targets[0]: \"http://a:1/metrics\" is not a host:port address",
                "petrel.yaml: sources.scrape.scrape_configs[0].follow_redirect: unknown key",
                "petrel.yaml: sources.scrape.scrape_configs[2].job_name: found multiple scrape configs with job name \"b\"",
            ])
    }

    // MARK: Targets

    @Test func targetLabelsAreMadeAsPrometheusMakesThem() throws {
        var job = ScrapeJobConfig(jobName: "node", scrapeInterval: .seconds(15))
        job.params = [("module", ["a", "b"])]
        job.relabelConfigs = [
            RelabelRuleConfig(sourceLabels: ["__address__"], regex: "([^:]+).*", targetLabel: "host"),
            RelabelRuleConfig(sourceLabels: ["team"], regex: "drop-me", action: .drop),
            RelabelRuleConfig(sourceLabels: ["__meta_x"], targetLabel: "__param_module"),
        ]
        var rules = try RelabelRules(job.relabelConfigs)
        let groups = [
            TargetGroup(
                targets: [["__address__": "10.0.0.1"], ["__address__": "10.0.0.2:9100", "team": "drop-me"]],
                labels: ["team": "infra", "__meta_x": "icmp", "empty": ""])
        ]
        let targets = ScrapeTarget.make(groups: groups, job: job, rules: &rules)
        #expect(targets.count == 1)
        let target = try #require(targets.first)
        // The default port joins the address; `instance` is the address; `__` labels are gone; params follow labels.
        #expect(target.endpoint.description == "http://10.0.0.1:80/metrics?module=icmp&module=b")
        #expect(
            target.labels.map { "\($0.name)=\($0.value)" } == [
                "host=10.0.0.1", "instance=10.0.0.1:80", "job=node", "team=infra",
            ])
        #expect(ScrapeDurationText.format(.seconds(90)) == "1m30s")
    }

    // MARK: Scrapes

    private static let target = ScrapeTarget(
        job: "node", endpoint: HTTPEndpoint(host: "h", port: 1, target: "/metrics"),
        labels: [.init(name: "instance", value: "h:1"), .init(name: "job", value: "node")])

    private static func parse(_ text: String, at time: Int64) throws -> MetricBatch {
        try ExpositionParser(format: .prometheusText, defaultTimestamp: time).parse(Array(text.utf8))
    }

    private static func lines(_ batch: MetricBatch) -> [String] {
        batch.series.indices.map { index in
            let labels = batch.labelPairs(of: index).map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            let value = batch.samples(of: index).first!.value
            let shown = value.bitPattern == ExpositionParser.staleNaNBits ? "stale" : "\(value)"
            return "\(labels) \(shown)"
        }
    }

    @Test func eachScrapeCarriesTargetLabelsStalenessAndSyntheticSeries() throws {
        var job = ScrapeJobConfig(jobName: "node")
        job.metricRelabelConfigs = [RelabelRuleConfig(sourceLabels: ["__name__"], regex: "dropped", action: .drop)]
        var assembler = ScrapeAssembler(
            target: Self.target, job: job, metricRules: try RelabelRules(job.metricRelabelConfigs))
        let first = try Self.parse("a{job=\"app\"} 1\nb 2\ndropped 3\n", at: 1000)
        let (batch, report) = assembler.assemble(scraped: first, timestamp: 1000, duration: 0.5)
        #expect(report == .init(up: true, samplesScraped: 3, samplesPostRelabeling: 2, seriesAdded: 2))
        #expect(
            Self.lines(batch) == [
                "__name__=a,exported_job=app,instance=h:1,job=node 1.0",
                "__name__=b,instance=h:1,job=node 2.0",
                "__name__=up,instance=h:1,job=node 1.0",
                "__name__=scrape_duration_seconds,instance=h:1,job=node 0.5",
                "__name__=scrape_samples_scraped,instance=h:1,job=node 3.0",
                "__name__=scrape_samples_post_metric_relabeling,instance=h:1,job=node 2.0",
                "__name__=scrape_series_added,instance=h:1,job=node 2.0",
            ])
        // `b` went away, `c` came: `b` gets a stale marker.
        let second = try Self.parse("a{job=\"app\"} 5\nc 6\n", at: 2000)
        let (next, nextReport) = assembler.assemble(scraped: second, timestamp: 2000, duration: 0.25)
        #expect(nextReport.seriesAdded == 1)
        #expect(
            Array(Self.lines(next).prefix(3)) == [
                "__name__=a,exported_job=app,instance=h:1,job=node 5.0",
                "__name__=c,instance=h:1,job=node 6.0",
                "__name__=b,instance=h:1,job=node stale",
            ])
        #expect(next.samples.allSatisfy { $0.timestamp == 2000 })
        // A failed scrape: `up` 0 and everything stale.
        let (failed, failedReport) = assembler.failed("connection refused", timestamp: 3000, duration: 0.1)
        #expect(failedReport.up == false && failedReport.error == "connection refused")
        #expect(
            Array(Self.lines(failed).prefix(3)) == [
                "__name__=a,exported_job=app,instance=h:1,job=node stale",
                "__name__=c,instance=h:1,job=node stale",
                "__name__=up,instance=h:1,job=node 0.0",
            ])
        // After a failure, nothing is left to mark when the target goes.
        #expect(Self.lines(assembler.ended(timestamp: 4000)).count == 5)
    }

    @Test func honorLabelsKeepsScrapedLabelsAndLimitsFailTheScrape() throws {
        var job = ScrapeJobConfig(jobName: "node")
        job.honorLabels = true
        job.sampleLimit = 1
        var assembler = ScrapeAssembler(target: Self.target, job: job, metricRules: nil)
        let (batch, _) = assembler.assemble(
            scraped: try Self.parse("a{job=\"app\"} 1\n", at: 1), timestamp: 1, duration: 0)
        #expect(Self.lines(batch).first == "__name__=a,instance=h:1,job=app 1.0")
        let (limited, report) = assembler.assemble(
            scraped: try Self.parse("a 1\nb 2\n", at: 2), timestamp: 2, duration: 0)
        #expect(report.up == false && report.error == "sample limit exceeded: 2 samples, the limit is 1")
        #expect(Self.lines(limited).first == "__name__=a,instance=h:1,job=app stale")
    }

    // MARK: File discovery

    @Test func fileDiscoveryReadsGroupsAndNoticesChanges() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-filesd-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("targets.json")
        try #"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}]"#.write(
            to: file, atomically: true, encoding: .utf8)
        var discovery = FileTargetDiscovery(.init(files: [directory.path + "/*.json"]))
        let first = discovery.refresh()
        #expect(first.changed && first.problems.isEmpty)
        #expect(first.groups.first?.targets == [["__address__": "a:1"], ["__address__": "b:2"]])
        #expect(first.groups.first?.labels == ["env": "prod", "__meta_filepath": file.path])
        #expect(discovery.refresh().changed == false)
        try "- targets: [c:3]\n".write(to: file, atomically: true, encoding: .utf8)
        let second = discovery.refresh()
        #expect(second.changed && second.groups.first?.targets == [["__address__": "c:3"]])
        try "{not a list".write(to: file, atomically: true, encoding: .utf8)
        let broken = discovery.refresh()
        #expect(broken.problems.count == 1 && broken.groups.first?.targets == [["__address__": "c:3"]])
    }

    // MARK: A real target

    /// A target served over HTTP: OpenMetrics, gzip; then removed from the file, which ends its series.
    @Test func scrapesARealTargetAndEndsItsSeriesWhenItGoes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-scrape-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let exposition = Array("# TYPE requests counter\nrequests_total{code=\"200\"} 7\n# EOF\n".utf8)
        let seenAccept = Mutex<String?>(nil)
        let serverShutdown = ShutdownSignal()
        let server = HTTPIngestServer(
            settings: HTTPServerSettings(host: "127.0.0.1", port: 0, maxBodySize: 1024),
            logger: Logger(label: "test.target")
        ) { request in
            seenAccept.withLock { $0 = request.headers.first(name: "Accept") }
            return HTTPIngestResponse(
                status: .ok,
                headers: [
                    "Content-Type": "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    "Content-Encoding": "gzip",
                ], body: Zlib.compress(exposition, format: .gzip))
        }
        let port = Atomic<Int>(0)
        let serverTask = Task { try await server.run(shutdown: serverShutdown) { port.store($0, ordering: .relaxed) } }
        #expect(await componentEventually { port.load(ordering: .relaxed) != 0 })
        let file = directory.appendingPathComponent("targets.yml")
        try "- targets: [\"127.0.0.1:\(port.load(ordering: .relaxed))\"]\n".write(
            to: file, atomically: true, encoding: .utf8)

        // Wide margins: a loaded machine must not turn a slow answer into a failed scrape.
        var job = ScrapeJobConfig(jobName: "app", scrapeInterval: .seconds(3), scrapeTimeout: .seconds(3))
        job.fileDiscovery = [.init(files: [file.path])]
        var config = PrometheusScrapeSourceConfig(jobs: [job])
        config.fileCheckInterval = .milliseconds(50)
        let queue = BatchQueue(capacity: 64, producers: 1)
        let registry = TelemetryRegistry()
        let telemetry = ComponentTelemetry(id: "scrape", type: "prometheus_scrape", kind: .source, registry: registry)
        let shutdown = ShutdownSignal()
        let context = SourceContext(
            id: "scrape", output: Output(edges: [.init(queue: queue, accepts: .all)], telemetry: telemetry),
            telemetry: telemetry, logger: Logger(label: "test.scrape"), shutdown: shutdown, onReady: {})
        let sourceTask = Task { try await PrometheusScrapeSource(config: config).run(context) }

        guard case .metrics(let batch) = await queue.nextBatch() else {
            Issue.record("no metrics batch")
            return
        }
        let instance = "127.0.0.1:\(port.load(ordering: .relaxed))"
        #expect(
            Self.lines(batch) == [
                "__name__=requests_total,code=200,instance=\(instance),job=app 7.0",
                "__name__=up,instance=\(instance),job=app 1.0",
                "__name__=scrape_duration_seconds,instance=\(instance),job=app \(batch.samples[2].value)",
                "__name__=scrape_samples_scraped,instance=\(instance),job=app 1.0",
                "__name__=scrape_samples_post_metric_relabeling,instance=\(instance),job=app 1.0",
                "__name__=scrape_series_added,instance=\(instance),job=app 1.0",
            ])
        #expect(seenAccept.withLock { $0 } == ExpositionFormat.acceptHeader)
        #expect(registry.scrapeTargets.renderJSON().contains("\"health\":\"up\""))

        // The target leaves the file: its series and the synthetic ones get stale markers, once.
        try "[]\n".write(to: file, atomically: true, encoding: .utf8)
        var ended: MetricBatch?
        while case .metrics(let next) = await queue.nextBatch() {
            if next.samples.allSatisfy({ $0.value.bitPattern == ExpositionParser.staleNaNBits }) {
                ended = next
                break
            }
        }
        let stale = try #require(ended)
        #expect(
            Self.lines(stale).map { $0.split(separator: ",").first! } == [
                "__name__=requests_total", "__name__=up", "__name__=scrape_duration_seconds",
                "__name__=scrape_samples_scraped", "__name__=scrape_samples_post_metric_relabeling",
                "__name__=scrape_series_added",
            ])
        #expect(await componentEventually { registry.scrapeTargets.targets.isEmpty })

        shutdown.trigger()
        try await sourceTask.value
        serverShutdown.trigger()
        try await serverTask.value
    }
}
