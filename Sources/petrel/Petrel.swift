import ArgumentParser
import PetrelCore

/// The `petrel` command.
@main
struct Petrel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "petrel",
        abstract: "An observability pipeline agent: metrics, logs and traces in, transformed, out.",
        version: PetrelVersion.string,
        subcommands: [RunCommand.self, ValidateCommand.self, TapCommand.self, TopCommand.self, BenchCommand.self],
        defaultSubcommand: nil)
}

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "The pipeline configuration file (env: PETREL_CONFIG).")
    var config: String = Environment.value("PETREL_CONFIG") ?? "/etc/petrel/petrel.yaml"

    @Option(help: "trace, debug, info, notice, warning, error or critical (env: PETREL_LOG_LEVEL).")
    var logLevel: String = Environment.value("PETREL_LOG_LEVEL") ?? "info"

    @Option(help: "text or json (env: PETREL_LOG_FORMAT).")
    var logFormat: String = Environment.value("PETREL_LOG_FORMAT") ?? "text"

    func validate() throws {
        guard LoggingSetup.level(logLevel) != nil else {
            throw ValidationError("unknown log level \"\(logLevel)\"")
        }
        guard LoggingSetup.Format(rawValue: logFormat) != nil else {
            throw ValidationError("unknown log format \"\(logFormat)\"; expected text or json")
        }
    }
}
