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

    // The same with the hand-written decoder the otlp source uses: no message objects in between.
    precondition(try! OTLPTraceDecoder.decode(fixture.protobuf).batch == fixture.decoded)
    Benchmark("OTLP traces: decode (hand-written)") { benchmark in
        benchmark.measuringThreadCPU { blackHole(try! OTLPTraceDecoder.decode(fixture.protobuf)) }
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

    var handTag = Transforms.tag()
    var handEncoder = OTLPTraceEncoder()
    Benchmark("OTLP pipeline (hand-written): decode, tag, encode") { benchmark in
        benchmark.measuringThreadCPU {
            let batch = EventBatch.traces(try! OTLPTraceDecoder.decode(fixture.protobuf).batch)
            guard case .traces(let tagged) = handTag.process(batch, tagContext) else {
                fatalError("tag dropped the spans")
            }
            blackHole(handEncoder.encode(tagged))
        }
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

/// OTLP logs export requests of `OTLPLogFixture.recordsPerRequest` records, through the otlp source's and sink's steps.
func otlpLogBenchmarks() {
    let fixture = OTLPLogFixture.shared
    precondition(Benchmark.defaultConfiguration.scalingFactor.rawValue == OTLPLogFixture.recordsPerRequest)
    typealias Request = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest

    // What the otlp source did with a body before the hand-written decoder.
    Benchmark("OTLP logs: decode protobuf + convert to records") { benchmark in
        benchmark.measuringThreadCPU {
            blackHole(OTLPLogConversion.logBatch(from: try! Request(serializedBytes: fixture.protobuf)))
        }
    }

    Benchmark("OTLP logs: decode (hand-written)") { benchmark in
        benchmark.measuringThreadCPU { blackHole(try! OTLPLogDecoder.decode(fixture.protobuf)) }
    }

    // What the otlp sink did with a batch before the hand-written encoder.
    Benchmark("OTLP logs: convert records + encode protobuf") { benchmark in
        benchmark.measuringThreadCPU {
            blackHole(try! OTLPLogConversion.request(from: fixture.decoded).serializedBytes() as [UInt8])
        }
    }

    var encoder = OTLPLogEncoder()
    Benchmark("OTLP logs: encode (hand-written)") { benchmark in
        benchmark.measuringThreadCPU { blackHole(encoder.encode(fixture.decoded)) }
    }
}
