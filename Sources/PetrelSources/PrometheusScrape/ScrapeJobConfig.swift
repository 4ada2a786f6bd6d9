import PetrelCodecs
import PetrelCore
import PetrelNet

/// One Prometheus `scrape_config`, read in Prometheus' own YAML shape so a user can paste theirs.
public struct ScrapeJobConfig: Sendable {
    /// One `static_configs` entry: addresses and the labels they share.
    public struct StaticTargets: Sendable {
        public var targets: [String]
        public var labels: [(name: String, value: String)]

        public init(targets: [String], labels: [(name: String, value: String)] = []) {
            self.targets = targets
            self.labels = labels
        }
    }

    /// One `file_sd_configs` entry: files (globs in the last path element) of target groups, re-read on change.
    public struct FileDiscovery: Sendable {
        public var files: [String]
        public var refreshInterval: Duration

        public init(files: [String], refreshInterval: Duration = .seconds(300)) {
            self.files = files
            self.refreshInterval = refreshInterval
        }
    }

    /// `basic_auth`.
    public struct BasicAuth: Sendable {
        public var username: String
        public var password: String?
        public var passwordFile: String?
    }

    /// `authorization`: a type (`Bearer` by default) and credentials, inline or from a file.
    public struct Authorization: Sendable {
        public var type: String
        public var credentials: String?
        public var credentialsFile: String?
    }

    public var jobName: String
    public var scrapeInterval: Duration
    public var scrapeTimeout: Duration
    public var metricsPath = "/metrics"
    public var scheme = "http"
    public var params: [(name: String, values: [String])] = []
    public var honorLabels = false
    public var honorTimestamps = true
    /// Scrapes with more samples than this after `metric_relabel_configs` fail; 0 is no limit.
    public var sampleLimit = 0
    /// Scrapes with a series of more labels than this fail; 0 is no limit.
    public var labelLimit = 0
    /// Bodies larger than this (uncompressed) fail the scrape; 0 is no limit.
    public var bodySizeLimit = 0
    public var relabelConfigs: [RelabelRuleConfig] = []
    public var metricRelabelConfigs: [RelabelRuleConfig] = []
    public var tls = TLSClientSettings()
    public var basicAuth: BasicAuth?
    public var authorization: Authorization?
    public var staticConfigs: [StaticTargets] = []
    public var fileDiscovery: [FileDiscovery] = []
    public var kubernetesDiscovery: [KubernetesDiscoveryConfig] = []

    public init(jobName: String, scrapeInterval: Duration = .seconds(60), scrapeTimeout: Duration = .seconds(10)) {
        self.jobName = jobName
        self.scrapeInterval = scrapeInterval
        self.scrapeTimeout = scrapeTimeout
    }

    /// Reads one entry of `scrape_configs`; `nil` when it has errors (all reported to `reader`).
    static func parse(
        _ reader: ConfigReader, defaultInterval: Duration, defaultTimeout: Duration, environment: [String: String]
    ) -> ScrapeJobConfig? {
        defer { reader.finish() }
        let errors = reader.diagnostics.errors.count
        var job = ScrapeJobConfig(jobName: reader.requiredString("job_name") ?? "")
        job.scrapeInterval = reader.duration("scrape_interval", default: defaultInterval)
        // Prometheus: an unset timeout is the global one, but never longer than the job's interval.
        job.scrapeTimeout = reader.duration("scrape_timeout", default: min(defaultTimeout, job.scrapeInterval))
        if job.scrapeInterval <= .zero { reader.error("scrape_interval", "must be more than 0") }
        if job.scrapeTimeout <= .zero { reader.error("scrape_timeout", "must be more than 0") }
        if job.scrapeTimeout > job.scrapeInterval {
            reader.error(
                "scrape_timeout",
                "scrape timeout greater than scrape interval for scrape config with job name \"\(job.jobName)\"")
        }
        job.metricsPath = reader.string("metrics_path", default: job.metricsPath)
        if !job.metricsPath.hasPrefix("/") { reader.error("metrics_path", "must start with /") }
        job.scheme = reader.string("scheme", default: job.scheme)
        if job.scheme != "http" && job.scheme != "https" {
            reader.error("scheme", "expected http or https, found \"\(job.scheme)\"")
        }
        if let params = reader.section("params") {
            for key in params.keys {
                job.params.append((key, params.stringList(key) ?? []))
            }
            params.finish()
        }
        job.honorLabels = reader.bool("honor_labels", default: false)
        job.honorTimestamps = reader.bool("honor_timestamps", default: true)
        job.sampleLimit = reader.int("sample_limit", default: 0, range: 0...Int(Int32.max))
        job.labelLimit = reader.int("label_limit", default: 0, range: 0...Int(Int32.max))
        job.bodySizeLimit = reader.byteSize("body_size_limit", default: 0)
        job.relabelConfigs = readRules(reader, "relabel_configs")
        job.metricRelabelConfigs = readRules(reader, "metric_relabel_configs")
        job.tls = readTLS(reader)
        job.basicAuth = readBasicAuth(reader)
        job.authorization = readAuthorization(reader)
        let authentications = [job.basicAuth != nil, job.authorization != nil].filter { $0 }.count
        if authentications > 1 {
            reader.error("authorization", "at most one of basic_auth, authorization and bearer_token may be set")
        }
        for section in reader.sectionList("static_configs") ?? [] {
            let targets = section.stringList("targets") ?? []
            for (index, target) in targets.enumerated() where ScrapeTargetAddress.parse(target) == nil {
                section.error("targets", "targets[\(index)]: \"\(target)\" is not a host:port address")
            }
            let labels = (section.stringMap("labels") ?? []).map { (name: $0.key, value: $0.value) }
            job.staticConfigs.append(StaticTargets(targets: targets, labels: labels))
            section.finish()
        }
        for section in reader.sectionList("file_sd_configs") ?? [] {
            let files = section.stringList("files") ?? []
            if files.isEmpty { section.error("files", "needs at least one file") }
            let refresh = section.duration("refresh_interval", default: .seconds(300))
            job.fileDiscovery.append(FileDiscovery(files: files, refreshInterval: refresh))
            section.finish()
        }
        for section in reader.sectionList("kubernetes_sd_configs") ?? [] {
            if let discovery = KubernetesDiscoveryConfig.parse(section, environment: environment) {
                job.kubernetesDiscovery.append(discovery)
            }
        }
        return reader.diagnostics.errors.count == errors ? job : nil
    }

