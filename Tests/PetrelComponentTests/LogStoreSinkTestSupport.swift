import Logging
import PetrelCore
import PetrelSinks
import Synchronization

/// Container log records as `kubernetes_logs` makes them, for the log store sinks' tests.
enum LogStoreFixtures {
    /// `count` records of `pod` (messages `pod=<pod> seq=<n>`), a second apart from `start` (ns since the epoch).
    static func records(
        pod: String = "api-7d4b9-x2x7q", count: Int, firstSeq: Int = 0,
        start: Int64 = 1_765_000_000_000_000_000
    ) -> [LogRecord] {
        (0..<count).map { index in
            let seq = firstSeq + index
            return LogRecord(
                timestamp: start + Int64(seq) * 1_000_000_000, message: "pod=\(pod) seq=\(seq)",
                severity: seq % 2 == 0 ? "INFO" : "",
                fields: ["log.iostream": .string(seq % 3 == 0 ? "stderr" : "stdout"), "n": .int(Int64(seq))],
                metadata: ["file": "/var/log/pods/shop_\(pod)_uid-1/api/0.log", "source_type": "kubernetes_logs"],
                resource: [
                    Attribute("k8s.namespace.name", .string("shop")), Attribute("k8s.pod.name", .string(pod)),
                    Attribute("k8s.pod.uid", .string("uid-1")), Attribute("k8s.container.name", .string("api")),
                    Attribute("k8s.container.restart_count", .int(0)), Attribute("k8s.node.name", .string("node-a")),
                    Attribute("k8s.pod.label.app", .string("api")),
                    Attribute("k8s.pod.label.app.kubernetes.io/name", .string("shop-api")),
                ])
        }
    }
}

/// An acknowledgement that counts how often it fired (once, or never while held).
final class AcknowledgementProbe: Sendable {
    private let count = Atomic<Int>(0)

    var acknowledgement: Acknowledgement {
        Acknowledgement { [self] in count.add(1, ordering: .relaxed) }
    }

    var isAcknowledged: Bool { count.load(ordering: .relaxed) > 0 }
}

/// Runs a sink over `envelopes` until it has delivered or dropped everything; its telemetry.
func runLogStoreSink(
    _ sink: some Sink, id: String, type: String, _ envelopes: [Envelope]
) async throws -> ComponentTelemetry {
    let queue = BatchQueue(capacity: max(envelopes.count, 1), producers: 1)
    for envelope in envelopes { try await queue.send(envelope) }
    queue.producerFinished()
    let telemetry = componentTestTelemetry(id: id, type: type, kind: .sink)
    try await sink.run(
        SinkInput(queue: queue, telemetry: telemetry),
        SinkContext(id: id, telemetry: telemetry, logger: Logger(label: "test")))
    return telemetry
}

extension ComponentTelemetry {
    /// Events the sink dropped for `reason`.
    func discarded(_ reason: String) -> Int64? {
        registry.value(
            "petrel_component_discarded_events_total",
            labels: [("component_id", id), ("component_kind", "sink"), ("component_type", type), ("reason", reason)])
    }

    var sent: Int64? {
        registry.value(
            "petrel_component_sent_events_total",
            labels: [("component_id", id), ("component_kind", "sink"), ("component_type", type)])
    }
}
