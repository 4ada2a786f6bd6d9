import PetrelCore
import Testing

@testable import PetrelSources

/// The `file` source's settings as a user writes them, and every error named by its key.
@Suite struct FileSourceConfigTests {
    private func build(_ node: ConfigNode) -> (source: FileSource?, errors: [String]) {
        let outcome = buildComponent(FileSource.definition, at: "sources.files", node)
        guard case .source(let source, let emits)? = outcome.built else { return (nil, outcome.errors) }
        #expect(emits == .logs)
        return (source as? FileSource, outcome.errors)
    }

    @Test func defaults() throws {
        let result = build(componentConfig(["include": ["/var/log/*.log"]]))
        #expect(result.errors == [])
        let source = try #require(result.source)
        let config = source.config
        #expect(config.include == ["/var/log/*.log"])
        #expect(config.exclude == [])
        #expect(config.readFrom == .beginning)
        #expect(config.maxLineBytes == 32 * 1024)
        #expect(config.maxReadBytes == 64 * 1024)
        #expect(config.maxUnacknowledgedBytes == 4 * 1024 * 1024)
        #expect(config.rotateWait == nil, "as Vector: a rotated file is held until drained")
        #expect(config.globMinimumCooldown == .seconds(1))
        #expect(config.checkpointInterval == .seconds(1))
        #expect(config.multiline == nil)
        #expect(source.checkpointDirectory == "/tmp/petrel-test-data/checkpoints/files")
    }

    @Test func everySetting() throws {
        let result = build(
            componentConfig([
                "include": ["/var/log/**/*.log"], "exclude": ["/var/log/**/debug.log"], "read_from": "end",
                "max_line_bytes": "1KiB", "max_read_bytes": "128KiB", "max_unacknowledged_bytes": "16MiB",
                "rotate_wait": "30s", "glob_minimum_cooldown": "250ms", "checkpoint_interval": "5s",
                "multiline": [
                    "start_pattern": "^\\S", "condition_pattern": "^\\s+", "mode": "continue_through",
                    "timeout": "2s",
                ],
            ]))
        #expect(result.errors == [])
        let config = try #require(result.source).config
        #expect(config.exclude == ["/var/log/**/debug.log"])
        #expect(config.readFrom == .end)
        #expect(config.maxLineBytes == 1024)
        #expect(config.maxReadBytes == 128 * 1024)
        #expect(config.maxUnacknowledgedBytes == 16 * 1024 * 1024)
        #expect(config.rotateWait == .seconds(30))
        #expect(config.globMinimumCooldown == .milliseconds(250))
        #expect(config.checkpointInterval == .seconds(5))
        let multiline = try #require(config.multiline)
        #expect(multiline.mode == .continueThrough)
        #expect(multiline.timeout == .seconds(2))
        #expect(multiline.startPattern.matches("Exception"))
        #expect(!multiline.startPattern.matches("  at x"))
        #expect(multiline.conditionPattern.matches("  at x"), "patterns are searched, as in Vector")
    }

    @Test func errorsNameTheirKeys() {
        let result = build(
            componentConfig([
                "include": ["var/log/*.log"], "read_from": "middle", "max_line_bytes": "0",
                "multiline": ["start_pattern": "(?<=x)", "condition_pattern": "x", "mode": "sideways", "extra": "1"],
            ]))
        let expected = [
            #"petrel.yaml: sources.files.include: "var/log/*.log" is not an absolute path"#,
            #"petrel.yaml: sources.files.read_from: expected one of beginning, end, found "middle""#,
            "petrel.yaml: sources.files.max_line_bytes: must be at least 1 byte",
            "petrel.yaml: sources.files.multiline.start_pattern: invalid pattern: ",
            #"petrel.yaml: sources.files.multiline.mode: expected one of continue_through, continue_past, "#
                + #"halt_before, halt_with, found "sideways""#,
            "petrel.yaml: sources.files.multiline.extra: unknown key",
        ]
        #expect(result.errors.count == expected.count)
        for (error, prefix) in zip(result.errors, expected) {
            #expect(error.hasPrefix(prefix))
        }
    }

    @Test func includeIsRequired() {
        #expect(
            build(componentConfig([:])).errors == [
                "petrel.yaml: sources.files.include: missing: the globs of the files to tail"
            ])
        #expect(
            build(componentConfig(["include": []])).errors == [
                "petrel.yaml: sources.files.include: must name at least one glob"
            ])
    }

    @Test func multilineNeedsItsPatternsAndMode() {
        let result = build(componentConfig(["include": ["/a/*.log"], "multiline": ["timeout": "1s"]]))
        #expect(result.errors.count == 3, "\(result.errors)")
        #expect(result.errors.allSatisfy { $0.contains("sources.files.multiline.") })
    }
}
