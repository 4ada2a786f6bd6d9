import PetrelCore

/// Makes plausible-looking batches of each signal: web requests as counters, access logs and traces.
struct DemoGenerator {
    private static let methods = ["GET", "POST", "PUT", "DELETE"]
    private static let paths = ["/", "/api/orders", "/api/users", "/api/cart", "/health"]
    private static let statuses = ["200", "201", "404", "500"]

    let batchSize: Int
    let origin: String
    private var random = SplitMix64(seed: 0x5EED)
    private var requestTotals: [Double]

    init(batchSize: Int, origin: String) {
        self.batchSize = batchSize
        self.origin = origin
        self.requestTotals = Array(repeating: 0, count: batchSize)
    }

    mutating func batch(of signal: Signal, nowNanoseconds: Int64) -> EventBatch {
        switch signal {
        case .metrics: .metrics(metrics(now: nowNanoseconds))
        case .logs: .logs(logs(now: nowNanoseconds))
        case .traces: .traces(traces(now: nowNanoseconds))
        // The configuration offers no alerts (they come from the `alert` transform).
        case .alerts: .alerts(AlertBatch())
        }
    }

    private mutating func metrics(now: Int64) -> MetricBatch {
        var batch = MetricBatch()
        let timestamp = now / 1_000_000
        for index in 0..<batchSize {
            requestTotals[index] += Double(random.next(below: 100))
            batch.appendSeries(
                labels: [
                    ("__name__", "demo_http_requests_total"),
                    ("instance", origin),
                    ("method", Self.methods[index % Self.methods.count]),
                    ("path", Self.paths[index % Self.paths.count]),
                    ("status", Self.statuses[(index / Self.paths.count) % Self.statuses.count]),
                    ("series", String(index)),
                ],
                samples: [Sample(timestamp: timestamp, value: requestTotals[index])],
                type: .counter)
        }
        return batch
    }

    private mutating func logs(now: Int64) -> LogBatch {
        var records: [LogRecord] = []
        records.reserveCapacity(batchSize)
        for index in 0..<batchSize {
            let method = Self.methods[Int(random.next(below: UInt64(Self.methods.count)))]
            let path = Self.paths[Int(random.next(below: UInt64(Self.paths.count)))]
            let status = Self.statuses[Int(random.next(below: UInt64(Self.statuses.count)))]
            let duration = Int64(random.next(below: 500))
            records.append(
                LogRecord(
                    timestamp: now + Int64(index),
                    message: "\(method) \(path) \(status) \(duration)ms",
                    severity: status == "500" ? "ERROR" : "INFO",
                    fields: [
                        "method": .string(method), "path": .string(path), "status": .int(Int64(status)!),
                        "duration_ms": .int(duration),
                    ],
                    metadata: ["source": origin]))
        }
        return LogBatch(records: records)
    }

    private mutating func traces(now: Int64) -> SpanBatch {
        let traceID = TraceID(high: random.next(), low: random.next())
        let rootID = SpanID(random.next() | 1)
        let start = UInt64(now)
        var spans = [
            Span(
                traceID: traceID, spanID: rootID, name: "GET /api/orders", kind: .server,
                startTimeUnixNano: start, endTimeUnixNano: start + 50_000_000,
                attributes: [
                    Attribute("http.request.method", .string("GET")), Attribute("http.route", .string("/api/orders")),
                ],
                status: SpanStatus(code: .ok))
        ]
        for index in 1..<max(batchSize, 1) {
            let childStart = start + UInt64(index) * 1_000_000
            spans.append(
                Span(
                    traceID: traceID, spanID: SpanID(random.next() | 1), parentSpanID: rootID,
                    name: "SELECT orders", kind: .client, startTimeUnixNano: childStart,
                    endTimeUnixNano: childStart + 800_000,
                    attributes: [
                        Attribute("db.system", .string("postgresql")), Attribute("db.query.index", .int(Int64(index))),
                    ]))
        }
        let scope = ScopeSpans(scope: InstrumentationScope(name: "petrel.demo", version: "1"), spans: spans)
        let resource = Resource(attributes: [Attribute("service.name", .string("demo-shop"))])
        return SpanBatch(resourceSpans: [ResourceSpans(resource: resource, scopeSpans: [scope])])
    }
}
