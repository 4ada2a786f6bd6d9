import PetrelCodecs
import PetrelCore

/// One remote-write request of 1000 series as a Prometheus scraping a Kubernetes cluster sends it, in every form
/// the benchmarks start from; built once from a fixed seed, so every run measures the same bytes.
struct RemoteWriteFixture: Sendable {
    /// The series in one request; the benchmarks' scaling factor, so that scaled figures are per series.
    static let seriesPerRequest = 1000
    /// The remote-write source's default `max_decompressed_body_size`.
    static let maxDecompressedLength = 32 * 1024 * 1024

    static let shared = RemoteWriteFixture(seed: 0x5EED_2026)

    /// `prometheus.WriteRequest` bytes, uncompressed.
    let v1: [UInt8]
    /// `io.prometheus.write.v2.Request` bytes, uncompressed.
    let v2: [UInt8]
    /// `v1` as one Snappy block, as it comes over the wire.
    let v1Snappy: [UInt8]
    /// `v1` decoded: labels point into the request bytes, as the source hands them to the transforms.
    let decoded: MetricBatch

    init(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let cluster = ClusterModel(&random)
        var batch = MetricBatch()
        var seen: Set<String> = []
        while batch.seriesCount < Self.seriesPerRequest {
            let labels = cluster.series(&random)
            // Prometheus never sends the same series twice in one request.
            let key = labels.sorted { $0.name < $1.name }.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            guard seen.insert(key).inserted else { continue }
            let sample = Sample(
                timestamp: 1_764_000_000_000 + Int64(random.next(upperBound: 15_000 as UInt64)),
                value: Double(random.next(upperBound: 1 << 40 as UInt64)) / 1024)
            batch.appendSeries(labels: labels, samples: [sample])
        }
        var encoder = RemoteWriteEncoder()
        v1 = encoder.encodeV1(batch)
        v2 = encoder.encodeV2(batch)
        v1Snappy = Snappy.compress(v1)
        decoded = try! RemoteWriteDecoder().decodeV1(v1)
        precondition(decoded.seriesCount == Self.seriesPerRequest, "the request did not decode to its own series")
    }
}

extension MetricBatch {
    /// A copy that shares no storage with `self`, so that a measured mutation does not start with a copy-on-write.
    func uniqueCopy() -> MetricBatch {
        var copy = self
        copy.arena = arena.withUnsafeBufferPointer { Array($0) }
        copy.labels = labels.withUnsafeBufferPointer { Array($0) }
        copy.series = series.withUnsafeBufferPointer { Array($0) }
        copy.samples = samples.withUnsafeBufferPointer { Array($0) }
        return copy
    }
}

/// The fixtures' generator: PetrelCore's SplitMix64, with the helpers the cluster model draws with.
typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int(next(upperBound: UInt64(choices.count)))]
    }

    mutating func chance(_ numerator: UInt64, in denominator: UInt64) -> Bool {
        next(upperBound: denominator) < numerator
    }

    /// Characters from Kubernetes' name-suffix alphabet (no vowels, no look-alikes).
    mutating func suffix(_ count: Int) -> String {
        String((0..<count).map { _ in pick(Array("bcdfghjklmnpqrstvwxz2456789")) })
    }

    mutating func hex(_ count: Int) -> String {
        String((0..<count).map { _ in pick(Array("0123456789abcdef")) })
    }

    mutating func uuid() -> String {
        "\(hex(8))-\(hex(4))-\(hex(4))-\(hex(4))-\(hex(12))"
    }
}

/// A cluster of nodes and workloads, and the series that node-exporter, cAdvisor, kube-state-metrics, the API
/// server and the applications expose about it: ten labels per series, as the scrape configs of
/// kube-prometheus-stack attach them.
struct ClusterModel {
    typealias Labels = [(name: String, value: String)]

    struct Node {
        var name: String
        var ip: String
        /// The node-exporter pod of this node's DaemonSet.
        var exporterPod: String
    }

    struct Pod {
        var name: String
        var namespace: String
        var workload: String
        var team: String
        var templateHash: String
        var uid: String
        var ip: String
        var node: Node
        var containers: [String]
    }

    /// The series families and how many in a hundred series each one makes.
    enum Family: CaseIterable {
        case nodeCPU, nodeNetwork, containerUsage, apiserverBuckets, podRestarts, podLabels, goRuntime, httpRequests
        case scrapeHealth

