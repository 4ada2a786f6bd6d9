import Testing

@testable import PetrelCore
@testable import PetrelTransforms

/// The `relabel` transform on whole metric batches.
@Suite struct RelabelTransformTests {
    private static let rules: [ComponentConfigValue] = [
        ["source_labels": ["__name__"], "regex": "debug_.*", "action": "drop"],
        ["regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"],
        ["regex": "__meta_.*", "action": "labeldrop"],
        ["source_labels": ["instance"], "regex": "(.+):9100", "target_label": "host"],
        ["source_labels": ["job"], "regex": "api", "target_label": "env", "replacement": "prod"],
    ]

    private func batch() -> MetricBatch {
        var batch = MetricBatch()
        batch.appendSeries(
            labels: [
                ("__name__", "http_requests_total"), ("job", "api"), ("instance", "10.0.0.1:9100"),
                ("__meta_kubernetes_pod_label_app", "web"),
            ],
            samples: [Sample(timestamp: 1, value: 1), Sample(timestamp: 2, value: 2)], type: .counter)
        batch.appendSeries(
            labels: [("__name__", "debug_allocs"), ("job", "api")], samples: [Sample(timestamp: 1, value: 3)])
        batch.appendSeries(
            labels: [("__name__", "up"), ("job", "node"), ("instance", "10.0.0.2:9100")],
            samples: [Sample(timestamp: 1, value: 4)], type: .gauge)
        batch.appendSeries(
            labels: [("__name__", "node_load1"), ("job", "node")], samples: [Sample(timestamp: 1, value: 5)])
        return batch
    }

    @Test func rewritesDropsAndLeavesTheRestAlone() throws {
        var transform = try #require(Relabel.build(Self.rules).transform)
        let output = transform.process(.metrics(batch()), Relabel.context)
        guard case .metrics(let result)? = output else {
            Issue.record("expected metrics, got \(String(describing: output))")
            return
        }
        #expect(
            result.relabelSeriesText == [
                "__name__=http_requests_total,app=web,env=prod,host=10.0.0.1,instance=10.0.0.1:9100,job=api",
                "__name__=up,host=10.0.0.2,instance=10.0.0.2:9100,job=node",
                "__name__=node_load1,job=node",
            ])
        // Samples and types travel with their series.
        #expect(result.samples(of: 0).map(\.value) == [1, 2])
        #expect(result.samples(of: 1).map(\.value) == [4])
        #expect(result.samples(of: 2).map(\.value) == [5])
        #expect(result.series.map(\.type) == [.counter, .gauge, .unknown])
    }

    @Test func aBatchWithNothingLeftBecomesNil() throws {
        var transform = try #require(
            Relabel.build([["source_labels": ["job"], "regex": "api|node", "action": "drop"]]).transform)
        #expect(transform.process(.metrics(batch()), Relabel.context) == nil)
    }

    @Test func everyBatchGetsItsOwnArenaStrings() throws {
        // Rules remember strings they appended to a batch's arena; the next batch must not see them.
        var transform = try #require(
            Relabel.build([
                ["target_label": "env", "replacement": "prod"],
                ["source_labels": ["job"], "modulus": 7, "target_label": "shard", "action": "hashmod"],
            ]).transform)
        for round in 0..<3 {
            var input = MetricBatch()
            input.appendSeries(labels: [("job", "j\(round)")], samples: [])
            input.appendSeries(labels: [("job", "k\(round)"), ("zone", "z")], samples: [])
            guard case .metrics(let output)? = transform.process(.metrics(input), Relabel.context) else {
                Issue.record("nothing came out")
                return
            }
            #expect(output.relabelSeriesText.count == 2)
            for series in output.series.indices {
                #expect(output.labelValue(series: series, name: "env") == "prod")
                #expect(output.labelValue(series: series, name: "shard") != nil)
                #expect(output.labelValue(series: series, name: "job")?.hasSuffix("\(round)") == true)
            }
            #expect(output.labelValue(series: 1, name: "zone") == "z")
        }
    }

    @Test func manySeriesAgreeWithOneAtATime() throws {
        // The batch path and `apply(to:)` must agree series by series, whatever order labels move in.
        var compiled = try Relabel.rules(Self.rules)
        var input = MetricBatch()
        var sets: [[(String, String)]] = []
        for index in 0..<200 {
            var labels: [(String, String)] = [("__name__", index % 5 == 0 ? "debug_\(index)" : "m\(index % 7)")]
            if index % 2 == 0 { labels.append(("job", index % 4 == 0 ? "api" : "web")) }
            if index % 3 == 0 { labels.append(("instance", "10.0.0.\(index):9100")) }
            if index % 3 == 1 { labels.append(("__meta_kubernetes_pod_label_team", "t\(index % 4)")) }
            sets.append(labels)
            input.appendSeries(
                labels: labels.map { (name: $0.0, value: $0.1) }, samples: [Sample(timestamp: 0, value: Double(index))])
        }
        var expected: [String] = []
        var expectedValues: [Double] = []
        for (index, labels) in sets.enumerated() {
            if let result = compiled.apply(to: labels) {
                expected.append(result.map { "\($0.0)=\($0.1)" }.joined(separator: ","))
                expectedValues.append(Double(index))
            }
        }
        compiled.process(&input)
        #expect(input.relabelSeriesText == expected)
        #expect(input.series.indices.map { input.samples(of: $0).first?.value } == expectedValues)
    }
}
