import PetrelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings of the `remap` transform: the program (inline `source` or a `file`) and what becomes of events it fails
/// or aborts on.
public struct RemapConfig: Sendable {
    public var program: RemapProgram
    /// Drop an event the program fails on; otherwise it goes on unchanged. Errors are counted either way.
    public var dropOnError: Bool
    /// Drop an event the program reaches `abort` on; otherwise it goes on unchanged.
    public var dropOnAbort: Bool
    /// Send dropped events, as they came in, to the output `<id>.dropped` instead of discarding them.
    public var rerouteDropped: Bool

    public init(
        program: RemapProgram, dropOnError: Bool = false, dropOnAbort: Bool = true, rerouteDropped: Bool = false
    ) {
        self.program = program
        self.dropOnError = dropOnError
        self.dropOnAbort = dropOnAbort
        self.rerouteDropped = rerouteDropped
    }

    /// Reads the settings and compiles the program; every problem in the program is reported as
    /// `file:line:column` with the line and a caret. `nil` when anything is wrong.
    public static func parse(_ reader: ConfigReader) -> RemapConfig? {
        let dropOnError = reader.bool("drop_on_error", default: false)
        let dropOnAbort = reader.bool("drop_on_abort", default: true)
        let rerouteDropped = reader.bool("reroute_dropped", default: false)
        let hasSource = reader.contains("source")
        let hasFile = reader.contains("file")
        guard hasSource != hasFile else {
            _ = reader.node("source")
            _ = reader.node("file")
            reader.error(nil, "needs exactly one of source (the program) or file (a path to it)")
            return nil
        }
        let program: RemapProgram?
        if hasSource {
            program = compile(reader, "source")
        } else {
            guard let path = reader.string("file") else { return nil }
            guard let contents = readFile(path) else {
                reader.error("file", "cannot read the program \"\(path)\"")
                return nil
            }
            program = compile(contents, file: path, firstLine: 1, reader, "file")
        }
        return program.map {
            RemapConfig(program: $0, dropOnError: dropOnError, dropOnAbort: dropOnAbort, rerouteDropped: rerouteDropped)
        }
    }

    /// Compiles the program written inline at `key`; every problem is reported at its line and column in the
    /// configuration file. `nil` when it does not compile.
    public static func compile(_ reader: ConfigReader, _ key: String) -> RemapProgram? {
        guard let source = reader.string(key) else { return nil }
        let keyLine = reader.node.line > 0 ? (reader.node[key]?.line ?? 0) : 0
        // A block scalar (`source: |`) starts on the line after its key; a one-line program is on the key's line.
        let firstLine = keyLine == 0 ? 0 : (source.contains("\n") ? keyLine + 1 : keyLine)
        return compile(source, file: reader.diagnostics.file, firstLine: firstLine, reader, key)
    }

    private static func compile(
        _ text: String, file: String, firstLine: Int, _ reader: ConfigReader, _ key: String
    ) -> RemapProgram? {
        switch RemapProgram.compile(text) {
        case .success(let program):
            return program
        case .failure(let failure):
            for diagnostic in failure.diagnostics {
                let (line, column) = diagnostic.position(in: text)
                reader.diagnostics.report(
                    ConfigError(
                        file: file, line: firstLine == 0 ? 0 : firstLine + line - 1, column: column,
                        path: reader.path(key),
                        message: diagnostic.rendered(in: text, firstLine: max(firstLine, 1))))
            }
            return nil
        }
    }

    private static func readFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