        var weight: Int {
            switch self {
            case .nodeCPU: 30
            case .nodeNetwork: 8
            case .containerUsage: 15
            case .apiserverBuckets: 12
            case .podRestarts: 8
            case .podLabels: 5
            case .goRuntime: 7
            case .httpRequests: 10
            case .scrapeHealth: 5
            }
        }
    }

    var nodes: [Node] = []
    var pods: [Pod] = []
    var kubeStateMetrics: (pod: String, instance: String)
    var apiservers: [String]

    init(_ random: inout SeededGenerator) {
        for _ in 0..<12 {
            let ip = "10.0.\(random.next(upperBound: 64 as UInt64)).\(1 + random.next(upperBound: 250 as UInt64))"
            let name = "ip-\(ip.replacing(".", with: "-")).eu-west-1.compute.internal"
            nodes.append(Node(name: name, ip: ip, exporterPod: "node-exporter-\(random.suffix(5))"))
        }
        // Windows nodes keep EC2's upper-case host names, which the lowercase rule folds.
        for _ in 0..<2 {
            let ip = "10.0.\(random.next(upperBound: 64 as UInt64)).\(1 + random.next(upperBound: 250 as UInt64))"
            let name = "EC2AMAZ-\(random.suffix(7).uppercased())"
            nodes.append(Node(name: name, ip: ip, exporterPod: "node-exporter-windows-\(random.suffix(5))"))
        }
        let workloads: [(namespace: String, name: String, team: String, sidecar: Bool)] = [
            ("monitoring", "prometheus-k8s", "observability", false),
            ("monitoring", "grafana", "observability", false),
            ("monitoring", "alertmanager-main", "observability", false),
            ("kube-system", "coredns", "platform", false),
            ("kube-system", "aws-load-balancer-controller", "platform", false),
            ("kube-system", "ebs-csi-controller", "platform", false),
            ("ingress-nginx", "ingress-nginx-controller", "platform", false),
            ("payments", "payments-api", "payments", true),
            ("payments", "ledger-worker", "payments", true),
            ("checkout", "checkout-api", "checkout", true),
            ("checkout", "cart-service", "checkout", true),
            ("search", "search-api", "search", true),
            ("search", "indexer", "search", false),
        ]
        for workload in workloads {
            let templateHash = random.hex(10)
            for _ in 0..<(2 + Int(random.next(upperBound: 5 as UInt64))) {
                let ip = "10.0.\(64 + random.next(upperBound: 64 as UInt64)).\(random.next(upperBound: 256 as UInt64))"
                pods.append(
                    Pod(
                        name: "\(workload.name)-\(templateHash)-\(random.suffix(5))", namespace: workload.namespace,
                        workload: workload.name, team: workload.team, templateHash: templateHash, uid: random.uuid(),
                        ip: ip, node: random.pick(nodes),
                        containers: workload.sidecar ? [workload.name, "istio-proxy"] : [workload.name]))
            }
        }
        kubeStateMetrics = ("kube-state-metrics-\(random.hex(10))-\(random.suffix(5))", "10.0.70.12:8080")
        apiservers = ["10.0.0.17:443", "10.0.1.201:443", "10.0.2.96:443"]
    }

    /// One series' labels, drawn by family weight.
    func series(_ random: inout SeededGenerator) -> Labels {
        var draw = Int(random.next(upperBound: 100 as UInt64))
        for family in Family.allCases {
            if draw < family.weight { return series(family, &random) }
            draw -= family.weight
        }
        return series(.nodeCPU, &random)
    }

