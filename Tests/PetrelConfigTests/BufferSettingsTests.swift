import Testing

@testable import PetrelConfig

/// A sink's `buffer` and the top-level `memory_limit` and `shutdown_timeout`.
@Suite struct BufferSettingsTests {
    private func sink(_ buffer: String) -> String {
        """
        sources:
          in:
            type: metrics_gen
        sinks:
          out:
            type: metrics_sink
            inputs: [in]
            buffer: \(buffer)
        """
    }

    @Test func aSinkWithoutABufferHasTheDefaultMemoryBuffer() throws {
        let config = try Fakes.loader().parse(minimalPipeline, file: "petrel.yaml")
        #expect(config.component("out")?.buffer == .memory(maxEvents: BufferConfig.defaultMaxEvents))
        #expect(config.memoryLimit == nil)
        #expect(config.shutdownTimeout == .seconds(30))
    }

    @Test func diskAndMemoryBuffersAreRead() throws {
        let disk = try Fakes.loader().parse(
            sink("{ type: disk, max_size: 10GiB, when_full: drop_newest, fsync: 200ms }"), file: "petrel.yaml")
        #expect(
            disk.component("out")?.buffer
                == .disk(.init(maxSize: 10 << 30, whenFull: .dropNewest, fsync: .interval(.milliseconds(200)))))
        let memory = try Fakes.loader().parse(sink("{ type: memory, max_events: 5000 }"), file: "petrel.yaml")
        #expect(memory.component("out")?.buffer == .memory(maxEvents: 5000))
        let defaults = try Fakes.loader().parse(sink("{ type: disk, max_size: 64MiB }"), file: "petrel.yaml")
        #expect(defaults.component("out")?.buffer == .disk(.init(maxSize: 64 << 20, whenFull: .block, fsync: .batch)))
    }

    @Test func badBufferSettingsNameTheSinkAndTheKey() {
        #expect(
            errors(sink("{ type: disk }")) == [
                "petrel.yaml:8: sinks.out.buffer.max_size: is required for a disk buffer (for example `max_size: 10GiB`)"
            ])
        #expect(
            errors(sink("{ type: tape }")) == [
                #"petrel.yaml:8: sinks.out.buffer.type: expected one of memory, disk, found "tape""#
            ])
        #expect(
            errors(sink("{ type: disk, max_size: 10GiB, when_full: wait }")) == [
                #"petrel.yaml:8: sinks.out.buffer.when_full: expected one of block, drop_newest, found "wait""#
            ])
        #expect(
            errors(sink("{ type: disk, max_size: 4KiB }")) == [
                "petrel.yaml:8: sinks.out.buffer.max_size: must be at least 1MiB, found 4096 bytes"
            ])
        #expect(
            errors(sink("{ type: memory, max_events: 10, size: 3 }")) == [
                "petrel.yaml:8: sinks.out.buffer.size: unknown key"
            ])
    }

    @Test func memoryLimitAndShutdownTimeoutAreReadAndChecked() throws {
        let config = try Fakes.loader().parse(
            "memory_limit: 512MiB\nshutdown_timeout: 5s\n" + minimalPipeline, file: "petrel.yaml")
        #expect(config.memoryLimit == 512 << 20)
        #expect(config.shutdownTimeout == .seconds(5))
        #expect(
            errors("memory_limit: 1MiB\n" + minimalPipeline) == [
                "petrel.yaml:1: memory_limit: must be at least 16MiB, found 1048576 bytes"
            ])
    }
}
