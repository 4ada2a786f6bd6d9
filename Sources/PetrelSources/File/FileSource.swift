import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tails log files matched by globs, as Vector's `file` source: one record per line (or per `multiline` group),
/// checkpoints that advance only over lines every buffer downstream holds.
public struct FileSource: Source {
    public let config: FileSourceConfig
    /// Where its checkpoints live: `<data_dir>/checkpoints/<source id>`.
    public let checkpointDirectory: String

    public init(config: FileSourceConfig, checkpointDirectory: String) {
        self.config = config
        self.checkpointDirectory = checkpointDirectory
    }

    public static let definition = ComponentDefinition(type: "file", kind: .source) { reader, context in
        let config = FileSourceConfig(from: reader)
        let directory = context.dataDirectory + "/checkpoints/" + context.id
        return .source(FileSource(config: config, checkpointDirectory: directory), emits: .logs)
    }

    public func run(_ context: SourceContext) async throws {
        let settings = TailerSettings(
            readFrom: config.readFrom, maxLineBytes: config.maxLineBytes, maxReadBytes: config.maxReadBytes,
            maxUnacknowledgedBytes: config.maxUnacknowledgedBytes, rotateWait: config.rotateWait,
            globMinimumCooldown: config.globMinimumCooldown, checkpointInterval: config.checkpointInterval,
            checkpointDirectory: checkpointDirectory)
        let host = Self.hostName()
        let multiline = config.multiline
        var tailer = FileTailer(
            discovery: GlobDiscovery(include: config.include, exclude: config.exclude), settings: settings,
            context: context
        ) { _ in
            FileLineDecoder(host: host, multiline: multiline)
        }
        try await tailer.run()
    }

    static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
