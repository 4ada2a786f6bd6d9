import Foundation
import Logging
import PetrelCodecs
import PetrelComponents
import PetrelConfig
import PetrelCore
import PetrelTestSupport
import PetrelTopology

/// One series of a test push: labels and (timestamp ms, value) samples.
struct TestSeries: Hashable {
    var labels: [String: String]
    var samples: [Sample]
}

/// Builds remote-write requests the way a Prometheus sender would: protobuf, snappy-compressed.
enum RemoteWriteRequest {
    static func body(_ series: [TestSeries], version: Int = 1) -> [UInt8] {
        var batch = MetricBatch()
        for item in series {
            batch.appendSeries(labels: item.labels.map { ($0.key, $0.value) }, samples: item.samples)
        }
        var encoder = RemoteWriteEncoder()
        let bytes = version == 1 ? encoder.encodeV1(batch) : encoder.encodeV2(batch)
        return Snappy.compress(bytes)
    }

    static func headers(version: Int = 1) -> [String: String] {
        [
            "Content-Encoding": "snappy",
            "Content-Type": version == 1
                ? "application/x-protobuf" : "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            "X-Prometheus-Remote-Write-Version": version == 1 ? "0.1.0" : "2.0.0",
        ]
    }

    /// POSTs series to a remote-write endpoint on a loopback port.
    static func push(_ series: [TestSeries], port: Int, version: Int = 1) async -> LoopbackResponse? {
        await httpRequest(
            port: port, method: "POST", path: "/api/v1/write", headers: headers(version: version),
            body: body(series, version: version))
    }
}

/// A Petrel pipeline run in-process from YAML, with its remote-write source on a free port.
final class RunningPipeline: @unchecked Sendable {
    let topology: Topology
    let sourcePort: Int
    private var task: Task<Void, any Error>?

    init(_ yaml: (Int) -> String, queueCapacity: Int = Topology.defaultQueueCapacity) throws {
        sourcePort = freePort()
        let config = try ConfigLoader(registry: BuiltinComponents.registry, environment: [:]).parse(
            yaml(sourcePort), file: "test.yaml")
        topology = Topology(
            config: config, telemetry: TelemetryRegistry(), recordCodec: BufferRecordCodec(),
            logger: Logger(label: "test"), queueCapacity: queueCapacity)
    }

    func start() async throws {
        let topology = self.topology
        task = Task { try await topology.run() }
        for _ in 0..<200 where !topology.readiness.isReady {
            try await Task.sleep(for: .milliseconds(10))
        }
        guard topology.readiness.isReady else { throw TestSupportError("the pipeline did not become ready") }
    }

    /// Stops accepting, drains every queue and waits until the sinks have delivered everything.
    func stop() async throws {
        topology.stop()
        try await task?.value
        task = nil
    }

    func counter(_ name: String, component: String, kind: String, type: String) -> Int64? {
        topology.telemetry.value(
            name, labels: [("component_id", component), ("component_kind", kind), ("component_type", type)])
    }
}

/// Sample timestamps near now (VictoriaMetrics refuses samples far in the future or past).
let baseTimestamp = (Int64(Date().timeIntervalSince1970) - 600) * 1000
