import PetrelCore

/// A component as read from its section, before the graph around it is checked.
struct ComponentEntry {
    /// One id listed under `inputs`, located for error messages.
    struct Input {
        var id: String
        var path: String
        var line: Int
    }

    var id: String
    var kind: ComponentKind
    /// `nil` when missing or not a single value.
    var type: String?
    /// `sources.ID`, `transforms.ID` or `sinks.ID`.
    var path: String
    var line: Int
    var inputs: [Input]
    /// Whether `inputs` is all the component reads; false when they could not all be read.
    var inputsComplete = true
    /// `nil` when the component could not be built (its errors are recorded).
    var built: BuiltComponent?
    /// A sink's `buffer`.
    var buffer = BufferConfig.default
}

/// The checks that need the whole graph: inputs that exist and have output, cycles, components whose
/// output goes nowhere, and signals a reader cannot take. It also puts the components in topological order.
struct PipelineGraph {
    /// One `inputs` entry that names an existing component with output: data flows from `from` to `to`.
    private struct Edge {
        var from: Int
        var to: Int
        var input: ComponentEntry.Input
    }

    /// Components with unique ids, in file order.
    let entries: [ComponentEntry]
    private var indices: [String: Int] = [:]
    private var edges: [Edge] = []
    private var edgesInto: [[Int]]
    private var edgesOutOf: [[Int]]

    init(entries: [ComponentEntry]) {
        self.entries = entries
        edgesInto = Array(repeating: [], count: entries.count)
        edgesOutOf = Array(repeating: [], count: entries.count)
        for (index, entry) in entries.enumerated() {
            indices[entry.id] = index
        }
    }

    /// Records every problem of the graph and returns the components that can run, in topological order.
    ///
    /// `complete` is false when components were left out (their id was taken). The result is complete
    /// only when no error was recorded, here or before.
    mutating func check(_ diagnostics: ConfigDiagnostics, complete: Bool) -> [ComponentConfig] {
        let suggested = connect(diagnostics)
        // With some inputs unknown, who reads what is unknown too; "nobody reads" would be a guess.
        if complete && entries.allSatisfy(\.inputsComplete) {
            reportUnread(diagnostics, except: suggested)
        }
        reportCycles(diagnostics)
        let order = topologicalOrder()
        let emits = signals(in: order, diagnostics)
        return order.compactMap { index in
            let entry = entries[index]
            guard let built = entry.built, let type = entry.type, let emitted = emits[index] else { return nil }
            return ComponentConfig(
                id: entry.id, type: type, kind: entry.kind, inputs: entry.inputs.map(\.id), component: built,
                accepts: Self.accepts(built), emits: emitted, buffer: entry.buffer)
        }
    }

    /// Turns `inputs` into edges, reporting the ones that cannot be; returns the ids offered as "did you mean".
    private mutating func connect(_ diagnostics: ConfigDiagnostics) -> Set<String> {
        var suggested: Set<String> = []
        for (index, entry) in entries.enumerated() {
            var seen: Set<String> = []
            for input in entry.inputs {
                guard seen.insert(input.id).inserted else {
                    diagnostics.error(input.path, line: input.line, "\"\(input.id)\" is listed more than once")
                    continue
                }
                guard input.id != entry.id else {
                    diagnostics.error(input.path, line: input.line, "a component cannot read its own output")
                    continue
                }
                guard let source = indices[input.id] ?? namedOutput(input.id) else {
                    var message = "unknown component \"\(input.id)\""
                    let candidates = entries.lazy.filter { $0.kind != .sink && $0.id != entry.id }.flatMap { other in
                        [other.id] + Self.namedOutputs(of: other).map { "\(other.id).\($0)" }
                    }
                    if let suggestion = EditDistance.closest(to: input.id, among: candidates) {
                        suggested.insert(suggestion)
                        message += "; did you mean \"\(suggestion)\"?"
                    }
                    diagnostics.error(input.path, line: input.line, message)
                    continue
                }
                guard source != index else {
                    diagnostics.error(input.path, line: input.line, "a component cannot read its own output")
                    continue
                }
                guard entries[source].kind != .sink else {
                    diagnostics.error(
                        input.path, line: input.line, "\"\(input.id)\" is a sink, and a sink has no output to read")
                    continue
                }
                edgesInto[index].append(edges.count)
                edgesOutOf[source].append(edges.count)
                edges.append(Edge(from: source, to: index, input: input))
            }
        }
        return suggested
    }

    /// The transform whose named output `id` is (`remap_id.dropped`).
    private func namedOutput(_ id: String) -> Int? {
        guard let dot = id.lastIndex(of: "."), let index = indices[String(id[..<dot])] else { return nil }
        return Self.namedOutputs(of: entries[index]).contains(String(id[id.index(after: dot)...])) ? index : nil
    }

    private static func namedOutputs(of entry: ComponentEntry) -> [String] {
        guard case .transform(let transform, _)? = entry.built else { return [] }
        return transform.namedOutputs
    }

    /// A source or transform that nobody reads is a component nobody needs, most likely a mistake.
    private func reportUnread(_ diagnostics: ConfigDiagnostics, except suggested: Set<String>) {
        for (index, entry) in entries.enumerated()
        where entry.kind != .sink && edgesOutOf[index].isEmpty && !suggested.contains(entry.id) {
            let consequence = entry.kind == .transform ? ", so its output goes nowhere" : ""
            diagnostics.error(
                entry.path, line: entry.line,
                "no component reads from \"\(entry.id)\"\(consequence); list it in the inputs of a transform"
                    + " or a sink, or remove it")
        }
    }

