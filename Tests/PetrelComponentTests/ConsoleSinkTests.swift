import Logging
import PetrelCodecs
import PetrelCore
import PetrelSinks
import Testing

/// The `console` sink: its settings, and its telemetry when it prints (what it prints is checked by
/// `EventJSONEncoderTests`, since capturing this process's standard output is not practical here).
@Suite struct ConsoleSinkTests {
    private func build(_ node: ConfigNode) -> (config: ConsoleSinkConfig?, accepts: SignalSet?, errors: [String]) {
        let outcome = buildComponent(ConsoleSink.definition, at: "sinks.out", node)
        guard case .sink(let sink, let accepts)? = outcome.built else { return (nil, nil, outcome.errors) }
        return ((sink as? ConsoleSink)?.config, accepts, outcome.errors)
    }

    // MARK: Configuration

    @Test func definitionIsAConsoleSinkForEverySignal() throws {
        #expect(ConsoleSink.definition.type == "console")
        #expect(ConsoleSink.definition.kind == .sink)
        let result = build(componentConfig([:]))
        #expect(result.errors == [])
        #expect(result.accepts == SignalSet.all.union(.alerts), "alerts too")
    }

    @Test func targetDefaultsToStandardOutput() throws {
        #expect(try #require(build(componentConfig([:])).config).target == .stdout)
        #expect(try #require(build(ConfigNode(.null)).config).target == .stdout)
    }

    @Test(arguments: [("stdout", ConsoleSinkConfig.Target.stdout), ("stderr", .stderr)])
    func targetChoices(text: String, expected: ConsoleSinkConfig.Target) throws {
        let result = build(componentConfig(["target": .scalar(text)]))
        #expect(result.errors == [])
        #expect(try #require(result.config).target == expected)
    }

    static let badTargets: [(ComponentConfigValue, String)] = [
        ("file", #"sinks.out.target: expected one of stdout, stderr, found "file""#),
        ("STDERR", #"sinks.out.target: expected one of stdout, stderr, found "STDERR""#),
        ("", #"sinks.out.target: expected one of stdout, stderr, found """#),
        (["stdout"], "sinks.out.target: expected a single value, found a list"),
    ]

    @Test(arguments: badTargets)
    func invalidTargetNamesTheChoices(value: ComponentConfigValue, expected: String) throws {
        let result = build(ComponentConfigValue.map([(key: "target", value: value)]).configNode())
        #expect(result.errors == ["petrel.yaml: \(expected)"])
    }

    @Test func unknownKeyIsReported() {
        let result = build(componentConfig(["target": "stderr", "encoding": "json"]))
        #expect(result.errors == ["petrel.yaml: sinks.out.encoding: unknown key"])
        #expect(
            build(componentConfig(["taget": "stderr"])).errors == [
                #"petrel.yaml: sinks.out.taget: unknown key; did you mean "target"?"#
            ])
    }

    // MARK: Running

    private func batches() -> [EventBatch] {
        var metrics = MetricBatch()
        metrics.appendSeries(
            labels: [("__name__", "petrel_console_test"), ("case", "a")],
            samples: [Sample(timestamp: 1, value: 1), Sample(timestamp: 2, value: 2)])
        metrics.appendSeries(
            labels: [("__name__", "petrel_console_test"), ("case", "b")], samples: [Sample(timestamp: 1, value: 3)])
        let logs = LogBatch(records: [
            LogRecord(timestamp: 0, message: "console sink test one"),
            LogRecord(timestamp: 1, message: "console sink test two", severity: "INFO"),
            LogRecord(timestamp: 2, message: "console sink test three"),
        ])
        let spans = SpanBatch(resourceSpans: [
            ResourceSpans(scopeSpans: [
                ScopeSpans(spans: [
                    Span(
                        traceID: TraceID(high: 1, low: 1), spanID: SpanID(1), name: "console sink test",
                        startTimeUnixNano: 0, endTimeUnixNano: 1)
                ])
            ])
        ])
        return [.metrics(metrics), .logs(logs), .traces(spans)]
    }

    @Test func countsEverythingItPrintsAndReturnsWhenInputEnds() async throws {
        let registry = TelemetryRegistry()
        let telemetry = ComponentTelemetry(id: "out", type: "console", kind: .sink, registry: registry)
        let queue = BatchQueue(capacity: 8, producers: 1)
        let input = batches()
        for batch in input { try await queue.send(batch) }
        queue.producerFinished()

        var config = ConsoleSinkConfig()
        config.target = .stdout
        try await ConsoleSink(config: config).run(
            SinkInput(queue: queue, telemetry: telemetry),
            SinkContext(id: "out", telemetry: telemetry, logger: Logger(label: "test.console")))

        var encoder = EventJSONEncoder()
        let printedBytes = input.reduce(0) { $0 + encoder.encode($1).count }
        // Events as telemetry counts them: 2 series (not 3 samples), 3 records, 1 span.
        #expect(telemetry.receivedEvents.value == 6)
        #expect(telemetry.sentEvents.value == 6, "counted per event, not per printed line")
        #expect(telemetry.receivedBytes.value == UInt64(input.reduce(0) { $0 + $1.estimatedBytes }))
        #expect(telemetry.sentBytes.value == UInt64(printedBytes), "the bytes written, as JSON lines")
        let labels = [("component_id", "out"), ("component_kind", "sink"), ("component_type", "console")]
        #expect(registry.value("petrel_component_errors_total", labels: labels + [("stage", "sending")]) == 0)
        #expect(
            registry.value("petrel_component_discarded_events_total", labels: labels + [("reason", "write_failed")])
                == nil)
        #expect(queue.count == 0)
    }

    @Test func emptyInputEndsAtOnceWithNothingCounted() async throws {
        let telemetry = componentTestTelemetry(id: "out", type: "console", kind: .sink)
        let queue = BatchQueue(capacity: 1, producers: 1)
        queue.producerFinished()
        try await ConsoleSink(config: ConsoleSinkConfig()).run(
            SinkInput(queue: queue, telemetry: telemetry),
            SinkContext(id: "out", telemetry: telemetry, logger: Logger(label: "test.console")))
        #expect(telemetry.sentEvents.value == 0)
        #expect(telemetry.sentBytes.value == 0)
    }
}
