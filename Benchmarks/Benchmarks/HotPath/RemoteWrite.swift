import Benchmark
import PetrelCodecs
import PetrelCore
import PetrelTransforms

/// Remote-write requests of `RemoteWriteFixture.seriesPerRequest` series: decode, compress, relabel, tag, encode.
func remoteWriteBenchmarks() {
    let fixture = RemoteWriteFixture.shared
    precondition(Benchmark.defaultConfiguration.scalingFactor.rawValue == RemoteWriteFixture.seriesPerRequest)
    let decoder = RemoteWriteDecoder()
    let limit = RemoteWriteFixture.maxDecompressedLength

    Benchmark("Decode v1") { benchmark in
        benchmark.measuringThreadCPU { blackHole(try! decoder.decodeV1(fixture.v1)) }
    }

    Benchmark("Decode v2") { benchmark in
        benchmark.measuringThreadCPU { blackHole(try! decoder.decodeV2(fixture.v2)) }
    }

    Benchmark("Snappy decompress") { benchmark in
        benchmark.measuringThreadCPU {
            blackHole(try! Snappy.decompress(fixture.v1Snappy, maxDecompressedLength: limit))
        }
    }

    // A batch the caller still holds (a fan-out to several readers): the transform's first writes copy its arrays.
    var relabel = Transforms.relabel()
    let relabelContext = Transforms.context("relabel", type: "relabel")
    let decodedEvent = EventBatch.metrics(fixture.decoded)
    checkRelabel(relabel.process(decodedEvent, relabelContext))
    Benchmark("Relabel (10 rules)") { benchmark in
        benchmark.measuringThreadCPU { blackHole(relabel.process(decodedEvent, relabelContext)) }
    }

    // The same rules on a batch nobody else holds, as the topology hands a transform its batch.
    var rules = Transforms.relabelRulesInPlace()
    Benchmark("Relabel (10 rules, in place)") { benchmark in
        var batch = fixture.decoded.uniqueCopy()
        benchmark.startMeasurement()
        benchmark.measuringThreadCPU { rules.process(&batch) }
        blackHole(batch)
    }

    var tag = Transforms.tag()
    let tagContext = Transforms.context("tag", type: "tag")
    Benchmark("Tag (4 labels)") { benchmark in
        benchmark.measuringThreadCPU { blackHole(tag.process(decodedEvent, tagContext)) }
    }

    // As the remote-write sink does: one encoder and one compression buffer reused from request to request.
    var encoder = RemoteWriteEncoder()
    var compressed: [UInt8] = []
    Benchmark("Encode v1 + snappy compress") { benchmark in
        benchmark.measuringThreadCPU { Snappy.compress(encoder.encodeV1(fixture.decoded), into: &compressed) }
        blackHole(compressed)
    }

    Benchmark("Encode v2 + snappy compress") { benchmark in
        benchmark.measuringThreadCPU { Snappy.compress(encoder.encodeV2(fixture.decoded), into: &compressed) }
        blackHole(compressed)
    }

    // `compression: zstd`: the sink's compressor (level 1, one context reused), and the source's decompression.
    let zstd = ZstdCompressor(level: 1)
    Benchmark("Encode v1 + zstd compress") { benchmark in
        benchmark.measuringThreadCPU { zstd.compress(encoder.encodeV1(fixture.decoded), into: &compressed) }
        blackHole(compressed)
    }

    let v1Zstd = Zstd.compress(fixture.v1, level: 1)
    Benchmark("Zstd decompress") { benchmark in
        benchmark.measuringThreadCPU { blackHole(try! Zstd.decompress(v1Zstd, maxDecompressedLength: limit)) }
    }

    var pipelineRelabel = Transforms.relabel()
    var pipelineTag = Transforms.tag()
    var pipelineEncoder = RemoteWriteEncoder()
    var pipelineCompressed: [UInt8] = []
    Benchmark("Pipeline v1: decompress, decode, relabel, tag, encode, compress") { benchmark in
        benchmark.measuringThreadCPU {
            let body = try! Snappy.decompress(fixture.v1Snappy, maxDecompressedLength: limit, roomToGrow: true)
            let batch = EventBatch.metrics(try! decoder.decodeV1(body))
            guard let relabeled = pipelineRelabel.process(batch, relabelContext),
                case .metrics(let tagged) = pipelineTag.process(relabeled, tagContext)
            else {
                fatalError("the relabel rules dropped the whole request")
            }
            Snappy.compress(pipelineEncoder.encodeV1(tagged), into: &pipelineCompressed)
        }
        blackHole(pipelineCompressed)
    }
}

/// Stops the run if the rules do not do what the fixture was built for: a benchmark of broken rules measures nothing.
private func checkRelabel(_ result: EventBatch?) {
    guard case .metrics(let batch) = result else { fatalError("relabel dropped the whole request") }
    let kept = batch.seriesCount
    precondition(
        (700..<950).contains(kept), "relabel kept \(kept) of \(RemoteWriteFixture.seriesPerRequest) series")
    for series in batch.series.indices {
        let names = batch.labelPairs(of: series).map(\.name)
        precondition(names.contains("env") && names.contains("host"), "relabel did not set env and host: \(names)")
        precondition(!names.contains { $0.hasPrefix("tmp_") }, "relabel left a tmp_ label: \(names)")
        precondition(batch.labelValue(series: series, name: "container") != "POD", "relabel kept a pause container")
    }
}
