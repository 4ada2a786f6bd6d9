import Logging
import PetrelCodecs
import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bootstraps swift-log once for the process: text or JSON lines on standard error.
enum LoggingSetup {
    enum Format: String {
        case text
        case json
    }

    static func level(_ name: String) -> Logger.Level? {
        Logger.Level(rawValue: name.lowercased())
    }

    static func bootstrap(level name: String, format name2: String) {
        let level = level(name) ?? .info
        let format = Format(rawValue: name2) ?? .text
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                switch format {
                case .text: StreamLogHandler.standardError(label: label)
                case .json: JSONLogHandler(label: label)
                }
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes each log entry as one JSON object per line on standard error, for log collectors.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.key("timestamp")
        writer.string(RFC3339.format(nanoseconds: WallClock.nowNanoseconds()))
        writer.key("level")
        writer.string(event.level.rawValue)
        writer.key("message")
        writer.string(event.message.description)
        writer.key("logger")
        writer.string(label)
        var merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        if let error = event.error { merged["error"] = "\(error)" }
        for key in merged.keys.sorted() {
            writer.key(key)
            writer.string(merged[key]!.description)
        }
        writer.endObject()
        writer.newline()
        writer.bytes.withUnsafeBytes { bytes in
            _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count)
        }
    }
}
