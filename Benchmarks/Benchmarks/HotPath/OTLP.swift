import Benchmark
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf

/// OTLP trace export requests of `OTLPSpanFixture.spansPerRequest` spans, through the steps the otlp source, the tag
/// transform and the otlp sink take.
func otlpBenchmarks() {
    let fixture = OTLPSpanFixture.shared
    precondition(Benchmark.defaultConfiguration.scalingFactor.rawValue == OTLPSpanFixture.spansPerRequest)
    typealias Request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest

    // swift-protobuf's share of the source's work, on its own.
    Benchmark("OTLP traces: decode protobuf") { benchmark in
        benchmark.measuringThreadCPU { blackHole(try! Request(serializedBytes: fixture.protobuf)) }
    }

    // What the otlp source does with a request body before it sends the batch on.
    Benchmark("OTLP traces: decode protobuf + convert to spans") { benchmark in
        benchmark.measuringThreadCPU {
            let request = try! Request(serializedBytes: fixture.protobuf)
            blackHole(OTLPTraceConversion.spanBatch(from: request, dropInvalid: true))
        }
    }

    var tag = Transforms.tag()
    let tagContext = Transforms.context("tag", type: "tag")
    let decodedEvent = EventBatch.traces(fixture.decoded)
    checkTag(tag.process(decodedEvent, tagContext))
    Benchmark("OTLP traces: tag (4 resource attributes)") { benchmark in
        benchmark.measuringThreadCPU { blackHole(tag.process(decodedEvent, tagContext)) }
    }

    // What the otlp sink does with a batch before it compresses and sends it.
    Benchmark("OTLP traces: convert spans + encode protobuf") { benchmark in
        benchmark.measuringThreadCPU {
            blackHole(try! OTLPTraceConversion.request(from: fixture.decoded).serializedBytes() as [UInt8])
        }
    }

    // The same, with the hand-written encoder the otlp sink's HTTP exporter uses.
    var encoder = OTLPTraceEncoder()
    Benchmark("OTLP traces: encode (hand-written)") { benchmark in
        benchmark.measuringThreadCPU { blackHole(encoder.encode(fixture.decoded)) }
    }

    var pipelineTag = Transforms.tag()
    Benchmark("OTLP pipeline: decode, convert, tag, convert, encode") { benchmark in
        benchmark.measuringThreadCPU {
            let request = try! Request(serializedBytes: fixture.protobuf)
            let batch = EventBatch.traces(OTLPTraceConversion.spanBatch(from: request, dropInvalid: true).batch)
            guard case .traces(let tagged) = pipelineTag.process(batch, tagContext) else {
                fatalError("tag dropped the spans")
            }
            blackHole(try! OTLPTraceConversion.request(from: tagged).serializedBytes() as [UInt8])
        }
    }
}

/// Stops the run if tag does not set the node's identity on every resource.
private func checkTag(_ result: EventBatch?) {
    guard case .traces(let batch) = result else { fatalError("tag dropped the spans") }
    for resourceSpans in batch.resourceSpans {
        let keys = resourceSpans.resource.attributes.map(\.key)
        for key in ["cloud.provider", "cloud.region", "k8s.cluster.name", "k8s.node.name"] {
            precondition(keys.contains(key), "tag did not set \(key): \(keys)")
        }
    }
}
