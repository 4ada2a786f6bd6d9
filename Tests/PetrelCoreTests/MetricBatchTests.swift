import PetrelCore
import Testing

private func names(_ batch: MetricBatch, _ series: Int) -> [String] {
    batch.labelPairs(of: series).map(\.name)
}

@Suite struct MetricBatchTests {
    private func twoSeries() -> MetricBatch {
        var batch = MetricBatch()
        batch.appendSeries(
            labels: [("job", "api"), ("__name__", "http_requests_total"), ("instance", "a:9100")],
            samples: [Sample(timestamp: 1000, value: 1), Sample(timestamp: 2000, value: 2)], type: .counter)
        batch.appendSeries(labels: [("__name__", "up"), ("job", "node")], samples: [Sample(timestamp: 1000, value: 1)])
        return batch
    }

    @Test func constructionSortsLabelsAndKeepsSamples() {
        let batch = twoSeries()
        #expect(batch.seriesCount == 2)
        #expect(names(batch, 0) == ["__name__", "instance", "job"])
        #expect(batch.labelPairs(of: 0).map(\.value) == ["http_requests_total", "a:9100", "api"])
        #expect(Array(batch.samples(of: 0)) == [Sample(timestamp: 1000, value: 1), Sample(timestamp: 2000, value: 2)])
        #expect(Array(batch.samples(of: 1)) == [Sample(timestamp: 1000, value: 1)])
        #expect(batch.series[0].type == .counter)
        #expect(EventBatch.metrics(batch).eventCount == 2)
    }

    @Test func getLabel() {
        let batch = twoSeries()
        #expect(batch.labelValue(series: 0, name: "job") == "api")
        #expect(batch.labelValue(series: 1, name: "job") == "node")
        #expect(batch.labelValue(series: 1, name: "instance") == nil)
        #expect(batch.labelValue(series: 0, name: "jo") == nil)
    }

    @Test func setReplacesExistingValue() {
        var batch = twoSeries()
        batch.setLabel(series: 0, name: "job", value: "web")
        #expect(batch.labelValue(series: 0, name: "job") == "web")
        #expect(batch.labelPairs(of: 0).count == 3)
        #expect(batch.labelValue(series: 1, name: "job") == "node", "other series untouched")
    }

    @Test func setInsertsInSortedPositionOnAnySeries() {
        var batch = twoSeries()
        // Series 0 is not the last one: its labels must move, and series 1 must not notice.
        batch.setLabel(series: 0, name: "cluster", value: "eks-1")
        batch.setLabel(series: 0, name: "zone", value: "b")
        batch.setLabel(series: 0, name: "a", value: "first")
        batch.setLabel(series: 1, name: "cluster", value: "gke-2")
        #expect(names(batch, 0) == ["__name__", "a", "cluster", "instance", "job", "zone"])
        #expect(names(batch, 1) == ["__name__", "cluster", "job"])
        #expect(batch.labelValue(series: 0, name: "cluster") == "eks-1")
        #expect(batch.labelValue(series: 1, name: "cluster") == "gke-2")
        #expect(batch.labelValue(series: 1, name: "job") == "node")
    }

    @Test func sharedLabelRefCanBeSetOnManySeries() {
        var batch = twoSeries()
        let cloud = batch.makeLabel(name: "cloud", value: "aws")
        let arenaSize = batch.arena.count
        for series in batch.series.indices { batch.setLabel(series: series, cloud) }
        #expect(batch.arena.count == arenaSize, "the label's bytes are stored once")
        #expect(batch.labelValue(series: 0, name: "cloud") == "aws")
        #expect(batch.labelValue(series: 1, name: "cloud") == "aws")
    }

    @Test func addingLabelsToEverySeriesMergesInOrderAndDropsMovedSlots() {
        var batch = twoSeries()
        batch.setLabel(series: 0, name: "a", value: "moved")  // series 0 moves to the end: its old slots are garbage
        let garbage = batch.labels.count - batch.series.reduce(0) { $0 + Int($1.labelCount) }
        #expect(garbage > 0)
        let added = [
            batch.makeLabel(name: "cloud", value: "aws"), batch.makeLabel(name: "job", value: "tagged"),
            batch.makeLabel(name: "zone", value: "b"),
        ]
        var kept = batch
        batch.addLabelsToEverySeries(added, overwrite: true)
        #expect(names(batch, 0) == ["__name__", "a", "cloud", "instance", "job", "zone"])
        #expect(names(batch, 1) == ["__name__", "cloud", "job", "zone"])
        #expect(batch.labelValue(series: 0, name: "job") == "tagged")
        #expect(batch.labelValue(series: 0, name: "a") == "moved")
        #expect(batch.labels.count == batch.series.reduce(0) { $0 + Int($1.labelCount) }, "no garbage left")
        kept.addLabelsToEverySeries(added, overwrite: false)
        #expect(kept.labelValue(series: 1, name: "job") == "node", "the series' own label stays")
        #expect(kept.labelValue(series: 1, name: "zone") == "b")
    }

