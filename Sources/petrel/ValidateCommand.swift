import ArgumentParser
import PetrelComponents
import PetrelConfig

/// `petrel validate`: checks a configuration and lists every problem in it.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check a configuration file; exit 1 listing every error.")

    @OptionGroup var options: CommonOptions

    func run() throws {
        let loader = ConfigLoader(registry: BuiltinComponents.registry, environment: Environment.all)
        do {
            let config = try loader.load(file: options.config)
            print("\(options.config): valid (\(config.components.count) components)")
        } catch {
            var standardError = StandardError()
            for problem in error.errors { print(problem, to: &standardError) }
            print("\(error.errors.count) error(s)", to: &standardError)
            throw ExitCode(1)
        }
    }
}