    private func series(_ family: Family, _ random: inout SeededGenerator) -> Labels {
        switch family {
        case .nodeCPU:
            let node = random.pick(nodes)
            return [
                ("__name__", "node_cpu_seconds_total"), ("container", "node-exporter"),
                ("cpu", String(random.next(upperBound: 16 as UInt64))), ("endpoint", "http-metrics"),
                ("instance", "\(node.ip):9100"), ("job", "node-exporter"),
                ("mode", random.pick(["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"])),
                ("namespace", "monitoring"), ("node", node.name), ("pod", node.exporterPod),
            ]
        case .nodeNetwork:
            let node = random.pick(nodes)
            return [
                ("__name__", random.pick(["node_network_receive_bytes_total", "node_network_transmit_bytes_total"])),
                ("container", "node-exporter"), ("device", random.pick(["eth0", "eth1", "eni3a4f1b2c9d0", "lo"])),
                ("endpoint", "http-metrics"), ("instance", "\(node.ip):9100"), ("job", "node-exporter"),
                ("namespace", "monitoring"), ("node", node.name), ("pod", node.exporterPod),
                ("service", "node-exporter"),
            ]
        case .containerUsage:
            let pod = random.pick(pods)
            // cAdvisor still reports the pause container of every pod; a classic rule drops it.
            let pause = random.chance(1, in: 6)
            return [
                ("__name__", random.pick(["container_memory_working_set_bytes", "container_cpu_usage_seconds_total"])),
                ("container", pause ? "POD" : random.pick(pod.containers)), ("endpoint", "https-metrics"),
                ("id", "/kubepods/burstable/pod\(pod.uid)/\(random.hex(64))"),
                (
                    "image",
                    pause ? "registry.k8s.io/pause:3.9" : "registry.example.com/\(pod.workload):v1.\(pod.uid.prefix(1))"
                ),
                ("instance", "\(pod.node.ip):10250"), ("job", "kubelet"), ("namespace", pod.namespace),
                ("node", pod.node.name), ("pod", pod.name),
            ]
        case .apiserverBuckets:
            return [
                ("__name__", "apiserver_request_duration_seconds_bucket"), ("component", "apiserver"),
                ("instance", random.pick(apiservers)), ("job", "apiserver"),
                (
                    "le",
                    random.pick([
                        "0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1", "1.25", "1.5", "2", "3", "5",
                        "10", "+Inf",
                    ])
                ),
                ("namespace", "default"),
                (
                    "resource",
                    random.pick(["pods", "nodes", "configmaps", "secrets", "deployments", "leases", "endpointslices"])
                ),
                ("scope", random.pick(["cluster", "namespace", "resource"])),
                ("verb", random.pick(["GET", "LIST", "WATCH", "PATCH", "POST", "PUT", "DELETE"])), ("version", "v1"),
            ]
        case .podRestarts:
            // Scraped without honor_labels: the pod's namespace becomes exported_namespace.
            let pod = random.pick(pods)
            return [
                ("__name__", "kube_pod_container_status_restarts_total"), ("container", random.pick(pod.containers)),
                ("endpoint", "http"), ("exported_namespace", pod.namespace), ("exported_pod", pod.name),
                ("instance", kubeStateMetrics.instance), ("job", "kube-state-metrics"), ("namespace", "monitoring"),
                ("pod", kubeStateMetrics.pod), ("service", "kube-state-metrics"),
            ]
        case .podLabels:
            let pod = random.pick(pods)
            return [
                ("__name__", "kube_pod_labels"), ("endpoint", "http"), ("instance", kubeStateMetrics.instance),
                ("job", "kube-state-metrics"), ("label_app_kubernetes_io_name", pod.workload), ("label_team", pod.team),
                ("namespace", pod.namespace), ("pod", pod.name), ("service", "kube-state-metrics"), ("uid", pod.uid),
            ]
        case .goRuntime:
            let pod = random.pick(pods)
            return [
                (
                    "__name__",
                    random.pick([
                        "go_gc_duration_seconds", "go_goroutines", "go_memstats_alloc_bytes", "process_open_fds",
                    ])
                ),
                ("container", pod.containers[0]), ("endpoint", "metrics"), ("instance", "\(pod.ip):8080"),
                ("job", pod.workload), ("namespace", pod.namespace), ("node", pod.node.name), ("pod", pod.name),
                ("quantile", random.pick(["0", "0.25", "0.5", "0.75", "1"])), ("service", pod.workload),
            ]
        case .httpRequests:
            let pod = random.pick(pods)
            return [
                ("__name__", "http_requests_total"),
                ("code", random.pick(["200", "201", "204", "301", "400", "404", "500", "503"])),
                ("container", pod.containers[0]),
                ("handler", random.pick(["/api/v1/orders", "/api/v1/cart", "/api/v1/search", "/healthz", "/metrics"])),
                ("instance", "\(pod.ip):8080"), ("job", pod.workload),
                ("method", random.pick(["GET", "POST", "PUT", "DELETE"])), ("namespace", pod.namespace),
                ("pod", pod.name), ("tmp_pod_template_hash", pod.templateHash),
            ]
        case .scrapeHealth:
            let pod = random.pick(pods)
            return [
                ("__name__", random.pick(["scrape_duration_seconds", "scrape_samples_scraped", "up"])),
                ("container", pod.containers[0]), ("endpoint", "metrics"), ("instance", "\(pod.ip):8080"),
                ("job", pod.workload), ("namespace", pod.namespace), ("node", pod.node.name), ("pod", pod.name),
                ("prometheus", "monitoring/k8s"), ("service", pod.workload),
            ]
        }
    }
}
