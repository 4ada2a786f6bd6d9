import OTLPProtos
import PetrelCodecs
import PetrelConfig
import PetrelCore
import PetrelTransforms

@testable import PetrelBuffers
@testable import PetrelComponents
@testable import PetrelSinks

#if canImport(Glibc)
import Glibc
#endif

/// Every decoder and parser that reads bytes from outside, by the name `PETREL_FUZZ_TARGET` gives it (and its
/// corpus directory under Fuzz/Corpus/). Each feeds the bytes through the code a request or a file meets in Petrel;
/// errors are the expected answer to most inputs, and only a crash, a leak or a hang is a finding.
enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "remote_write_v1": { _ = try? RemoteWriteDecoder().decodeV1($0) },
        "remote_write_v2": { _ = try? RemoteWriteDecoder().decodeV2($0) },
        // A remote-write body as the source reads it: Snappy first, then the protobuf.
        "remote_write_snappy": { body in
            guard let decompressed = try? Snappy.decompress(body, maxDecompressedLength: 32 << 20) else { return }
            _ = try? RemoteWriteDecoder().decodeV1(decompressed)
            _ = try? RemoteWriteDecoder().decodeV2(decompressed)
        },
        "gzip": { body in
            var output: [UInt8] = []
            body.withUnsafeBytes { _ = try? Zlib.decompress($0, into: &output, maxDecompressedLength: 16 << 20) }
        },
        "zstd": { body in
            var output: [UInt8] = []
            body.withUnsafeBytes { _ = try? Zstd.decompress($0, into: &output, maxDecompressedLength: 16 << 20) }
        },
        // swift-protobuf's path and the hand-written decoder the otlp source runs: where both decode, they must agree
        // (compared as encoded bytes, which a NaN attribute does not make unequal).
        "otlp_traces_protobuf": { body in
            let request = try? OTLPJSON.decodeProtobuf(body, as: TraceRequest.self)
            traces(request)
            guard let byHand = try? OTLPTraceDecoder.decode(body, dropInvalid: true), let request else { return }
            let converted = OTLPTraceConversion.spanBatch(from: request, dropInvalid: true)
            var encoder = OTLPTraceEncoder()
            precondition(
                encoder.encode(byHand.batch) == encoder.encode(converted.batch)
                    && byHand.rejectedSpans == converted.rejectedSpans && byHand.message == converted.message,
                "the hand-written trace decoder disagrees with swift-protobuf")
        },
        "otlp_traces_json": { traces(try? OTLPJSON.decode($0, as: TraceRequest.self)) },
        "otlp_metrics_protobuf": { metrics(try? OTLPJSON.decodeProtobuf($0, as: MetricsRequest.self)) },
        "otlp_metrics_json": { metrics(try? OTLPJSON.decode($0, as: MetricsRequest.self)) },
        "otlp_logs_protobuf": { body in
            let request = try? OTLPJSON.decodeProtobuf(body, as: LogsRequest.self)
            logs(request)
            guard let byHand = try? OTLPLogDecoder.decode(body), let request else { return }
            var encoder = OTLPLogEncoder()
            precondition(
                encoder.encode(byHand) == encoder.encode(OTLPLogConversion.logBatch(from: request)),
                "the hand-written logs decoder disagrees with swift-protobuf")
        },
        "otlp_logs_json": { logs(try? OTLPJSON.decode($0, as: LogsRequest.self)) },
        // A syslog TCP stream (octet counting or newlines, told apart per frame), each frame parsed as 5424 or 3164;
        // the stream is cut in two at a point the input chooses, as reads cut it.
        "syslog_stream": { stream in
            var framer = SyslogFramer(maxMessageBytes: 8192)
            let parser = SyslogParser()
            let cut = stream.isEmpty ? 0 : Int(stream[0]) % (stream.count + 1)
            stream.withUnsafeBytes { bytes in
                let emit: (UnsafeRawBufferPointer, SyslogFrameEnd) -> Void = { frame, _ in
                    _ = parser.parse(frame, receivedAt: 0)
                }
                framer.consume(UnsafeRawBufferPointer(rebasing: bytes[..<cut]), emit)
                framer.consume(UnsafeRawBufferPointer(rebasing: bytes[cut...]), emit)
                _ = framer.finish(emit)
            }
        },
        // One UDP datagram.
        "syslog_datagram": { datagram in
            datagram.withUnsafeBytes { _ = SyslogParser().parse($0, receivedAt: 0) }
        },
        "cri": { line in _ = try? ContainerLogParser().parseCRI(line[...]) },
        "docker": { line in _ = try? ContainerLogParser().parseDocker(line[...]) },
        // An http_server body in each codec.
        "log_body": { body in
            for codec in [LogBodyDecoder.Codec.ndjson, .json, .text] {
                _ = try? LogBodyDecoder(codec: codec).decode(body, receivedAt: 0)
            }
        },
        // What Loki and Elasticsearch answer, as their sinks read it.
        "loki_answer": { body in
            _ = LokiRejections(body: String(decoding: body, as: UTF8.self), entriesOfStream: { _ in 3 })
        },
        "elasticsearch_answer": { body in
            guard let response = BulkResponse.decode(body) else { return }
            _ = BulkItemResults.sort(response, sent: [0, 1, 2], action: "create", idsSet: true)
        },
        // A configuration file with `${VAR}` interpolation, through every component's reader.
        "config": { text in
            let loader = ConfigLoader(
                registry: BuiltinComponents.registry, environment: ["HOST": "127.0.0.1", "PORT": "9201"])
            _ = try? loader.parse(String(decoding: text, as: UTF8.self), file: "fuzz.yaml")
        },
        // A remap program: compiled, and run on a small record when it compiles.
        "remap": { text in
            guard case .success(let program) = RemapProgram.compile(String(decoding: text, as: UTF8.self)) else {
                return
            }
            var state = RemapState(event: .object(["message": .string("{\"level\":\"INFO\",\"n\":1}")]))
            _ = try? program.run(&state)
        },
        "buffer_segment": { segment($0) },
        "buffer_record": { _ = try? BufferRecordCodec().decode($0) },
    ]

    typealias TraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
    typealias MetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
    typealias LogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest

    private static func traces(_ request: TraceRequest?) {
        guard let request else { return }
        _ = OTLPTraceConversion.spanBatch(from: request, dropInvalid: true)
        _ = OTLPTraceConversion.spanBatch(from: request, dropInvalid: false)
    }

    private static func metrics(_ request: MetricsRequest?) {
        guard let request else { return }
        _ = OTLPMetricConversion().metricBatch(from: request)
    }

    private static func logs(_ request: LogsRequest?) {
        guard let request else { return }
        _ = OTLPLogConversion.logBatch(from: request)
    }

    /// A disk buffer segment file as recovery meets it after a crash: its tail scanned, then every record read from
    /// the first header on, skipping damage as recovery does.
    private static func segment(_ bytes: [UInt8]) {
        let fd = segmentFile
        guard ftruncate(fd, 0) == 0, bytes.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == bytes.count
        else { fatalError("cannot write the segment file: \(errno)") }
        _ = try? SegmentReader.scanTail(fd, size: bytes.count)
        var offset = min(Format.segmentHeaderSize, bytes.count)
        var next: [UInt8]?
        while offset < bytes.count {
            let outcome: SegmentReader.Outcome
            do {
                outcome = try SegmentReader.read(fd, at: offset, end: bytes.count, header: next)
            } catch {
                return
            }
            switch outcome {
            case .record(let header, let payload, let following):
                _ = try? BufferRecordCodec().decode(payload)
                offset += header.frameSize
                next = following
            case .damaged:
                guard let found = try? SegmentReader.findRecord(fd, from: offset + 1, end: bytes.count) else { return }
                offset = found
                next = nil
            }
        }
    }

    /// One unlinked temporary file, rewritten for each input: the segment reader reads through a descriptor.
    private static let segmentFile: Int32 = {
        var template = Array("/tmp/petrel-fuzz-segment-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { fatalError("mkstemp failed: \(errno)") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return fd
    }()
}