    private static func readRules(_ reader: ConfigReader, _ key: String) -> [RelabelRuleConfig] {
        (reader.sectionList(key) ?? []).compactMap { RelabelRuleConfig.parse($0) }
    }

    /// Prometheus' `tls_config` keys, which differ from Petrel's own `tls`: `cert_file`, `insecure_skip_verify`,
    /// `min_version: TLS12`.
    private static func readTLS(_ reader: ConfigReader) -> TLSClientSettings {
        var settings = TLSClientSettings()
        guard let section = reader.section("tls_config") else { return settings }
        defer { section.finish() }
        settings.caFile = section.string("ca_file")
        settings.certificateFile = section.string("cert_file")
        settings.keyFile = section.string("key_file")
        settings.serverName = section.string("server_name")
        settings.verifyCertificate = !section.bool("insecure_skip_verify", default: false)
        if let version = section.string("min_version") {
            switch version.uppercased() {
            case "TLS12": settings.minVersion = .tls12
            case "TLS13": settings.minVersion = .tls13
            default: section.error("min_version", "expected TLS12 or TLS13, found \"\(version)\"")
            }
        }
        if (settings.certificateFile == nil) != (settings.keyFile == nil) {
            section.error("cert_file", "cert_file and key_file go together: a client certificate needs its key")
            return settings
        }
        do {
            _ = try settings.makeContext(applicationProtocols: [])
        } catch {
            section.error(error.key == "crt_file" ? "cert_file" : error.key, error.message)
        }
        return settings
    }

    private static func readBasicAuth(_ reader: ConfigReader) -> BasicAuth? {
        guard let section = reader.section("basic_auth") else { return nil }
        defer { section.finish() }
        let auth = BasicAuth(
            username: section.requiredString("username") ?? "", password: section.string("password"),
            passwordFile: section.string("password_file"))
        if auth.password != nil && auth.passwordFile != nil {
            section.error("password_file", "set password or password_file, not both")
        }
        if let file = auth.passwordFile, CredentialFile.read(file) == nil {
            section.error("password_file", "cannot read \(file)")
        }
        return auth
    }

    /// `authorization`, or the older `bearer_token` / `bearer_token_file` that Prometheus still reads.
    private static func readAuthorization(_ reader: ConfigReader) -> Authorization? {
        var authorization: Authorization?
        if let section = reader.section("authorization") {
            authorization = Authorization(
                type: section.string("type", default: "Bearer"), credentials: section.string("credentials"),
                credentialsFile: section.string("credentials_file"))
            if authorization?.type.lowercased() == "basic" {
                section.error("type", "authorization type cannot be set to \"basic\", use \"basic_auth\" instead")
            }
            if let file = authorization?.credentialsFile, CredentialFile.read(file) == nil {
                section.error("credentials_file", "cannot read \(file)")
            }
            section.finish()
        }
        let token = reader.string("bearer_token")
        let tokenFile = reader.string("bearer_token_file")
        if token != nil || tokenFile != nil {
            if authorization != nil {
                reader.error("bearer_token", "set authorization or bearer_token, not both")
            }
            authorization = Authorization(type: "Bearer", credentials: token, credentialsFile: tokenFile)
        }
        return authorization
    }

    /// The `Authorization` header, with files read now (tokens and passwords get rotated).
    func authorizationHeader() -> String? {
        if let authorization {
            let credentials = authorization.credentialsFile.flatMap(CredentialFile.read) ?? authorization.credentials
            return credentials.map { "\(authorization.type) \($0)" }
        }
        if let basicAuth {
            let password = basicAuth.passwordFile.flatMap(CredentialFile.read) ?? basicAuth.password ?? ""
            return "Basic \(Base64.encode(Array("\(basicAuth.username):\(password)".utf8)))"
        }
        return nil
    }
}

/// A target's `host:port`, as `__address__` holds it.
enum ScrapeTargetAddress {
    /// The host and port of `address`; `nil` when it is not one.
    static func parse(_ address: String) -> (host: String, port: Int?)? {
        guard !address.isEmpty, !address.contains("/") else { return nil }
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { return nil }
            let host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        let parts = address.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return (address, nil)
        case 2:
            guard !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
            return (String(parts[0]), port)
        default: return nil
        }
    }
}
