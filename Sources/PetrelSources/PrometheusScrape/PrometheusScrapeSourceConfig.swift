import PetrelCore

/// Settings of the `prometheus_scrape` source: Prometheus `scrape_configs`, with the global interval and timeout
/// that jobs without their own take.
public struct PrometheusScrapeSourceConfig: Sendable {
    /// Prometheus' `global.scrape_interval`.
    public var scrapeInterval: Duration = .seconds(60)
    /// Prometheus' `global.scrape_timeout`.
    public var scrapeTimeout: Duration = .seconds(10)
    public var jobs: [ScrapeJobConfig] = []
    /// How often `file_sd_configs` files are looked at for changes.
    public var fileCheckInterval: Duration = .seconds(1)

    public init(jobs: [ScrapeJobConfig] = []) {
        self.jobs = jobs
    }

    /// `environment` gives `kubernetes_sd_configs` the in-cluster API server (`KUBERNETES_SERVICE_HOST`).
    public init(from reader: ConfigReader, environment: [String: String]) {
        scrapeInterval = reader.duration("scrape_interval", default: scrapeInterval)
        scrapeTimeout = reader.duration("scrape_timeout", default: scrapeTimeout)
        fileCheckInterval = reader.duration("file_sd_check_interval", default: fileCheckInterval)
        guard let sections = reader.sectionList("scrape_configs") else {
            _ = reader.requiredString("scrape_configs")
            return
        }
        if sections.isEmpty { reader.error("scrape_configs", "needs at least one scrape config") }
        var names: Set<String> = []
        for section in sections {
            guard
                let job = ScrapeJobConfig.parse(
                    section, defaultInterval: scrapeInterval, defaultTimeout: scrapeTimeout, environment: environment)
            else { continue }
            if !names.insert(job.jobName).inserted {
                section.error("job_name", "found multiple scrape configs with job name \"\(job.jobName)\"")
            }
            for (index, rule) in job.relabelConfigs.enumerated() {
                do { _ = try RelabelRules([rule]) } catch {
                    section.error("relabel_configs", "relabel_configs[\(index)]: \(error.problem)")
                }
            }
            jobs.append(job)
        }
    }
}
