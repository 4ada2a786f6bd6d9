import Foundation
import Logging
import PetrelConfig
import PetrelCore
import PetrelNet

/// Reads the configuration file again and applies it to the running pipeline: what SIGHUP, `POST /reload` and
/// `--watch-config` do. A configuration that does not load, or that changes what needs a restart, is refused with its
/// errors and the pipeline runs on unchanged.
public final class ConfigReloader: Sendable {
    /// Where the configuration comes from.
    public struct Source: Sendable {
        /// The file, as errors name it.
        public var file: String
        /// Reads and checks the file (`ConfigLoader.load(file:)`).
        public var load: @Sendable () throws(ConfigLoadError) -> PipelineConfig
        /// How often `--watch-config` looks at the file; `nil` when it does not.
        public var watchInterval: Duration?

        public init(
            file: String, watchInterval: Duration? = nil,
            load: @escaping @Sendable () throws(ConfigLoadError) -> PipelineConfig
        ) {
            self.file = file
            self.load = load
            self.watchInterval = watchInterval
        }
    }

    public let source: Source
    private let topology: Topology
    private let logger: Logger
    private let succeeded: Counter
    private let failed: Counter
    private let hash: Gauge

    public init(source: Source, topology: Topology, logger: Logger) {
        self.source = source
        self.topology = topology
        self.logger = logger
        let registry = topology.telemetry
        let help = "Configuration reloads (SIGHUP, POST /reload, --watch-config) by result: applied, or refused."
        succeeded = registry.counter("petrel_config_reloads_total", help: help, labels: [("result", "success")])
        failed = registry.counter("petrel_config_reloads_total", help: help, labels: [("result", "failure")])
        hash = registry.gauge(
            "petrel_config_hash", help: "A hash (FNV-1a, 52 bits) of the text of the configuration running now.")
        hash.set(topology.config.contentHash)
    }

    /// Reads the file and applies it; `trigger` says what asked, for the log.
    public func reload(trigger: String) async -> ReloadOutcome {
        var logger = self.logger
        logger[metadataKey: "trigger"] = "\(trigger)"
        let outcome: ReloadOutcome
        do {
            let config = try source.load()
            outcome = await topology.reload(to: config, file: source.file)
            if case .applied = outcome { hash.set(config.contentHash) }
        } catch {
            outcome = .refused(error)
        }
        switch outcome {
        case .applied(let change) where change.isEmpty:
            succeeded.increment()
            logger.info("configuration reloaded; no component changed")
        case .applied(let change):
            succeeded.increment()
            let replaced = change.started.intersection(change.stopped)
            logger.info(
                "configuration reloaded",
                metadata: [
                    "replaced": "\(replaced.sorted().joined(separator: ","))",
                    "added": "\(change.started.subtracting(replaced).sorted().joined(separator: ","))",
                    "removed": "\(change.stopped.subtracting(replaced).sorted().joined(separator: ","))",
                    "unchanged": "\(change.kept.count)",
                ])
        case .refused(let errors):
            failed.increment()
            logger.error("configuration reload refused; the pipeline runs on as it was")
            for problem in errors.errors { logger.error("\(problem)") }
        }
        return outcome
    }

    /// With `watchInterval`, reloads whenever the file changes, until cancelled.
    ///
    /// The file is looked up by its path each time (`stat` follows symlinks), so a Kubernetes ConfigMap update, which
    /// swaps the `..data` symlink of the mounted directory, is seen as a change like an edit in place. A look that finds
    /// no file (mid-swap, or while an editor replaces it) waits for the next one.
    public func watch() async {
        guard let interval = source.watchInterval else { return }
        var watch = FileWatch([source.file], interval: .zero)
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard FileManager.default.fileExists(atPath: source.file), watch.changed() else { continue }
            _ = await reload(trigger: "config file changed")
        }
    }
}
