import Benchmark
import PetrelCodecs

/// Container log lines as the `kubernetes_logs` source reads them: `linesPerIteration` lines a file holds, parsed
/// as CRI (containerd) and as Docker `json-file`, and CRI with partial lines merged.
func containerLogBenchmarks() {
    precondition(Benchmark.defaultConfiguration.scalingFactor.rawValue == ContainerLogFixture.linesPerIteration)
    let fixture = ContainerLogFixture.shared
    let parser = ContainerLogParser()

    Benchmark("Container logs: parse CRI") { benchmark in
        benchmark.measuringThreadCPU {
            for line in fixture.cri { blackHole(try! parser.parseCRI(line)) }
        }
    }

    Benchmark("Container logs: parse Docker json-file") { benchmark in
        benchmark.measuringThreadCPU {
            for line in fixture.docker { blackHole(try! parser.parseDocker(line)) }
        }
    }

    // One line in ten is split in three pieces (P, P, F), as long stack traces are.
    Benchmark("Container logs: parse CRI + merge partial lines") { benchmark in
        var merger = PartialLineMerger<Int>()
        benchmark.measuringThreadCPU {
            for (index, line) in fixture.criWithPartials.enumerated() {
                if let record = merger.add(try! parser.parseCRI(line), token: index) { blackHole(record) }
            }
        }
    }
}

/// Log lines of the shapes real workloads write: JSON access logs, plain text, a few escapes.
struct ContainerLogFixture: Sendable {
    static let linesPerIteration = 1000
    static let shared = ContainerLogFixture()

    let cri: [ArraySlice<UInt8>]
    let docker: [ArraySlice<UInt8>]
    let criWithPartials: [ArraySlice<UInt8>]

    private init() {
        var cri: [ArraySlice<UInt8>] = []
        var docker: [ArraySlice<UInt8>] = []
        var criWithPartials: [ArraySlice<UInt8>] = []
        for index in 0..<Self.linesPerIteration {
            let time = "2024-01-01T00:00:\(10 + index % 50).\(100_000_000 + index * 7919)Z"
            let stream = index % 7 == 0 ? "stderr" : "stdout"
            let message =
                index % 3 == 0
                ? #"{"level":"info","ts":"2024-01-01T00:00:00Z","msg":"request served","method":"GET","path":"/api/v1/items/\#(index)","status":200,"duration_ms":\#(index % 97)}"#
                : "I0101 00:00:00.000000       1 controller.go:\(index)] Reconciling object default/item-\(index) generation=\(index % 13)"
            cri.append(Array("\(time) \(stream) F \(message)".utf8)[...])
            var escaped = ""
            for character in message { escaped += character == "\"" ? "\\\"" : String(character) }
            docker.append(Array(#"{"log":"\#(escaped)\n","stream":"\#(stream)","time":"\#(time)"}"#.utf8)[...])
            let tag = index % 10 == 0 || index % 10 == 1 ? "P" : "F"
            criWithPartials.append(Array("\(time) \(stream) \(tag) \(message)".utf8)[...])
        }
        self.cri = cri
        self.docker = docker
        self.criWithPartials = criWithPartials
    }
}
