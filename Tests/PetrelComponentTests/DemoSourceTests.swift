import Logging
import PetrelCore
import PetrelSources
import Synchronization
import Testing

/// The `demo` source: its settings, what it generates, and how it stops.
@Suite struct DemoSourceTests {
    // MARK: Configuration

    private func build(_ node: ConfigNode) -> (config: DemoSourceConfig?, emits: SignalSet?, errors: [String]) {
        let outcome = buildComponent(DemoSource.definition, at: "sources.demo", node)
        guard case .source(let source, let emits)? = outcome.built else { return (nil, nil, outcome.errors) }
        return ((source as? DemoSource)?.config, emits, outcome.errors)
    }

    @Test func definitionIsTheDemoSource() {
        #expect(DemoSource.definition.type == "demo")
        #expect(DemoSource.definition.kind == .source)
    }

    @Test func defaultsWhenNothingIsSet() throws {
        let result = build(componentConfig([:]))
        #expect(result.errors == [])
        let config = try #require(result.config)
        #expect(config.interval == .seconds(1))
        #expect(config.count == 0, "runs until shutdown by default")
        #expect(config.batchSize == 10)
        #expect(config.signals == .all)
        #expect(result.emits == .all)
        #expect(config == DemoSourceConfig())
    }

    @Test func emptyComponentBodyMeansDefaults() throws {
        // `demo:` with only `type` (read by the loader) leaves a null node or an empty mapping.
        let result = build(ConfigNode(.null))
        #expect(result.errors == [])
        #expect(try #require(result.config) == DemoSourceConfig())
    }

    @Test func everySettingOverridden() throws {
        let result = build(
            componentConfig([
                "interval": "250ms", "count": 3, "batch_size": "1_000", "signals": ["metrics", "traces"],
            ]))
        #expect(result.errors == [])
        let config = try #require(result.config)
        #expect(config.interval == .milliseconds(250))
        #expect(config.count == 3)
        #expect(config.batchSize == 1000, "underscores group digits")
        #expect(config.signals == [.metrics, .traces])
        #expect(result.emits == [.metrics, .traces], "the graph sees only the signals generated")
    }

    static let intervals: [(String, Duration)] = [
        ("500ms", .milliseconds(500)),
        ("30s", .seconds(30)),
        ("1m30s", .seconds(90)),
        ("2h", .seconds(7200)),
        ("2", .seconds(2)),
        ("0.5", .milliseconds(500)),
    ]

    @Test(arguments: intervals)
    func intervalFormats(text: String, expected: Duration) throws {
        let result = build(componentConfig(["interval": .scalar(text)]))
        #expect(result.errors == [])
        #expect(try #require(result.config).interval == expected)
    }

