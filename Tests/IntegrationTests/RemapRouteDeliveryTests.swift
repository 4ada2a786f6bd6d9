import Foundation
import PetrelTestSupport
import Testing

/// A pod's JSON log lines through the real binary: `kubernetes_logs` → `remap` (parse the JSON body, drop a field,
/// downcase the level, take the time from a field) → `route` (errors / the rest) → two `file` sinks: each line in
/// the right file, field by field.
@Suite struct RemapRouteDeliveryTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-remap-route-\(UUID().uuidString)")

    private func records(_ name: String) -> [[String: Any]] {
        let text =
            (try? String(contentsOf: directory.appendingPathComponent("out/\(name).ndjson"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func eachLineReachesItsRouteReshaped() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("pods/shop_web-1_uid-a/app/0.log")
        try FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        let bodies = [
            #"{"level":"ERROR","msg":"disk full","ts":"2026-12-07T01:02:03.5Z","secret":"s1","n":1}"#,
            #"{"level":"Info","msg":"order placed","ts":"2026-12-07T01:02:04Z","secret":"s2","n":2}"#,
            "plain text, not JSON",
            #"{"level":"error","msg":"timeout","ts":"2026-12-07T01:02:05Z","secret":"s3","n":3}"#,
        ]
        try bodies.map { "2026-12-07T01:00:00.000000001Z stdout F \($0)\n" }.joined()
            .write(to: log, atomically: true, encoding: .utf8)
        let petrel = try PetrelProcess(
            config: """
                data_dir: \(directory.path)/data
                sources:
                  pods:
                    type: kubernetes_logs
                    pods_root: "\(directory.path)/pods"
                    kubernetes_api: { enabled: false }
                transforms:
                  shape:
                    type: remap
                    inputs: [pods]
                    source: |
                      parsed, err = parse_json(.message)
                      if err == null {
                        . = merge(., object!(parsed))
                        .message = .msg
                        .severity = downcase(string!(.level))
                        .timestamp = .ts
                        del(.msg)
                        del(.level)
                        del(.ts)
                        del(.secret)
                      }
                  split:
                    type: route
                    inputs: [shape]
                    routes:
                      errors: '.severity == "error"'
                sinks:
                  errors: { type: file, inputs: [split.errors], path: "\(directory.path)/out/errors.ndjson" }
                  rest: { type: file, inputs: [split._unmatched], path: "\(directory.path)/out/rest.ndjson" }
                """, directory: directory)
        try await petrel.start()
        let deadline = ContinuousClock.now + .seconds(60)
        while records("errors").count + records("rest").count < 4, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(await petrel.stop() == 0)

        let errors = records("errors")
        #expect(errors.map { $0["message"] as? String } == ["disk full", "timeout"])
        #expect(errors.map { $0["severity"] as? String } == ["error", "error"])
        #expect(
            errors.map { $0["timestamp"] as? String } == [
                "2026-12-07T01:02:03.500000000Z", "2026-12-07T01:02:05.000000000Z",
            ])
        #expect(errors.map { ($0["fields"] as? [String: Any])?["n"] as? Int } == [1, 3])
        for record in errors {
            let fields = record["fields"] as? [String: Any] ?? [:]
            #expect(Set(fields.keys) == ["n", "log.iostream"], "secret, level, msg and ts gone: \(fields)")
            #expect((record["resource"] as? [String: Any])?["k8s.pod.name"] as? String == "web-1")
        }
        let rest = records("rest")
        #expect(rest.map { $0["message"] as? String } == ["order placed", "plain text, not JSON"])
        #expect(rest.first?["severity"] as? String == "info")
        #expect((rest.first?["fields"] as? [String: Any])?["secret"] == nil)
        #expect(rest.last?["timestamp"] as? String == "2026-12-07T01:00:00.000000001Z", "the runtime's time kept")
        #expect((rest.last?["fields"] as? [String: Any])?.keys.sorted() == ["log.iostream"])
    }
}
