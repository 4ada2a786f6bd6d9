import ArgumentParser
import Foundation

/// `petrel tap`: events a running Petrel's components send, sampled, as JSON lines (or one-line summaries).
struct TapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tap",
        abstract: "Print events flowing through a running Petrel, sampled, over its API.",
        discussion: """
            Events go to standard output, one per line; notices (what matched, what was sampled out or dropped) go \
            to standard error. Without --outputs-of or --inputs-of every output is tapped. A tap costs the pipeline \
            nothing while no one is tapping, and never slows it while someone is: past --rate, and when this client \
            reads too slowly, events are left out and counted.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json
        case text
    }

    @Option(help: "The API of the running Petrel (env: PETREL_API_URL).")
    var url: String = Environment.value("PETREL_API_URL") ?? APIClient.defaultURL

    @Option(
        name: .customLong("outputs-of"),
        help: "Tap the outputs of the components matching this id pattern (* and ?); repeatable.")
    var outputsOf: [String] = []

    @Option(name: .customLong("inputs-of"), help: "Tap what the components matching this id pattern read; repeatable.")
    var inputsOf: [String] = []

    @Option(help: "Stop after this many events.")
    var limit: Int?

    @Option(help: "Events per second at most; the rest are sampled out.")
    var rate = 100

    @Option(
        help: "json: each event as the console sink prints it, with component_id and output; text: one-line summaries.")
    var format: Format = .json

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        guard (1...100_000).contains(rate) else { throw ValidationError("--rate must be from 1 to 100000") }
    }

    func run() async throws {
        var query = ["rate=\(rate)"]
        query += outputsOf.map { "outputs_of=\(APIClient.encode($0))" }
        query += inputsOf.map { "inputs_of=\(APIClient.encode($0))" }
        if let limit { query.append("limit=\(limit)") }
        // The API writes a notice at least every few seconds, so a long wait for bytes means it has gone.
        let client = try APIClient(url: url, timeout: .seconds(30))
        var printer = TapPrinter(format: format, limit: limit)
        do {
            var pending: [UInt8] = []
            try await client.stream("/tap?" + query.joined(separator: "&")) { chunk in
                pending += chunk
                guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { return true }
                let complete = pending[...lastNewline]
                pending.removeSubrange(...lastNewline)
                return printer.print(complete)
            }
        } catch {
            await client.shutdown()
            var standardError = StandardError()
            Swift.print("petrel tap: \(error)", to: &standardError)
            throw ExitCode(1)
        }
        await client.shutdown()
    }
}

/// Prints the lines of `/tap`: events to standard output, notices to standard error.
struct TapPrinter {
    let format: TapCommand.Format
    let limit: Int?
    private var printed = 0
    private var reported: (sampledOut: Int, dropped: Int) = (0, 0)

    init(format: TapCommand.Format, limit: Int?) {
        self.format = format
        self.limit = limit
    }

    /// Prints whole lines; false once the limit is reached.
    mutating func print(_ lines: ArraySlice<UInt8>) -> Bool {
        var output: [UInt8] = []
        var keepGoing = true
        for line in lines.split(separator: UInt8(ascii: "\n")) {
            guard keepGoing else { break }
            if line.starts(with: Array(#"{"tap":"#.utf8)) {
                notice(line)
                continue
            }
            switch format {
            case .json: output += line
            case .text: output += Array(Self.summary(line).utf8)
            }
            output.append(UInt8(ascii: "\n"))
            printed += 1
            if let limit, printed >= limit { keepGoing = false }
        }
        FileHandle.standardOutput.write(Data(output))
        return keepGoing
    }

    private mutating func notice(_ line: ArraySlice<UInt8>) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return }
        var standardError = StandardError()
        switch object["tap"] as? String {
        case "matched":
            let outputs = object["outputs"] as? [String] ?? []
            Swift.print(
                outputs.isEmpty
                    ? "[tap] no output matches yet; waiting for one"
                    : "[tap] tapping \(outputs.joined(separator: ", "))", to: &standardError)
        case "status":
            let sampledOut = object["sampled_out"] as? Int ?? 0
            let dropped = object["dropped"] as? Int ?? 0
            guard sampledOut != reported.sampledOut || dropped != reported.dropped else { return }
            reported = (sampledOut, dropped)
            Swift.print(
                "[tap] so far \(sampledOut) events sampled out (over --rate), \(dropped) dropped (this client read too slowly)",
                to: &standardError)
        case "end":
            if object["reason"] as? String == "shutdown" {
                Swift.print("[tap] petrel is shutting down", to: &standardError)
            }
        default:
            break
        }
    }

    /// One line per event: where it came from, then what it is.
    static func summary(_ line: ArraySlice<UInt8>) -> String {
        guard let event = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            return String(decoding: line, as: UTF8.self)
        }
        let output = event["output"] as? String ?? "?"
        switch event["kind"] as? String {
        case "log":
            let severity = (event["severity"] as? String).map { " \($0)" } ?? ""
            return
                "\(output) log \(event["timestamp"] as? String ?? "")\(severity) \(event["message"] as? String ?? "")"
        case "metric", "histogram":
            var labels = event["labels"] as? [String: String] ?? [:]
            let name = labels.removeValue(forKey: "__name__") ?? ""
            let pairs = labels.keys.sorted().map { "\($0)=\"\(labels[$0]!)\"" }.joined(separator: ",")
            let value =
                event["kind"] as? String == "metric" ? "\(event["value"] ?? "")" : "count=\(event["count"] ?? "")"
            return "\(output) metric \(name){\(pairs)} \(value)"
        case "span":
            let milliseconds = Double(event["duration_ns"] as? Int ?? 0) / 1_000_000
            return
                "\(output) span \(event["name"] as? String ?? "") trace=\(event["trace_id"] as? String ?? "") \(milliseconds)ms \(event["status"] as? String ?? "")"
        default:
            return String(decoding: line, as: UTF8.self)
        }
    }
}
