import Foundation
import PetrelCodecs
import PetrelCore

/// Tails every container's log files on this node (`/var/log/pods`), as the kubelet writes and rotates them: CRI and
/// Docker lines, split lines joined across rotations, pod metadata from the Kubernetes API, checkpoints that advance
/// only over lines every buffer downstream holds.
public struct KubernetesLogsSource: Source {
    public let config: KubernetesLogsSourceConfig
    /// Where its checkpoints live: `<data_dir>/checkpoints/<source id>`.
    public let checkpointDirectory: String
    /// The pod metadata the watch fills and the records read.
    let metadata: PodMetadataIndex
    /// How long the source waits for the first LIST before tailing without metadata.
    static let metadataWait: Duration = .seconds(10)

    public init(config: KubernetesLogsSourceConfig, checkpointDirectory: String) {
        self.init(config: config, checkpointDirectory: checkpointDirectory, metadata: PodMetadataIndex())
    }

    init(config: KubernetesLogsSourceConfig, checkpointDirectory: String, metadata: PodMetadataIndex) {
        self.config = config
        self.checkpointDirectory = checkpointDirectory
        self.metadata = metadata
    }

    public static let definition = ComponentDefinition(type: "kubernetes_logs", kind: .source) { reader, context in
        let config = KubernetesLogsSourceConfig(from: reader, environment: ProcessInfo.processInfo.environment)
        let directory = context.dataDirectory + "/checkpoints/" + context.id
        return .source(KubernetesLogsSource(config: config, checkpointDirectory: directory), emits: .logs)
    }

    public func run(_ context: SourceContext) async throws {
        try await run(
            context,
            discovery: PodLogDiscovery(podsRoot: config.podsRoot, include: config.include, exclude: config.exclude))
    }

    /// Runs on the files `discovery` lists: the pods' directories, or (in tests) a listing that lags behind them.
    func run(_ context: SourceContext, discovery: some FileDiscovery) async throws {
        var settings = config.tailing.settings(checkpointDirectory: checkpointDirectory)
        // The tailer cuts raw lines; the parser cuts messages at max_line_bytes. A Docker line's JSON escapes may
        // take up to six bytes per byte of message, so the raw bound leaves room for them.
        settings.maxLineBytes = config.tailing.maxLineBytes * 6 + 1024
        let index = config.kubernetesAPI == nil ? nil : metadata
        let decoding = ContainerLineContext(
            metadata: index, nodeName: config.nodeName, include: config.include, exclude: config.exclude,
            limits: ContainerLogLimits(
                maxLineBytes: config.tailing.maxLineBytes, maxMergedLineBytes: config.maxMergedLineBytes),
            fileTelemetry: FileTelemetry(context.telemetry), telemetry: context.telemetry, logger: context.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let api = config.kubernetesAPI {
                let watcher = try PodWatcher(
                    config: api, index: metadata,
                    telemetry: KubernetesAPITelemetry(registry: context.telemetry.registry, componentID: context.id),
                    logger: context.logger)
                group.addTask { await watcher.run() }
                // Pods already running get their metadata from their first line, and `read_from` still applies to
                // the files there at startup (the tailer's first scan).
                let deadline = ContinuousClock.now + Self.metadataWait
                while !metadata.hasSynced && ContinuousClock.now < deadline {
                    if await context.shutdown.sleep(for: .milliseconds(20)) { break }
                }
                if !metadata.hasSynced && !context.shutdown.isTriggered {
                    context.logger.warning(
                        "No pod list from the Kubernetes API yet; tailing without pod metadata until it comes",
                        metadata: ["waited": "\(Self.metadataWait)"])
                }
            }
            var tailer = FileTailer(discovery: discovery, settings: settings, context: context) { stream in
                ContainerLineDecoder(stream: stream, context: decoding)
            }
            try await tailer.run()
            group.cancelAll()
        }
    }
}