    /// Reports one cycle per strongly connected group of components (only transforms can form one).
    private func reportCycles(_ diagnostics: ConfigDiagnostics) {
        for component in stronglyConnectedComponents() where component.count > 1 {
            let members = Set(component)
            let start = component.min()!
            // Shortest way round from `start`, following the data, so the message names a real cycle.
            var previous: [Int: Int] = [:]
            var queue = [start]
            var closing: Int?
            search: while !queue.isEmpty {
                let current = queue.removeFirst()
                for edgeIndex in edgesOutOf[current] {
                    let next = edges[edgeIndex].to
                    guard members.contains(next) else { continue }
                    if next == start {
                        closing = edgeIndex
                        break search
                    }
                    if previous[next] == nil {
                        previous[next] = current
                        queue.append(next)
                    }
                }
            }
            guard let closing else { continue }
            var chain: [Int] = []
            var current = edges[closing].from
            while current != start {
                chain.append(current)
                current = previous[current]!
            }
            let cycle = [start] + chain.reversed() + [start]
            let input = edges[closing].input
            diagnostics.error(
                input.path, line: input.line,
                "cycle: \(cycle.map { entries[$0].id }.joined(separator: " -> ")) (each reads the one before it)")
        }
    }

    /// Tarjan's algorithm over the edges; the graph is a configuration's, small enough for recursion.
    private func stronglyConnectedComponents() -> [[Int]] {
        var state = TarjanState(count: entries.count)
        for index in entries.indices where state.order[index] == nil {
            visit(index, &state)
        }
        return state.components
    }

    private struct TarjanState {
        var order: [Int?]
        var lowLink: [Int]
        var onStack: [Bool]
        var stack: [Int] = []
        var counter = 0
        var components: [[Int]] = []

        init(count: Int) {
            order = Array(repeating: nil, count: count)
            lowLink = Array(repeating: 0, count: count)
            onStack = Array(repeating: false, count: count)
        }
    }

    private func visit(_ index: Int, _ state: inout TarjanState) {
        state.order[index] = state.counter
        state.lowLink[index] = state.counter
        state.counter += 1
        state.stack.append(index)
        state.onStack[index] = true
        for edgeIndex in edgesOutOf[index] {
            let next = edges[edgeIndex].to
            if let order = state.order[next] {
                if state.onStack[next] { state.lowLink[index] = min(state.lowLink[index], order) }
            } else {
                visit(next, &state)
                state.lowLink[index] = min(state.lowLink[index], state.lowLink[next])
            }
        }
        guard state.lowLink[index] == state.order[index] else { return }
        var component: [Int] = []
        while let member = state.stack.popLast() {
            state.onStack[member] = false
            component.append(member)
            if member == index { break }
        }
        state.components.append(component)
    }

    /// Sources in file order, then transforms each after all of its inputs (in file order where free to
    /// choose), then sinks; components on or after a cycle are left out.
    private func topologicalOrder() -> [Int] {
        var placed = Array(repeating: false, count: entries.count)
        var order: [Int] = []
        func isReady(_ index: Int) -> Bool {
            !placed[index] && edgesInto[index].allSatisfy { placed[edges[$0].from] }
        }
        func place(_ index: Int) {
            placed[index] = true
            order.append(index)
        }
        for index in entries.indices where entries[index].kind == .source {
            place(index)
        }
        var progress = true
        while progress {
            progress = false
            for index in entries.indices where entries[index].kind == .transform && isReady(index) {
                place(index)
                progress = true
            }
        }
        for index in entries.indices where entries[index].kind == .sink && isReady(index) {
            place(index)
        }
        return order
    }

    /// The signals each component sends on (`nil` where unknown because something upstream failed to
    /// build), reporting every input whose signals its reader takes none of.
    private func signals(in order: [Int], _ diagnostics: ConfigDiagnostics) -> [Int: SignalSet] {
        var emits: [Int: SignalSet] = [:]
        for index in order {
            let entry = entries[index]
            guard let built = entry.built else { continue }
            let accepts = Self.accepts(built)
            var received: SignalSet = []
            var known = true
            for edgeIndex in edgesInto[index] {
                let edge = edges[edgeIndex]
                guard let upstream = emits[edge.from] else {
                    known = false
                    continue
                }
                received.formUnion(upstream)
                // An input that emits nothing already has its own error upstream.
                if !upstream.isEmpty && upstream.isDisjoint(with: accepts) {
                    diagnostics.error(
                        edge.input.path, line: edge.input.line,
                        "\"\(entries[edge.from].id)\" emits \(Self.describe(upstream)) but the \(entry.type ?? "")"
                            + " \(entry.kind) takes \(Self.describe(accepts))")
                }
            }
            switch built {
            case .source(_, let signals): emits[index] = signals
            case .transform(let transform, _):
                if known { emits[index] = transform.emits(from: received.intersection(accepts)) }
            case .sink: emits[index] = []
            }
        }
        return emits
    }

    private static func accepts(_ built: BuiltComponent) -> SignalSet {
        switch built {
        case .source: []
        case .transform(_, let accepts), .sink(_, let accepts): accepts
        }
    }

    /// `metrics`, `metrics and logs`, `metrics, logs and traces`.
    static func describe(_ signals: SignalSet) -> String {
        let names = Signal.allCases.filter { signals.contains($0) }.map(\.rawValue)
        switch names.count {
        case 0: return "nothing"
        case 1: return names[0]
        default: return names.dropLast().joined(separator: ", ") + " and " + names.last!
        }
    }
}
