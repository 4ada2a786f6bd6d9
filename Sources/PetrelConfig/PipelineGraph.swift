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

    /// Tarjan's algorithm over the edges, walked with a stack of its own: a chain of tens of thousands of
    /// transforms would overflow the thread's stack by recursion.
    private func stronglyConnectedComponents() -> [[Int]] {
        var order = [Int?](repeating: nil, count: entries.count)
        var lowLink = [Int](repeating: 0, count: entries.count)
        var onStack = [Bool](repeating: false, count: entries.count)
        var stack: [Int] = []
        var counter = 0
        var components: [[Int]] = []
        // Each frame is a component being visited and how many of its out-edges are done.
        var frames: [(index: Int, nextEdge: Int)] = []
        func enter(_ index: Int) {
            order[index] = counter
            lowLink[index] = counter
            counter += 1
            stack.append(index)
            onStack[index] = true
            frames.append((index, 0))
        }
        for root in entries.indices where order[root] == nil {
            enter(root)
            while let (index, nextEdge) = frames.last {
                let out = edgesOutOf[index]
                if nextEdge < out.count {
                    frames[frames.count - 1].nextEdge += 1
                    let next = edges[out[nextEdge]].to
                    if let nextOrder = order[next] {
                        if onStack[next] { lowLink[index] = min(lowLink[index], nextOrder) }
                    } else {
                        enter(next)
                    }
                    continue
                }
                frames.removeLast()
                if let caller = frames.last?.index { lowLink[caller] = min(lowLink[caller], lowLink[index]) }
                guard lowLink[index] == order[index] else { continue }
                var component: [Int] = []
                while let member = stack.popLast() {
                    onStack[member] = false
                    component.append(member)
                    if member == index { break }
                }
                components.append(component)
            }
        }
        return components
    }

    /// Sources in file order, then transforms each after all of its inputs (the earliest in the file first
    /// where free to choose), then sinks; components on or after a cycle are left out. Linear in the edges,
    /// so a long chain listed backwards costs no more than one listed forwards.
    private func topologicalOrder() -> [Int] {
        var waitingFor = edgesInto.map(\.count)
        var order: [Int] = []
        // Transforms whose inputs are all placed, smallest file index first.
        var ready = MinimumHeap()
        func place(_ index: Int) {
            order.append(index)
            for edgeIndex in edgesOutOf[index] {
                let next = edges[edgeIndex].to
                waitingFor[next] -= 1
                if waitingFor[next] == 0 && entries[next].kind == .transform { ready.insert(next) }
            }
        }
        // Transforms that read nothing (an error of their own); the rest become ready as their inputs are placed.
        for index in entries.indices where entries[index].kind == .transform && edgesInto[index].isEmpty {
            ready.insert(index)
        }
        for index in entries.indices where entries[index].kind == .source {
            place(index)
        }
        while let index = ready.popMinimum() {
            place(index)
        }
        for index in entries.indices where entries[index].kind == .sink && waitingFor[index] == 0 {
            order.append(index)
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

/// A binary min-heap of component indices, for placing ready transforms in file order.
private struct MinimumHeap {
    private var items: [Int] = []

    mutating func insert(_ item: Int) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMinimum() -> Int? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let minimum = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count && items[left] < items[smallest] { smallest = left }
            if right < items.count && items[right] < items[smallest] { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return minimum
    }
}
