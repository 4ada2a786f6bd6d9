import ArgumentParser
import Logging
import PetrelCodecs
import PetrelComponents
import PetrelConfig
import PetrelTopology

/// `petrel run`: loads the configuration and runs the pipeline until SIGTERM or SIGINT.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the pipeline described by a configuration file.")

    @OptionGroup var options: CommonOptions

    @Flag(
        help: """
            Reload the configuration when its file changes (an edit, or a Kubernetes ConfigMap update), as SIGHUP \
            and POST /reload do.
            """)
    var watchConfig = false

    func run() async throws {
        LoggingSetup.bootstrap(level: options.logLevel, format: options.logFormat)
        let logger = Logger(label: "petrel")
        let loader = ConfigLoader(registry: BuiltinComponents.registry, environment: Environment.all)
        let config: PipelineConfig
        do {
            config = try loader.load(file: options.config)
        } catch {
            for problem in error.errors { logger.error("\(problem)") }
            throw ExitCode(1)
        }
        logger.info(
            "starting petrel",
            metadata: ["config": "\(options.config)", "components": "\(config.components.count)"])
        do {
            let source = ConfigReloader.Source(
                file: options.config, watchInterval: watchConfig ? .seconds(1) : nil,
                load: { [path = options.config] () throws(ConfigLoadError) in try loader.load(file: path) })
            try await PetrelApplication(
                config: config, recordCodec: BufferRecordCodec(), logger: logger, reloadFrom: source
            ).run()
        } catch let stopped as StoppedBySecondSignal {
            // Not a clean drain: the status says so, as a shell reports a process the signal killed.
            logger.warning("petrel stopped: \(stopped)")
            throw ExitCode(128 + stopped.signal)
        } catch {
            logger.critical("petrel stopped: \(error)")
            throw ExitCode(1)
        }
    }
}
