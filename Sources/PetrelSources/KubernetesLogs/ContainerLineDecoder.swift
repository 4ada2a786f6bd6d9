import Logging
import PetrelCodecs
import PetrelCore

/// What the decoders of every stream of one `kubernetes_logs` source share.
struct ContainerLineContext: Sendable {
    /// Pod metadata; nil when `kubernetes_api` is disabled.
    let metadata: PodMetadataIndex?
    let nodeName: String
    let include: PodLogRules
    let exclude: PodLogRules
    let limits: ContainerLogLimits
    let fileTelemetry: FileTelemetry
    let telemetry: ComponentTelemetry
    let logger: Logger
}

/// `kubernetes_logs`' records: parses each line of a container log (CRI or Docker `json-file`, told from each file's
/// first line), joins split lines per output stream, also across a rotation, and adds the pod's resource attributes.
///
/// A line that does not parse becomes a record of its own with the raw line as message (and counts as an error): no
/// line is dropped. The decoder holds the pod's metadata in the index from its creation (when the tailer opens the
/// stream's first file) to `flush` (when it lets go of the last), so a pod deleted meanwhile keeps its labels.
struct ContainerLineDecoder: LineDecoder {
    let context: ContainerLineContext
    /// Nil for a stream whose path is not the kubelet's layout (never found by `PodLogDiscovery`).
    let path: PodLogPath?
    private let parser: ContainerLogParser
    private var merger: PartialLineMerger<FileSpan>
    /// The format of the file the last line came from.
    private var format: (file: UInt64, format: ContainerLogFormat)?
    private let pathResource: [Attribute]
    private var cache: (pod: PodMetadata?, nodeLabels: [String: String], resource: [Attribute], kept: Bool)?
    private var isHolding: Bool
    private var metadataCache: (path: String?, metadata: [String: String])?

    init(stream: String, context: ContainerLineContext) {
        self.context = context
        path = PodLogPath(stream: stream)
        parser = ContainerLogParser(limits: context.limits)
        merger = PartialLineMerger(limits: context.limits)
        var resource: [Attribute] = []
        if let path {
            resource = [
                Attribute("k8s.namespace.name", .string(path.namespace)), Attribute("k8s.pod.name", .string(path.pod)),
                Attribute("k8s.pod.uid", .string(path.uid)), Attribute("k8s.container.name", .string(path.container)),
                Attribute("k8s.container.restart_count", .int(Int64(path.restartCount))),
            ]
        }
        if !context.nodeName.isEmpty { resource.append(Attribute("k8s.node.name", .string(context.nodeName))) }
        pathResource = resource
        isHolding = false
        if let uid = path?.uid, let metadata = context.metadata {
            metadata.retain(uid: uid)
            isHolding = true
        }
    }

    mutating func decode(_ line: SourcedLine, into output: inout [DecodedRecord]) {
        if format?.file != line.file {
            format = (line.file, ContainerLogFormat.detect(firstLine: line.line.bytes))
        }
        do {
            let parsed = try parser.parse(line.line.bytes[...], format: format!.format)
            if let merged = merger.add(parsed, token: line.span) { output.append(record(merged, path: line.path)) }
        } catch {
            context.telemetry.error(.processing)
            context.logger.warning(
                "Container log line does not parse; sending it as it is",
                metadata: ["path": "\(line.path)", "offset": "\(line.line.range.lowerBound)", "error": "\(error)"])
            let (resource, kept) = podResource()
            let record = LogRecord(
                timestamp: WallClock.nowNanoseconds(), message: String(decoding: line.line.bytes, as: UTF8.self),
                metadata: ["file": line.path, "source_type": "kubernetes_logs"], resource: resource)
            output.append(DecodedRecord(record: kept ? record : nil, spans: [line.span]))
        }
    }

    /// Split lines wait for their last piece whatever the time: it may come after a rotation, seconds later.
    mutating func flushExpired(now: ContinuousClock.Instant, into output: inout [DecodedRecord]) {}