    @Test(arguments: ["1e30", "9223372037s", "106752d", "99999999999999999999s"])
    func intervalTooLargeIsAnError(text: String) {
        let result = build(componentConfig(["interval": .scalar(text)]))
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.contains("sources.demo.interval: expected a duration") == true)
    }

    @Test func batchSizeBounds() throws {
        #expect(try #require(build(componentConfig(["batch_size": 1])).config).batchSize == 1)
        #expect(try #require(build(componentConfig(["batch_size": 100_000])).config).batchSize == 100_000)
    }

    static let badValues: [(String, ComponentConfigValue, String)] = [
        ("batch_size", "0", "sources.demo.batch_size: must be between 1 and 100000, found 0"),
        ("batch_size", "100001", "sources.demo.batch_size: must be between 1 and 100000, found 100001"),
        ("batch_size", "-5", "sources.demo.batch_size: must be between 1 and 100000, found -5"),
        ("batch_size", "ten", #"sources.demo.batch_size: expected a whole number, found "ten""#),
        ("batch_size", "2.5", #"sources.demo.batch_size: expected a whole number, found "2.5""#),
        ("batch_size", [1], "sources.demo.batch_size: expected a single value, found a list"),
        ("count", "-1", "sources.demo.count: must be between 0 and 9223372036854775807, found -1"),
        ("count", "twice", #"sources.demo.count: expected a whole number, found "twice""#),
        ("interval", "fast", #"sources.demo.interval: expected a duration such as 500ms, 30s, 5m or 1h, found "fast""#),
        ("interval", "10 s", #"sources.demo.interval: expected a duration such as 500ms, 30s, 5m or 1h, found "10 s""#),
        ("interval", "-1s", #"sources.demo.interval: expected a duration such as 500ms, 30s, 5m or 1h, found "-1s""#),
        ("signals", "metrics", "sources.demo.signals: expected a list, found a single value"),
        ("signals", [], "sources.demo.signals: must name at least one signal"),
        (
            "signals", ["metrics", "events"],
            #"sources.demo.signals: unknown signal "events"; expected metrics, logs or traces"#
        ),
        (
            "signals", ["Metrics"],
            #"sources.demo.signals: unknown signal "Metrics"; expected metrics, logs or traces"#
        ),
        ("signals", ["metrics", ["logs"]], "sources.demo.signals[1]: expected a single value, found a list"),
    ]

    @Test(arguments: badValues)
    func badValueNamesTheKeyPath(key: String, value: ComponentConfigValue, expected: String) {
        let result = build(ComponentConfigValue.map([(key: key, value: value)]).configNode())
        #expect(result.errors == ["\(componentConfigFile): \(expected)"])
    }

    @Test func badValueFallsBackToTheDefault() throws {
        let config = try #require(build(componentConfig(["batch_size": 0, "interval": "soon"])).config)
        #expect(config.batchSize == 10)
        #expect(config.interval == .seconds(1))
    }

    @Test func unknownSignalKeepsTheKnownOnes() throws {
        let result = build(componentConfig(["signals": ["logs", "events", "traces"]]))
        #expect(result.errors.count == 1)
        #expect(try #require(result.config).signals == [.logs, .traces])
    }

    @Test func unknownKeyIsReportedByFinish() {
        let result = build(componentConfig(["count": 1, "rate": 5]))
        #expect(result.errors == ["petrel.yaml: sources.demo.rate: unknown key"])
    }

    @Test func misspeltKeySuggestsTheSettingMeant() {
        let result = build(componentConfig(["batchsize": 5, "count": 1]))
        #expect(result.errors == [#"petrel.yaml: sources.demo.batchsize: unknown key; did you mean "batch_size"?"#])
        let config = build(componentConfig(["interval": "1s", "intervall": "2s"]))
        #expect(
            config.errors == ["petrel.yaml: sources.demo.intervall: unknown key"],
            "a setting already given is not suggested")
    }

    @Test func everyProblemIsReportedAtOnce() {
        let result = build(
            componentConfig([
                "interval": "fast", "count": -2, "batch_size": 0, "signals": ["spans"], "rate": 5,
            ]))
        #expect(
            result.errors == [
                #"petrel.yaml: sources.demo.interval: expected a duration such as 500ms, 30s, 5m or 1h, found "fast""#,
                "petrel.yaml: sources.demo.count: must be between 0 and 9223372036854775807, found -2",
                "petrel.yaml: sources.demo.batch_size: must be between 1 and 100000, found 0",
                #"petrel.yaml: sources.demo.signals: unknown signal "spans"; expected metrics, logs or traces"#,
                "petrel.yaml: sources.demo.rate: unknown key",
            ])
    }

    @Test func errorCarriesTheLineOfTheKey() {
        let node = ConfigNode(
            .mapping([
                (key: "interval", node: ConfigNode(.scalar("1s"), line: 3)),
                (key: "batch_size", node: ConfigNode(.scalar("0"), line: 4)),
            ]), line: 2)
        #expect(build(node).errors == ["petrel.yaml:4: sources.demo.batch_size: must be between 1 and 100000, found 0"])
    }

    // MARK: Running

    /// A demo source wired to one queue, as the topology wires it.
    private final class Harness: Sendable {
        let source: DemoSource
        let queue: BatchQueue
        let telemetry: ComponentTelemetry
        let shutdown = ShutdownSignal()
        let ready = Atomic<Bool>(false)

        init(_ config: DemoSourceConfig, capacity: Int = 64) {
            source = DemoSource(config: config)
            queue = BatchQueue(capacity: capacity, producers: 1)
            telemetry = componentTestTelemetry(id: "shop", type: "demo", kind: .source)
        }

        func run() async throws {
            let output = Output(edges: [.init(queue: queue, accepts: .all)], telemetry: telemetry)
            let context = SourceContext(
                id: "shop", output: output, telemetry: telemetry, logger: Logger(label: "test.demo"),
                shutdown: shutdown, onReady: { self.ready.store(true, ordering: .relaxed) })
            try await source.run(context)
            queue.producerFinished()
        }

        /// Everything the source sent, once it finished.
        func drain() async -> [EventBatch] {
            var batches: [EventBatch] = []
            while let batch = await queue.nextBatch() { batches.append(batch) }
            return batches
        }
    }

    private func config(count: Int, batchSize: Int, interval: Duration, signals: SignalSet = .all) -> DemoSourceConfig {
        var config = DemoSourceConfig()
        config.count = count
        config.batchSize = batchSize
        config.interval = interval
        config.signals = signals
        return config
    }

    @Test func countedRunFinishesByItselfWithOneBatchPerSignalPerRound() async throws {
        let harness = Harness(config(count: 2, batchSize: 7, interval: .milliseconds(10)))
        try await harness.run()
        let ready = harness.ready.load(ordering: .relaxed)
        #expect(ready, "the source reports itself ready")
        let batches = await harness.drain()
        #expect(batches.map(\.signal) == [.metrics, .logs, .traces, .metrics, .logs, .traces])
        #expect(batches.allSatisfy { $0.eventCount == 7 })
    }

    @Test func metricBatchesAreCounterSeriesWithSortedLabels() async throws {
        let harness = Harness(config(count: 2, batchSize: 7, interval: .milliseconds(10)))
        let before = WallClock.nowNanoseconds() / 1_000_000
        try await harness.run()
        let after = WallClock.nowNanoseconds() / 1_000_000
        let metrics = await harness.drain().compactMap { batch -> MetricBatch? in
            if case .metrics(let metrics) = batch { return metrics }
            return nil
        }
        try #require(metrics.count == 2)
        for batch in metrics {
            #expect(batch.seriesCount == 7)
            var labelSets: Set<[String]> = []
            for index in batch.series.indices {
                let pairs = batch.labelPairs(of: index)
                let names = pairs.map(\.name)
                #expect(names == names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
                #expect(names == ["__name__", "instance", "method", "path", "series", "status"])
                #expect(batch.labelValue(series: index, name: "__name__") == "demo_http_requests_total")
                #expect(batch.labelValue(series: index, name: "instance") == "shop", "the source id")
                #expect(batch.labelValue(series: index, name: "series") == String(index))
                #expect(batch.series[index].type == .counter)
                let samples = Array(batch.samples(of: index))
                try #require(samples.count == 1)
                #expect(samples[0].timestamp >= before && samples[0].timestamp <= after, "milliseconds, now")
                #expect(samples[0].value >= 0)
                labelSets.insert(pairs.map { "\($0.name)=\($0.value)" })
            }
            #expect(labelSets.count == 7, "no two series share a label set")
        }
        for index in 0..<7 {
            let first = metrics[0].samples(of: index).first!.value
            let second = metrics[1].samples(of: index).first!.value
            #expect(second >= first, "a counter never goes down")
        }
    }

    @Test func logBatchesAreAccessLogRecords() async throws {
        let harness = Harness(config(count: 2, batchSize: 7, interval: .milliseconds(10), signals: .logs))
        let before = WallClock.nowNanoseconds()
        try await harness.run()
        let batches = await harness.drain()
        #expect(batches.map(\.signal) == [.logs, .logs])
        for batch in batches {
            guard case .logs(let logs) = batch else { continue }
            #expect(logs.records.count == 7)
            for (index, record) in logs.records.enumerated() {
                #expect(record.timestamp >= before)
                if index > 0 { #expect(record.timestamp > logs.records[index - 1].timestamp) }
                #expect(Set(record.fields.keys) == ["method", "path", "status", "duration_ms"])
                guard case .string(let method) = record.fields["method"],
                    case .string(let path) = record.fields["path"],
                    case .int(let status) = record.fields["status"],
                    case .int(let duration) = record.fields["duration_ms"]
                else {
                    Issue.record("unexpected field types in \(record.fields)")
                    continue
                }
                #expect(["GET", "POST", "PUT", "DELETE"].contains(method))
                #expect(path.hasPrefix("/"))
                #expect([200, 201, 404, 500].contains(status))
                #expect((0..<500).contains(duration))
                #expect(record.message == "\(method) \(path) \(status) \(duration)ms")
                #expect(record.severity == (status == 500 ? "ERROR" : "INFO"))
                #expect(record.metadata == ["source": "shop"])
            }
        }
    }

    @Test func spanBatchesHoldOneTraceWithARootAndItsChildren() async throws {
        let harness = Harness(config(count: 2, batchSize: 7, interval: .milliseconds(10), signals: .traces))
        try await harness.run()
        let batches = await harness.drain()
        #expect(batches.map(\.signal) == [.traces, .traces])
        var traceIDs: Set<TraceID> = []
        for batch in batches {
            guard case .traces(let traces) = batch else { continue }
            #expect(traces.spanCount == 7)
            try #require(traces.resourceSpans.count == 1)
            let resource = traces.resourceSpans[0]
            #expect(resource.resource.attributes["service.name"] == AnyValue.string("demo-shop"))
            try #require(resource.scopeSpans.count == 1)
            #expect(resource.scopeSpans[0].scope.name == "petrel.demo")
            let spans = resource.scopeSpans[0].spans
            let roots = spans.filter { $0.parentSpanID == .none }
            try #require(roots.count == 1, "exactly one root span")
            let root = roots[0]
            #expect(root.kind == .server)
            #expect(root.status.code == .ok)
            #expect(Set(spans.map(\.traceID)) == [root.traceID], "one trace per batch")
            #expect(Set(spans.map(\.spanID)).count == 7, "span ids are unique")
            #expect(!spans.contains { $0.spanID == .none }, "no span has the zero id")
            for child in spans where child.spanID != root.spanID {
                #expect(child.parentSpanID == root.spanID)
                #expect(child.kind == .client)
                #expect(child.startTimeUnixNano >= root.startTimeUnixNano)
                #expect(child.endTimeUnixNano <= root.endTimeUnixNano)
                #expect(child.endTimeUnixNano > child.startTimeUnixNano)
            }
            traceIDs.insert(root.traceID)
        }
        #expect(traceIDs.count == 2, "every round starts a new trace")
    }

    @Test func batchSizeOneGivesOneEventOfEachSignal() async throws {
        let harness = Harness(config(count: 1, batchSize: 1, interval: .milliseconds(10)))
        try await harness.run()
        let batches = await harness.drain()
        #expect(batches.map(\.eventCount) == [1, 1, 1])
        if case .traces(let traces) = batches.last {
            #expect(traces.resourceSpans.first?.scopeSpans.first?.spans.first?.parentSpanID == SpanID.none)
        }
    }

    @Test func telemetryCountsWhatWasGeneratedAndSent() async throws {
        let harness = Harness(config(count: 2, batchSize: 7, interval: .milliseconds(10)))
        try await harness.run()
        let batches = await harness.drain()
        let events = batches.reduce(0) { $0 + $1.eventCount }
        let bytes = batches.reduce(0) { $0 + $1.estimatedBytes }
        #expect(events == 2 * 3 * 7)
        #expect(harness.telemetry.receivedEvents.value == UInt64(events))
        #expect(harness.telemetry.sentEvents.value == UInt64(events))
        #expect(harness.telemetry.receivedBytes.value == UInt64(bytes))
        #expect(harness.telemetry.sentBytes.value == UInt64(bytes))
    }

    @Test func shutdownStopsAnEndlessRunPromptly() async throws {
        let harness = Harness(config(count: 0, batchSize: 3, interval: .seconds(600)))
        let clock = ContinuousClock()
        let started = clock.now
        let run = Task { try await harness.run() }
        try await Task.sleep(for: .milliseconds(50))
        harness.shutdown.trigger()
        try await run.value
        let elapsed = clock.now - started
        // Far below the 600s interval, with room for a test machine whose cores are busy.
        #expect(elapsed < .seconds(60), "stopped in \(elapsed), not after the interval")
        let batches = await harness.drain()
        #expect(batches.map(\.signal) == [.metrics, .logs, .traces], "the first round went out before the wait")
    }

    @Test func shutdownBeforeStartSendsNothing() async throws {
        let harness = Harness(config(count: 0, batchSize: 3, interval: .seconds(600)))
        harness.shutdown.trigger()
        try await harness.run()
        #expect(await harness.drain().isEmpty)
        #expect(harness.telemetry.sentEvents.value == 0)
    }

    @Test func fullQueueMakesTheSourceWait() async throws {
        let harness = Harness(config(count: 2, batchSize: 2, interval: .milliseconds(1)), capacity: 1)
        let finished = Atomic<Bool>(false)
        let run = Task {
            try await harness.run()
            finished.store(true, ordering: .relaxed)
        }
        #expect(await componentEventually { harness.queue.count == 1 }, "the first batch fills the queue")
        try await Task.sleep(for: .milliseconds(100))
        let finishedEarly = finished.load(ordering: .relaxed)
        #expect(!finishedEarly, "the source waits for room instead of dropping")
        #expect(harness.queue.count == 1, "nothing beyond the bound is held")
        let batches = await harness.drain()
        try await run.value
        #expect(batches.count == 6, "nothing was lost while waiting")
    }
}
