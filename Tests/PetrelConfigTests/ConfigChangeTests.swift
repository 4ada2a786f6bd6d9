import PetrelCore
import Testing

@testable import PetrelConfig

/// What a reload keeps, replaces, adds and removes, and what it refuses.
@Suite struct ConfigChangeTests {
    let pipeline = """
        data_dir: /tmp/petrel
        sources:
          prom_in:
            type: metrics_gen
            address: 0.0.0.0:9201
          app_logs:
            type: logs_gen
        transforms:
          tag_all:
            type: pass
            label: cluster
            inputs: [prom_in, app_logs]
        sinks:
          vm:
            type: metrics_sink
            inputs: [tag_all]
            batch_size: 500
        """

    private func change(to text: String) throws -> Result<ConfigChange, ConfigLoadError> {
        let loader = Fakes.loader()
        return ConfigChange.between(
            try loader.parse(pipeline, file: "petrel.yaml"), try loader.parse(text, file: "petrel.yaml"),
            file: "petrel.yaml")
    }

    @Test func theSameTextElsewhereInTheFileChangesNothing() throws {
        let moved =
            "# a comment moves every line\n\n"
            + pipeline.replacingOccurrences(
                of: "    type: metrics_sink\n    inputs: [tag_all]",
                with: "    inputs: [tag_all]\n    type: metrics_sink")
        let change = try change(to: moved).get()
        #expect(change.isEmpty)
        #expect(change.kept == ["prom_in", "app_logs", "tag_all", "vm"])
    }

    @Test func onlyWhatChangedIsReplacedAddedOrRemoved() throws {
        let edited =
            pipeline.replacingOccurrences(of: "batch_size: 500", with: "batch_size: 800")
            .replacingOccurrences(of: "  app_logs:\n    type: logs_gen\n", with: "")
            .replacingOccurrences(of: "inputs: [prom_in, app_logs]", with: "inputs: [prom_in]")
            + "\n  debug:\n    type: console\n    inputs: [prom_in]\n"
        let change = try change(to: edited).get()
        #expect(change.kept == ["prom_in"])
        // tag_all's inputs changed; vm's own key did; debug is new; app_logs is gone.
        #expect(change.started == ["tag_all", "vm", "debug"])
        #expect(change.stopped == ["tag_all", "vm", "app_logs"])
    }

    @Test func settingsThatNeedARestartAreRefused() throws {
        let moved =
            pipeline.replacingOccurrences(of: "data_dir: /tmp/petrel", with: "data_dir: /tmp/other")
            + "\napi: { address: \"127.0.0.1:9999\" }\n"
        guard case .failure(let refused) = try change(to: moved) else {
            Issue.record("a changed data_dir and api were accepted")
            return
        }
        #expect(
            refused.errors.map(\.description) == [
                "petrel.yaml:1: data_dir: cannot change on reload; restart Petrel to change it",
                "petrel.yaml:18: api: cannot change on reload; restart Petrel to change it",
            ])
    }
}