    mutating func flush(into output: inout [DecodedRecord]) {
        for pending in merger.flush() { output.append(record(pending, path: nil)) }
        if isHolding, let uid = path?.uid {
            context.metadata?.release(uid: uid)
            isHolding = false
        }
    }

    private mutating func record(_ merged: PartialLineMerger<FileSpan>.Record, path: String?) -> DecodedRecord {
        if merged.truncatedBytes > 0 {
            context.fileTelemetry.lost(Int64(merged.truncatedBytes), .lineTooLong)
            context.logger.warning(
                "Container log line longer than max_line_bytes or max_merged_line_bytes was truncated",
                metadata: [
                    "stream": "\(self.path.map { "\($0.namespace)/\($0.pod)/\($0.container)" } ?? "")",
                    "lost_bytes": "\(merged.truncatedBytes)",
                ])
        }
        let (resource, kept) = podResource()
        guard kept else { return DecodedRecord(record: nil, spans: merged.pieces) }
        let record = LogRecord(
            timestamp: merged.timestamp, message: String(decoding: merged.message, as: UTF8.self),
            fields: merged.stream == .stdout ? Self.stdoutFields : Self.stderrFields, metadata: metadata(path: path),
            resource: resource)
        return DecodedRecord(record: record, spans: merged.pieces)
    }

    // Shared by every record (copy on write): one dictionary per file, not one per line.
    private static let stdoutFields: [String: AnyValue] = ["log.iostream": .string("stdout")]
    private static let stderrFields: [String: AnyValue] = ["log.iostream": .string("stderr")]

    private mutating func metadata(path: String?) -> [String: String] {
        if let metadataCache, metadataCache.path == path { return metadataCache.metadata }
        var metadata = ["source_type": "kubernetes_logs"]
        if let path { metadata["file"] = path }
        metadataCache = (path, metadata)
        return metadata
    }

    /// The record's resource attributes as the index knows the pod now, and whether the pod label rules keep it
    /// (a pod not known yet is kept, without its labels).
    private mutating func podResource() -> (resource: [Attribute], kept: Bool) {
        guard let metadata = context.metadata else { return (pathResource, true) }
        let pod = path.flatMap { metadata.pod(uid: $0.uid) }
        let nodeLabels = metadata.nodeLabels
        if let cache, cache.pod == pod, cache.nodeLabels == nodeLabels { return (cache.resource, cache.kept) }
        var resource = pathResource
        for (label, key) in Self.nodeLabelAttributes {
            if let value = nodeLabels[label] { resource.append(Attribute(key, .string(value))) }
        }
        var kept = true
        if let pod {
            if let owner = pod.owner, let key = Self.ownerAttributes[owner.kind] {
                resource.append(Attribute(key, .string(owner.name)))
            }
            for (key, value) in pod.labels.sorted(by: { $0.key < $1.key }) {
                resource.append(Attribute("k8s.pod.label." + key, .string(value)))
            }
            for (key, value) in pod.annotations.sorted(by: { $0.key < $1.key }) {
                resource.append(Attribute("k8s.pod.annotation." + key, .string(value)))
            }
            kept =
                (context.include.podLabels?.matches(pod.labels) ?? true)
                && !(context.exclude.podLabels?.matches(pod.labels) ?? false)
        }
        cache = (pod, nodeLabels, resource, kept)
        return (resource, kept)
    }

    /// OpenTelemetry's attribute for the workload that owns a pod, by the owner's kind.
    static let ownerAttributes = [
        "Deployment": "k8s.deployment.name", "StatefulSet": "k8s.statefulset.name",
        "DaemonSet": "k8s.daemonset.name", "Job": "k8s.job.name", "CronJob": "k8s.cronjob.name",
        "ReplicaSet": "k8s.replicaset.name",
    ]

    /// Well-known node labels and the OpenTelemetry resource attributes they become.
    static let nodeLabelAttributes = [
        ("topology.kubernetes.io/zone", "cloud.availability_zone"), ("topology.kubernetes.io/region", "cloud.region"),
        ("node.kubernetes.io/instance-type", "host.type"),
    ]
}