    @Test func deleteRemovesOnlyThatLabel() {
        var batch = twoSeries()
        let deleted = batch.deleteLabel(series: 0, name: "instance")
        let deletedAgain = batch.deleteLabel(series: 0, name: "instance")
        #expect(deleted)
        #expect(!deletedAgain)
        #expect(names(batch, 0) == ["__name__", "job"])
        #expect(names(batch, 1) == ["__name__", "job"])
        batch.deleteLabel(series: 0, name: "__name__")
        batch.deleteLabel(series: 0, name: "job")
        #expect(batch.labelPairs(of: 0).isEmpty)
    }

    /// A decoder points labels into the request bytes; labels added later land past them (arena growth).
    @Test func labelsPointingIntoDecodedBytesSurviveArenaGrowth() {
        let request = Array("__name__upjobnode".utf8)
        var batch = MetricBatch(arena: request)
        batch.labels = [
            LabelRef(nameOffset: 0, nameLength: 8, valueOffset: 8, valueLength: 2),
            LabelRef(nameOffset: 10, nameLength: 3, valueOffset: 13, valueLength: 4),
        ]
        batch.samples = [Sample(timestamp: 5, value: 1)]
        batch.series = [Series(labelStart: 0, labelCount: 2, sampleStart: 0, sampleCount: 1)]
        for index in 0..<200 {
            batch.setLabel(series: 0, name: "extra_\(index)", value: String(repeating: "v", count: index))
        }
        #expect(batch.arena.count > request.count * 10)
        #expect(Array(batch.arena.prefix(request.count)) == request, "decoded bytes are never moved or changed")
        #expect(batch.labelValue(series: 0, name: "__name__") == "up")
        #expect(batch.labelValue(series: 0, name: "job") == "node")
        #expect(batch.labelValue(series: 0, name: "extra_199") == String(repeating: "v", count: 199))
        let names = names(batch, 0)
        #expect(names == names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(names.count == 202)
    }

    @Test func hashIsStableAndDependsOnlyOnLabels() {
        var first = MetricBatch()
        first.appendSeries(labels: [("__name__", "up"), ("job", "node")], samples: [])
        var second = MetricBatch()
        second.appendSeries(labels: [("zz", "1")], samples: [])
        second.appendSeries(labels: [("job", "node"), ("__name__", "up")], samples: [Sample(timestamp: 1, value: 2)])
        #expect(first.labelsHash(series: 0) == second.labelsHash(series: 1))
        #expect(first.labelsHash(series: 0) != second.labelsHash(series: 0))
        // The same value on every node and every run: xxHash64 of "__name__ 0xff up 0xff job 0xff node 0xff".
        let joined =
            Array("__name__".utf8) + [0xFF] + Array("up".utf8) + [0xFF] + Array("job".utf8) + [0xFF]
            + Array("node".utf8) + [0xFF]
        #expect(first.labelsHash(series: 0) == XXHash64.hash(joined))
        #expect(first.labelsHash(series: 0) == 0x0158_5E23_99CC_2DF6)
    }

    @Test func hashChangesWithLabelEdits() {
        var batch = twoSeries()
        let before = batch.labelsHash(series: 1)
        batch.setLabel(series: 1, name: "cluster", value: "x")
        #expect(batch.labelsHash(series: 1) != before)
        batch.deleteLabel(series: 1, name: "cluster")
        #expect(batch.labelsHash(series: 1) == before)
    }

    @Test func sortLabelsRestoresOrderAfterInPlaceRename() {
        var batch = twoSeries()
        let range = batch.series[0].labelRange
        let renamed = batch.appendToArena("zone")
        batch.labels[range.lowerBound].nameOffset = renamed.offset
        batch.labels[range.lowerBound].nameLength = renamed.length
        batch.sortLabels(series: 0)
        #expect(names(batch, 0) == ["instance", "job", "zone"])
    }

    @Test func retainSeriesKeepsMatchingSeries() {
        var batch = twoSeries()
        batch.retainSeries { batch, index in batch.labelValue(series: index, name: "job") == "node" }
        #expect(batch.seriesCount == 1)
        #expect(batch.labelValue(series: 0, name: "__name__") == "up")
        #expect(Array(batch.samples(of: 0)) == [Sample(timestamp: 1000, value: 1)])
    }
}
