import ArgumentParser
import Foundation

/// `petrel top`: each component's events in and out per second, errors, discards and queues, and a scrape source's
/// targets up, refreshed each second.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract:
            "Show a running Petrel's components: events in/out per second, errors, discarded, queues, buffers, "
            + "scrape targets up.",
        discussion: """
            On a terminal the table is redrawn each second until interrupted; otherwise one table is printed each \
            second (or one only, with --once). Rates are measured over --interval.
            """)

    @Option(help: "The API of the running Petrel (env: PETREL_API_URL).")
    var url: String = Environment.value("PETREL_API_URL") ?? APIClient.defaultURL

    @Option(help: "Seconds between two readings.")
    var interval = 1.0

    @Flag(help: "Print one table (after one interval, to measure rates) and exit.")
    var once = false

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be from 0.1 to 3600") }
    }

    func run() async throws {
        let client = try APIClient(url: url, timeout: .seconds(10))
        let live = isatty(STDOUT_FILENO) == 1 && !once
        do {
            var previous = try await reading(client)
            while true {
                try await Task.sleep(for: .seconds(interval))
                let current = try await reading(client)
                let table = TopTable(previous: previous, current: current).render()
                // Home and clear, then the table: a redraw without scrolling.
                let text = live ? "\u{1B}[H\u{1B}[2J" + header() + table : table
                FileHandle.standardOutput.write(Data((text + (live ? "" : "\n")).utf8))
                if once { break }
                previous = current
            }
        } catch {
            await client.shutdown()
            var standardError = StandardError()
            Swift.print("petrel top: \(error)", to: &standardError)
            throw ExitCode(1)
        }
        await client.shutdown()
    }

    private func header() -> String {
        "petrel top \(url) (every \(interval)s, ctrl-c to quit)\n\n"
    }

    private func reading(_ client: APIClient) async throws -> TopReading {
        let body = try await client.get("/components")
        do {
            let answer = try JSONDecoder().decode(ComponentsAnswer.self, from: Data(body))
            return TopReading(at: .now, components: answer.components)
        } catch {
            throw APIClientError("\(client.endpoint("/components")) answered what is not a component list: \(error)")
        }
    }
}

/// The answer of `/components`.
struct ComponentsAnswer: Decodable {
    struct Component: Decodable {
        var id: String
        var kind: String
        var type: String
        var receivedEvents: Int?
        var sentEvents: Int?
        var errors: Int?
        var discardedEvents: Int?
        var queueBatches: Int?
        var queueEvents: Int?
        var queueBytes: Int?
        var queueCapacityBatches: Int?
        var queueMaxEvents: Int?
        var diskBufferBytes: Int?
        var diskBufferMaxBytes: Int?
        var targetsUp: Int?
        var targetsDown: Int?
        var targetsTotal: Int?

        enum CodingKeys: String, CodingKey {
            case id, kind, type, errors
            case receivedEvents = "received_events"
            case sentEvents = "sent_events"
            case discardedEvents = "discarded_events"
            case queueBatches = "queue_batches"
            case queueEvents = "queue_events"
            case queueBytes = "queue_bytes"
            case queueCapacityBatches = "queue_capacity_batches"
            case queueMaxEvents = "queue_max_events"
            case diskBufferBytes = "disk_buffer_bytes"
            case diskBufferMaxBytes = "disk_buffer_max_bytes"
            case targetsUp = "targets_up"
            case targetsDown = "targets_down"
            case targetsTotal = "targets_total"
        }
    }

    var components: [Component]
}

/// One reading of `/components` and when it was taken.
struct TopReading {
    var at: ContinuousClock.Instant
    var components: [ComponentsAnswer.Component]
}

/// The table of `petrel top`: one row per component, rates from two readings.
struct TopTable {
    let previous: TopReading
    let current: TopReading

    static let columns = ["ID", "KIND", "TYPE", "IN/S", "OUT/S", "ERRORS", "DISCARDED", "QUEUE", "BUFFER", "TARGETS"]
    /// Numbers are right-aligned, names left.
    static let rightAligned: Set<Int> = [3, 4, 5, 6, 7, 8, 9]

    func render() -> String {
        let elapsed = current.at - previous.at
        let seconds = max(1e-3, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        let before = Dictionary(previous.components.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        var rows = [Self.columns]
        for component in current.components {
            let earlier = before[component.id]
            func rate(_ value: KeyPath<ComponentsAnswer.Component, Int?>) -> String {
                guard let now = component[keyPath: value] else { return "-" }
                let then = earlier?[keyPath: value] ?? now
                return Self.number(Double(max(0, now - then)) / seconds)
            }
            rows.append([
                component.id, component.kind, component.type,
                component.kind == "source" ? "-" : rate(\.receivedEvents),
                component.kind == "sink" ? "-" : rate(\.sentEvents),
                "\(component.errors ?? 0)", "\(component.discardedEvents ?? 0)",
                Self.queue(component), Self.buffer(component), Self.targets(component),
            ])
        }
        let widths = Self.columns.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.indices.map { column in
                let padding = String(repeating: " ", count: widths[column] - row[column].count)
                return Self.rightAligned.contains(column) ? padding + row[column] : row[column] + padding
            }.joined(separator: "  ").trimmingTrailingSpaces
        }.joined(separator: "\n") + "\n"
    }

    /// What the input queue holds against its bound: batches for a transform, events for a sink's memory buffer.
    static func queue(_ component: ComponentsAnswer.Component) -> String {
        if let capacity = component.queueCapacityBatches {
            return "\(component.queueBatches ?? 0)/\(capacity)"
        }
        if let maxEvents = component.queueMaxEvents {
            return "\(component.queueEvents ?? 0)/\(maxEvents)"
        }
        return component.queueBatches.map { "\($0)" } ?? "-"
    }

    /// The bytes the buffer holds: on disk against `max_size` for a disk buffer, in memory otherwise.
    static func buffer(_ component: ComponentsAnswer.Component) -> String {
        if let maxBytes = component.diskBufferMaxBytes {
            return "\(bytes(component.diskBufferBytes ?? 0))/\(bytes(maxBytes)) disk"
        }
        guard component.kind != "source", let queueBytes = component.queueBytes else { return "-" }
        return bytes(queueBytes)
    }

    /// A scrape source's targets up against all it has, and how many are down (their last scrape failed; the
    /// ERRORS column counts every failed scrape).
    static func targets(_ component: ComponentsAnswer.Component) -> String {
        guard let total = component.targetsTotal else { return "-" }
        let down = component.targetsDown ?? 0
        return "\(component.targetsUp ?? 0)/\(total)" + (down > 0 ? ",\(down)down" : "")
    }

    static func number(_ value: Double) -> String {
        value >= 100 || value == value.rounded() ? String(Int(value.rounded())) : String(format: "%.1f", value)
    }

    static func bytes(_ value: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1024, unit < units.count - 1 {
            amount /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: "%.1f", amount) + " " + units[unit]
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
