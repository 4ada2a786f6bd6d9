// Writes the seed corpora of the fuzz targets (Fuzz/Corpus/<target>/) from Petrel's own encoders and the shapes the
// test suite uses, so that every seed is in the format the current code reads.
// Run: swift run --package-path Fuzz PetrelFuzzSeeds Fuzz/Corpus
import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf

@testable import PetrelBuffers

let root = CommandLine.arguments.dropFirst().first ?? "Fuzz/Corpus"

func seed(_ target: String, _ name: String, _ bytes: [UInt8]) {
    let directory = "\(root)/\(target)"
    try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data(bytes))
}

func seed(_ target: String, _ name: String, _ text: String) {
    seed(target, name, Array(text.utf8))
}

// Remote-write: a few series with samples, as v1 and v2, plain and Snappy-compressed.
var metrics = MetricBatch()
for index in 0..<3 {
    metrics.appendSeries(
        labels: [("__name__", "http_requests_total"), ("instance", "node-\(index)"), ("job", "api")],
        samples: [Sample(timestamp: 1_700_000_000_000 + Int64(index), value: Double(index) + 0.5)])
}
var encoder = RemoteWriteEncoder()
let v1 = encoder.encodeV1(metrics)
let v2 = encoder.encodeV2(metrics)
seed("remote_write_v1", "three_series", v1)
seed("remote_write_v2", "three_series", v2)
seed("remote_write_snappy", "v1", Snappy.compress(v1))
seed("remote_write_snappy", "v2", Snappy.compress(v2))
let text = Array(String(repeating: "level=info msg=\"order placed\" n=1\n", count: 20).utf8)
seed("gzip", "lines", Zlib.compress(text, format: .gzip))
seed("gzip", "zlib", Zlib.compress(text, format: .zlib))
var zstd: [UInt8] = []
Zstd.compress(text, into: &zstd)
seed("zstd", "lines", zstd)

// OTLP: the requests the source tests export, as protobuf and as OTLP/JSON.
func attribute(_ key: String, _ value: String) -> Opentelemetry_Proto_Common_V1_KeyValue {
    var attribute = Opentelemetry_Proto_Common_V1_KeyValue()
    attribute.key = key
    attribute.value.stringValue = value
    return attribute
}

var span = Opentelemetry_Proto_Trace_V1_Span()
span.traceID = Data((1...16).map { UInt8($0) })
span.spanID = Data([0, 0, 0, 0, 0, 0, 0xA0, 1])
span.name = "GET /cart"
span.kind = .server
span.startTimeUnixNano = 1_700_000_000_000_000_000
span.endTimeUnixNano = 1_700_000_000_250_000_000
span.attributes = [attribute("http.request.method", "GET")]
span.status.code = .ok
var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
scopeSpans.scope.name = "petrel-fuzz"
scopeSpans.spans = [span]
var resourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans()
resourceSpans.resource.attributes = [attribute("service.name", "checkout")]
resourceSpans.scopeSpans = [scopeSpans]
var traces = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
traces.resourceSpans = [resourceSpans]

var point = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
point.timeUnixNano = 1_700_000_000_000_000_000
point.asDouble = 2.5
point.attributes = [attribute("queue", "q0")]
var gauge = Opentelemetry_Proto_Metrics_V1_Metric()
gauge.name = "queue_depth"
gauge.gauge.dataPoints = [point]
var histogramPoint = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
histogramPoint.timeUnixNano = 1_700_000_000_000_000_000
histogramPoint.count = 3
histogramPoint.sum = 0.6
histogramPoint.explicitBounds = [0.1, 0.5]
histogramPoint.bucketCounts = [1, 1, 1]
var histogram = Opentelemetry_Proto_Metrics_V1_Metric()
histogram.name = "request_duration"
histogram.unit = "s"
histogram.histogram.aggregationTemporality = .cumulative
histogram.histogram.dataPoints = [histogramPoint]
var scopeMetrics = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
scopeMetrics.metrics = [gauge, histogram]
var resourceMetrics = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
resourceMetrics.resource.attributes = [attribute("service.name", "checkout")]
resourceMetrics.scopeMetrics = [scopeMetrics]
var metricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest()
metricsRequest.resourceMetrics = [resourceMetrics]

var record = Opentelemetry_Proto_Logs_V1_LogRecord()
record.timeUnixNano = 1_700_000_000_000_000_000
record.severityText = "INFO"
record.severityNumber = .info
record.body.stringValue = "order placed"
record.attributes = [attribute("order.id", "7")]
var scopeLogs = Opentelemetry_Proto_Logs_V1_ScopeLogs()
scopeLogs.logRecords = [record]
var resourceLogs = Opentelemetry_Proto_Logs_V1_ResourceLogs()
resourceLogs.resource.attributes = [attribute("service.name", "checkout")]
resourceLogs.scopeLogs = [scopeLogs]
var logs = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
logs.resourceLogs = [resourceLogs]

seed("otlp_traces_protobuf", "one_span", try! traces.serializedBytes())
seed("otlp_traces_json", "one_span", OTLPJSON.encode(traces))
seed("otlp_metrics_protobuf", "gauge_and_histogram", try! metricsRequest.serializedBytes())
seed("otlp_metrics_json", "gauge_and_histogram", OTLPJSON.encode(metricsRequest))
seed("otlp_logs_protobuf", "one_record", try! logs.serializedBytes())
seed("otlp_logs_json", "one_record", OTLPJSON.encode(logs))

