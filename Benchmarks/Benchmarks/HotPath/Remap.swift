import Benchmark
import Logging
import PetrelCore
import PetrelTransforms

/// The `remap` transform on a batch of `RemapFixture.recordsPerBatch` JSON log lines: parse the JSON, four field
/// operations (drop, downcase, a timestamp from a field, add), encode the event back to JSON.
func remapBenchmarks() {
    let fixture = RemapFixture.shared
    var remap = RemapFixture.transform()
    let context = Transforms.context("shape", type: "remap")
    let check = remap.process(.logs(fixture.batch), context)
    guard case .logs(let checked)? = check, checked.records.count == fixture.batch.records.count,
        checked.records[0].message.contains(#""level":"info""#),
        checked.records[0].timestamp == 1_704_067_200_100_000_000,
        checked.records[0].fields["service"] == .string("checkout")
    else { fatalError("the remap program does not do what the benchmark measures: \(String(describing: check))") }

    Benchmark("Remap: parse_json + 4 field operations + encode_json") { benchmark in
        benchmark.measuringThreadCPU {
            blackHole(remap.process(.logs(fixture.batch), context))
        }
    }
}

/// JSON access-log lines, one batch, built once.
struct RemapFixture: Sendable {
    static let recordsPerBatch = 1000
    static let shared = RemapFixture()

    /// The per-event work of issue #13 (as `Benchmarks/Remap/reshape.yaml`):
    /// ```
    /// . |= object!(parse_json!(.message))
    /// del(.path)
    /// .level = downcase!(.level)
    /// .timestamp = parse_timestamp!(.ts, "%+")
    /// .service = "checkout"
    /// .message = encode_json(.)
    /// ```
    static let program = """
        . |= object!(parse_json!(.message))
        del(.path)
        .level = downcase!(.level)
        .timestamp = parse_timestamp!(.ts, "%+")
        .service = "checkout"
        .message = encode_json(.)
        """

    let batch: LogBatch

    private init() {
        var records: [LogRecord] = []
        for index in 0..<Self.recordsPerBatch {
            let message =
                #"{"level":"INFO","ts":"2024-01-01T00:00:00.\#(100 + index % 900)Z","msg":"request served","method":"GET","path":"/api/v1/items/\#(index)","status":200,"duration_ms":\#(index % 97)}"#
            records.append(LogRecord(timestamp: 1_704_067_200_000_000_000 + Int64(index), message: message))
        }
        batch = LogBatch(records: records)
    }

    static func transform() -> RemapTransform {
        let diagnostics = ConfigDiagnostics(file: "benchmark")
        let node = ConfigNode(.mapping([(key: "source", node: ConfigNode(.scalar(program)))]))
        let reader = ConfigReader(node: node, path: "transforms.shape", diagnostics: diagnostics)
        guard let config = RemapConfig.parse(reader) else { fatalError("cannot build remap: \(diagnostics.errors)") }
        return RemapTransform(config: config)
    }
}
