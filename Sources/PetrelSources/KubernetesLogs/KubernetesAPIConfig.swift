import PetrelCore
import PetrelNet

/// `kubernetes_api:` of the `kubernetes_logs` source: where pod and node metadata come from. In a pod, everything
/// defaults to the in-cluster service account.
public struct KubernetesAPIConfig: Sendable {
    /// Where Kubernetes mounts a pod's service-account token and CA bundle.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The API server's base URL, e.g. `https://10.96.0.1:443`.
    public var endpoint: HTTPEndpoint
    /// The bearer token, re-read when it changes (projected tokens rotate about hourly).
    public var tokenFile: String
    /// The CA that signs the API server's certificate; nil for the system's roots.
    public var caFile: String?
    /// The node whose pods are watched: `spec.nodeName` through the downward API as `NODE_NAME`.
    public var nodeName: String
    /// How long the server keeps each watch open (`timeoutSeconds`), drawn anew between this and twice this per
    /// watch, as client-go does, so a DaemonSet rolled out at once does not re-watch in step.
    public var watchTimeout: Duration = .seconds(300)
    /// How often the node's labels are fetched again.
    public var nodeLabelsRefresh: Duration = .seconds(600)
    /// Bound on the wait for a LIST or node answer, and on the connect.
    public var requestTimeout: Duration = .seconds(30)
    /// The first and the longest wait after a failed request; doubled per failure, with jitter. Not keys: tests set
    /// them short.
    public var retryInitialDelay: Duration = .milliseconds(500)
    public var retryMaxDelay: Duration = .seconds(30)
    /// How often the token file is looked at for a change.
    public var tokenCheckInterval: Duration = .seconds(1)

    public init(endpoint: HTTPEndpoint, tokenFile: String, caFile: String?, nodeName: String) {
        self.endpoint = endpoint
        self.tokenFile = tokenFile
        self.caFile = caFile
        self.nodeName = nodeName
    }

    /// Reads the `kubernetes_api` section under `reader`; nil when it is disabled (by default, outside a cluster:
    /// when `KUBERNETES_SERVICE_HOST` is not set) or has errors, which are reported on the reader.
    public static func read(
        _ key: String = "kubernetes_api", from reader: ConfigReader, environment: [String: String]
    ) -> KubernetesAPIConfig? {
        let section = reader.section(key)
        defer { section?.finish() }
        let errors = reader.diagnostics.errors.count
        // Without a section, the defaults failed: the error goes on the key that enabled them.
        func report(_ subkey: String, _ message: String) {
            if let section { section.error(subkey, message) } else { reader.error(key, "\(subkey) \(message)") }
        }
        let serviceHost = environment["KUBERNETES_SERVICE_HOST"].flatMap { $0.isEmpty ? nil : $0 }
        let enabled = section?.bool("enabled", default: serviceHost != nil) ?? (serviceHost != nil)
        let url = section?.string("endpoint")
        let tokenFile = section?.string("token_file") ?? serviceAccountDirectory + "/token"
        let caFile = section?.string("ca_file") ?? serviceAccountDirectory + "/ca.crt"
        let nodeName = section?.string("node_name") ?? environment["NODE_NAME"] ?? ""
        var config = KubernetesAPIConfig(
            endpoint: HTTPEndpoint(host: "", port: 443, target: "/"), tokenFile: tokenFile, caFile: caFile,
            nodeName: nodeName)
        if let section {
            config.watchTimeout = section.duration("watch_timeout", default: config.watchTimeout)
            if config.watchTimeout < .seconds(1) { section.error("watch_timeout", "must be at least 1s") }
            config.nodeLabelsRefresh = section.duration("node_labels_refresh", default: config.nodeLabelsRefresh)
            config.requestTimeout = section.duration("request_timeout", default: config.requestTimeout)
        }
        guard enabled else { return nil }
        if let url {
            switch HTTPEndpoint.parse(url) {
            case .success(let parsed) where parsed.target == "/": config.endpoint = parsed
            case .success: report("endpoint", "give the API server's base URL, without a path")
            case .failure(let problem): report("endpoint", problem.message)
            }
        } else if let serviceHost {
            let port = environment["KUBERNETES_SERVICE_PORT"].flatMap { Int($0) } ?? 443
            config.endpoint = HTTPEndpoint(host: serviceHost, port: port, target: "/", usesTLS: true)
        } else {
            report("endpoint", "is required outside a cluster (KUBERNETES_SERVICE_HOST is not set)")
        }
        if nodeName.isEmpty {
            report("node_name", "is required: set it, or NODE_NAME from the downward API (fieldRef spec.nodeName)")
        }
        if CredentialFile.read(tokenFile) == nil {
            report("token_file", "cannot read \(tokenFile)")
        }
        if config.endpoint.usesTLS {
            do {
                _ = try config.tlsSettings.makeContext(applicationProtocols: [])
            } catch {
                report("ca_file", error.message)
            }
        }
        return reader.diagnostics.errors.count == errors ? config : nil
    }

    /// The TLS settings of the connections: trust `ca_file`, check the server's name.
    var tlsSettings: TLSClientSettings {
        var settings = TLSClientSettings()
        settings.caFile = caFile
        return settings
    }
}