// Syslog: RFC 5424 and 3164, octet-counted and newline-framed, as rsyslog and logger send them.
let rfc5424 = "<165>1 2026-12-07T04:33:05.123456+00:00 node-1 api 4242 ID47 [exampleSDID@32473 iut=\"3\"] order placed"
let rfc3164 = "<34>Dec  7 04:33:05 node-1 su[231]: 'su root' failed for lonvick on /dev/pts/8"
seed("syslog_stream", "octet_counted", "\(rfc5424.utf8.count) \(rfc5424)\(rfc3164.utf8.count) \(rfc3164)")
seed("syslog_stream", "newlines", "\(rfc5424)\n\(rfc3164)\n")
seed("syslog_datagram", "rfc5424", rfc5424)
seed("syslog_datagram", "rfc3164", rfc3164)

// Container runtimes' log lines.
seed("cri", "full", "2026-12-07T04:33:05.123456789Z stdout F {\"level\":\"info\",\"msg\":\"order placed\"}")
seed("cri", "partial", "2026-12-07T04:33:05.123456789+01:00 stderr P first part of a long line")
seed(
    "docker", "line", "{\"log\":\"order placed\\n\",\"stream\":\"stdout\",\"time\":\"2026-12-07T04:33:05.123456789Z\"}")

// http_server bodies.
seed("log_body", "ndjson", "{\"message\":\"a\",\"level\":\"info\"}\n{\"message\":\"b\",\"n\":[1,2.5,null,true]}\n")
seed("log_body", "array", "[{\"message\":\"a\"},{\"message\":\"b\",\"nested\":{\"k\":\"\\u00e9\"}}]")

// What Loki and Elasticsearch answer.
seed(
    "loki_answer", "refusals",
    """
    entry for stream '{app="api"}' has timestamp too old: 2020-01-01T00:00:00Z, oldest acceptable timestamp is: 2026-12-01T00:00:00Z
    entry with timestamp 2026-12-07 04:33:05 +0000 UTC ignored, reason: 'entry out of order' for stream: {app="api"},
    total ignored: 2 out of 3
    """)
seed(
    "elasticsearch_answer", "mixed",
    """
    {"took":3,"errors":true,"items":[{"create":{"_index":"logs","_id":"a","status":201}},\
    {"create":{"_index":"logs","_id":"b","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},\
    {"create":{"_index":"logs","_id":"c","status":400,"error":{"type":"document_parsing_exception","reason":"bad"}}}]}
    """)

// Configurations.
seed(
    "config", "pipeline",
    """
    data_dir: /tmp/petrel-fuzz
    api: { address: "${HOST}:8686" }
    sources:
      rw: { type: prometheus_remote_write, address: "${HOST}:${PORT}" }
      logs: { type: http_server, address: "127.0.0.1:8080", codec: ndjson }
    transforms:
      keep:
        type: relabel
        inputs: [rw]
        metric_relabel_configs:
          - { source_labels: [job], regex: "api|web", action: keep }
      parse:
        type: remap
        inputs: [logs]
        source: |
          . = parse_json!(.message)
          .level = downcase(.level) ?? "info"
    sinks:
      vm: { type: prometheus_remote_write, inputs: [keep], endpoints: ["http://127.0.0.1:8428/api/v1/write"] }
      out: { type: console, inputs: [parse] }
    """)
seed(
    "config", "anchors",
    """
    x-common: &common { type: console }
    sources: { demo: { type: demo, interval: "${INTERVAL:-1s}" } }
    sinks: { out: { <<: *common, inputs: [demo] } }
    """)

// Remap programs.
seed(
    "remap", "parse_and_shape",
    """
    . = parse_json!(.message)
    del(.password)
    .level = downcase(string!(.level))
    .timestamp = parse_timestamp(.time, "%Y-%m-%dT%H:%M:%S%z") ?? now()
    if .level == "error" { .alert = true } else { abort }
    """)
seed("remap", "fallible", "x, err = parse_regex(.message, r'^(?P<a>\\w+) (?P<b>\\d+)$')\n.a = x.a ?? \"none\"\n")

// A disk buffer segment with three records, written by the buffer itself, and one record's payload.
let directory = NSTemporaryDirectory() + "petrel-fuzz-seeds-\(getpid())"
try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
let buffer = try! await DiskBuffer(DiskBufferConfiguration(directory: directory, maxSize: 1 << 20))
let records = [
    EventBatch.metrics(metrics),
    .logs(
        LogBatch(records: [LogRecord(timestamp: 1_700_000_000_000_000_000, message: "order placed", severity: "info")])),
].map {
    BufferRecordCodec().encode($0)
}
try! await buffer.append(records + [records[0]])
await buffer.close()
let segment = try! FileManager.default.contentsOfDirectory(atPath: directory).first { $0 != Format.ledgerName }!
seed("buffer_segment", "three_records", Array(FileManager.default.contents(atPath: "\(directory)/\(segment)")!))
seed("buffer_record", "metrics", records[0])
seed("buffer_record", "logs", records[1])
try! FileManager.default.removeItem(atPath: directory)
