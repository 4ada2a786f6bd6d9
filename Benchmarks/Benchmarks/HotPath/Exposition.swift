import Benchmark
import PetrelCodecs

/// One scrape's body as the `prometheus_scrape` source parses it: the exposition `scrape_side_by_side.py` serves,
/// 1,000 series in node-exporter's shape (HELP and TYPE lines, a histogram family, counters and gauges with three
/// labels), in the Prometheus text format.
func expositionBenchmarks() {
    let series = Benchmark.defaultConfiguration.scalingFactor.rawValue
    let body = Array(exposition(series: series).utf8)
    let parser = ExpositionParser(format: .prometheusText, defaultTimestamp: 1_700_000_000_000)
    let parsed = try! parser.parse(body)
    precondition(parsed.seriesCount == series, "the exposition has \(parsed.seriesCount) series, not \(series)")

    Benchmark("Exposition: parse text format") { benchmark in
        benchmark.measuringThreadCPU { blackHole(try! parser.parse(body)) }
    }
}

/// The side-by-side benchmark's exposition, written the same way (`exposition` in scrape_side_by_side.py).
private func exposition(series: Int) -> String {
    let buckets = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
    let perHistogram = buckets.count + 2
    var lines = [
        "# HELP bench_request_duration_seconds Request latency.", "# TYPE bench_request_duration_seconds histogram",
    ]
    var written = 0
    for histogram in 0..<(series / 4 / perHistogram) {
        let labels = "handler=\"/api/v1/h\(histogram)\",method=\"GET\""
        for (index, bucket) in buckets.enumerated() {
            lines.append("bench_request_duration_seconds_bucket{\(labels),le=\"\(bucket)\"} \(index * 17 + histogram)")
        }
        lines.append("bench_request_duration_seconds_sum{\(labels)} \(Double(histogram) * 3.25 + 0.5)")
        lines.append("bench_request_duration_seconds_count{\(labels)} \(buckets.count * 17 + histogram)")
        written += perHistogram
    }
    var family = 0
    while written < series {
        let counter = family.isMultiple(of: 2)
        let name = "bench_node_metric_\(family)" + (counter ? "_total" : "")
        lines += ["# HELP \(name) A node metric of the benchmark.", "# TYPE \(name) \(counter ? "counter" : "gauge")"]
        for index in 0..<min(100, series - written) {
            let value = counter ? 1_234_567.0 + Double(index) * 13.5 + Double(family) : Double(index % 97) / 7
            let device = "sd\(Character(UnicodeScalar(UInt8(97 + index % 26))))\(index)"
            lines.append("\(name){cpu=\"\(index % 16)\",device=\"\(device)\",mode=\"user\"} \(value)")
            written += 1
        }
        family += 1
    }
    return lines.joined(separator: "\n") + "\n"
}
