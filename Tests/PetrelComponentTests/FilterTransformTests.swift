import Logging
import PetrelCore
import PetrelTransforms
import Testing

/// The `filter` transform: reading its condition, and what it keeps of metrics, logs and spans.
@Suite struct FilterTransformTests {
    // MARK: Helpers

    private func build(_ node: ConfigNode) -> (filter: FilterTransform?, accepts: SignalSet?, errors: [String]) {
        let outcome = buildComponent(FilterTransform.definition, at: "transforms.keep", node)
        guard case .transform(let transform, let accepts)? = outcome.built else { return (nil, nil, outcome.errors) }
        return (transform as? FilterTransform, accepts, outcome.errors)
    }

    private func build(condition: ComponentConfigValue) -> (filter: FilterTransform?, errors: [String]) {
        let result = build(ComponentConfigValue.map([(key: "condition", value: condition)]).configNode())
        return (result.filter, result.errors)
    }

    /// A filter built from `condition` that must have no configuration errors.
    private func filter(_ condition: ComponentConfigValue) throws -> FilterTransform {
        let result = build(condition: condition)
        #expect(result.errors == [])
        return try #require(result.filter)
    }

    private let context = TransformContext(
        id: "keep", telemetry: componentTestTelemetry(id: "keep", type: "filter", kind: .transform),
        logger: Logger(label: "test.filter"))

    private func run(_ condition: ComponentConfigValue, _ batch: EventBatch) throws -> EventBatch? {
        var transform = try filter(condition)
        return transform.process(batch, context)
    }

    // MARK: Configuration

    @Test func definitionIsAFilterTransformForEverySignal() {
        #expect(FilterTransform.definition.type == "filter")
        #expect(FilterTransform.definition.kind == .transform)
        let result = build(componentConfig(["condition": ["key": "status", "equals": "500"]]))
        #expect(result.errors == [])
        #expect(result.accepts == .all)
    }

    @Test func equalsLeaf() throws {
        let condition = try filter(["key": "status", "equals": 500]).condition
        guard case .test(let key, .equals(let expected)) = condition else {
            Issue.record("read as \(condition)")
            return
        }
        #expect(key == "status")
        #expect(expected == "500")
    }

    @Test func notEqualsLeaf() throws {
        let condition = try filter(["key": "method", "not_equals": "GET"]).condition
        guard case .test("method", .notEquals("GET")) = condition else {
            Issue.record("read as \(condition)")
            return
        }
    }

    @Test func matchesLeaf() throws {
        let condition = try filter(["key": "path", "matches": "/api/.*"]).condition
        guard case .test("path", .matches(let regex)) = condition else {
            Issue.record("read as \(condition)")
            return
        }
        #expect(regex.pattern == "/api/.*")
        #expect(regex.matches("/api/orders"))
        #expect(!regex.matches("/v1/api/orders"), "anchored at the start")
        #expect(!regex.matches("/apix"), "anchored at the end too")
    }

    @Test(arguments: [("true", true), ("false", false), ("yes", true), ("off", false)])
    func existsLeaf(text: String, expected: Bool) throws {
        let condition = try filter(["key": "job", "exists": .scalar(text)]).condition
        guard case .test("job", .exists(let exists)) = condition else {
            Issue.record("read as \(condition)")
            return
        }
        #expect(exists == expected)
    }

    @Test func allAnyNotNest() throws {
        let condition = try filter([
            "all": [
                ["key": "job", "equals": "api"],
                [
                    "any": [
                        ["key": "status", "matches": "5.."],
                        ["not": ["key": "region", "exists": true]],
                    ]
                ],
            ]
        ]).condition
        guard case .all(let parts) = condition, parts.count == 2,
            case .test("job", .equals("api")) = parts[0],
            case .any(let alternatives) = parts[1], alternatives.count == 2,
            case .test("status", .matches) = alternatives[0],
            case .not(.test("region", .exists(true))) = alternatives[1]
        else {
            Issue.record("read as \(condition)")
            return
        }
        #expect(condition.evaluate { ["job": "api", "status": "503", "region": "eu"][$0].map(Condition.Value.text) })
        #expect(condition.evaluate { ["job": "api", "status": "200"][$0].map(Condition.Value.text) }, "no region")
        #expect(!condition.evaluate { ["job": "api", "status": "200", "region": "eu"][$0].map(Condition.Value.text) })
        #expect(!condition.evaluate { ["job": "web", "status": "503"][$0].map(Condition.Value.text) })
    }

    @Test func missingConditionIsRequired() {
        let result = build(componentConfig([:]))
        #expect(result.filter == nil)
        #expect(result.errors == ["petrel.yaml: transforms.keep.condition: is required"])
    }

    @Test func nullConditionIsRequired() {
        let result = build(componentConfig(["condition": nil]))
        #expect(result.filter == nil)
        #expect(result.errors == ["petrel.yaml: transforms.keep.condition: is required"])
    }

    static let badConditions: [(ComponentConfigValue, [String])] = [
        // A leaf without a key.
        (["equals": "500"], ["transforms.keep.condition.key: is required"]),
        // Two tests in one leaf.
        (
            ["key": "status", "equals": "500", "matches": "5.."],
            [
                #"transforms.keep.condition: a test on "status" needs exactly one of equals, not_equals, "#
                    + "matches or exists"
            ]
        ),
        // No test at all.
        (
            ["key": "status"],
            [
                #"transforms.keep.condition: a test on "status" needs exactly one of equals, not_equals, "#
                    + "matches or exists"
            ]
        ),
        // A combinator beside a key.
        (
            ["key": "status", "all": [["key": "a", "exists": true]]],
            ["transforms.keep.condition: a condition has exactly one of all, any, not or key"]
        ),
        // Two combinators.
        (
            ["all": [["key": "a", "exists": true]], "any": [["key": "b", "exists": true]]],
            ["transforms.keep.condition: a condition has exactly one of all, any, not or key"]
        ),
        (["all": []], ["transforms.keep.condition.all: needs at least one condition"]),
        (["any": "status"], ["transforms.keep.condition.any: expected a list, found a single value"]),
        // A typo in a leaf.
        (["key": "status", "equals": "500", "equal": "500"], ["transforms.keep.condition.equal: unknown key"]),
        (
            ["key": "status", "equals": ["500"]],
            ["transforms.keep.condition.equals: expected a single value, found a list"]
        ),
        // Errors deep in the tree name the whole path.
        (
            ["any": [["key": "a", "exists": true], ["not": ["key": "b"]]]],
            [
                #"transforms.keep.condition.any[1].not: a test on "b" needs exactly one of equals, not_equals, "#
                    + "matches or exists"
            ]
        ),
        (
            ["all": [["key": "a", "equals": "1"], ["key": "b", "equals": "2", "typo": 1]]],
            ["transforms.keep.condition.all[1].typo: unknown key"]
        ),
    ]

    @Test(arguments: badConditions)
    func badConditionNamesItsPath(condition: ComponentConfigValue, expected: [String]) {
        #expect(build(condition: condition).errors == expected.map { "petrel.yaml: \($0)" })
    }

    @Test func invalidRegexNamesTheMatchesKey() throws {
        let result = build(condition: ["key": "path", "matches": "/api/(orders"])
        #expect(result.filter == nil)
        try #require(result.errors.count == 1)
        #expect(
            result.errors[0].hasPrefix(
                #"petrel.yaml: transforms.keep.condition.matches: invalid regular expression "/api/(orders": "#))
    }

    @Test func patternsAreRE2LikeRelabels() throws {
        // Swift's Regex takes lookahead and backreferences; RE2, and so `filter`, refuses them.
        let lookahead = build(condition: ["key": "path", "matches": "/api/(?=orders).*"])
        #expect(lookahead.filter == nil)
        #expect(
            lookahead.errors == [
                #"petrel.yaml: transforms.keep.condition.matches: invalid regular expression "/api/(?=orders).*": "#
                    + "invalid or unsupported Perl syntax: `(?=`"
            ])
        #expect(build(condition: ["key": "path", "matches": #"(a)\1"#]).errors.count == 1)
        // Anchored at both ends, and `.` takes a newline, as in Prometheus' `^(?s:REGEX)$`.
        let condition = try filter(["key": "message", "matches": "GET.*"]).condition
        guard case .test(_, .matches(let regex)) = condition else {
            Issue.record("read as \(condition)")
            return
        }
        #expect(regex.matches("GET /\nHost: x"))
        #expect(!regex.matches("a GET"))
    }

    @Test func invalidRegexDeepInTheTree() throws {
        let result = build(condition: ["not": ["any": [["key": "a", "exists": true], ["key": "b", "matches": "*"]]]])
        #expect(result.filter == nil)
        try #require(result.errors.count == 1)
        #expect(result.errors[0].hasPrefix("petrel.yaml: transforms.keep.condition.not.any[1].matches: "))
    }

    @Test func existsNeedsABoolean() {
        let result = build(condition: ["key": "a", "exists": "maybe"])
        #expect(
            result.errors == [#"petrel.yaml: transforms.keep.condition.exists: expected true or false, found "maybe""#])
    }

    @Test func conditionMustBeAMapping() {
        let result = build(condition: "status == 500")
        #expect(result.filter == nil)
        #expect(
            result.errors.first == "petrel.yaml: transforms.keep.condition: expected a mapping, found a single value")
    }

    @Test func unknownKeyBesideTheCondition() {
        let result = build(componentConfig(["condition": ["key": "a", "exists": true], "invert": true]))
        #expect(result.errors == ["petrel.yaml: transforms.keep.invert: unknown key"])
    }

    // MARK: Metrics

    /// Three series: two `http_requests_total` and one `up`.
    private func metricBatch() -> MetricBatch {
        var batch = MetricBatch()
        batch.appendSeries(
            labels: [
                ("__name__", "http_requests_total"), ("method", "GET"), ("status", "200"), ("path", "/api/orders"),
            ],
            samples: [Sample(timestamp: 1000, value: 1), Sample(timestamp: 2000, value: 2)], type: .counter)
        batch.appendSeries(
            labels: [("__name__", "http_requests_total"), ("method", "POST"), ("status", "500")],
            samples: [Sample(timestamp: 1000, value: 3)], type: .counter)
        batch.appendSeries(
            labels: [("__name__", "up"), ("job", "api")], samples: [Sample(timestamp: 1000, value: 1)], type: .gauge)
        return batch
    }

    /// The `__name__` and a distinguishing label of each series kept.
    private func keptSeries(_ result: EventBatch?) -> [String]? {
        guard let result else { return nil }
        guard case .metrics(let metrics) = result else {
            Issue.record("a metrics batch became \(result.signal)")
            return nil
        }
        return metrics.series.indices.map { index in
            metrics.labelPairs(of: index).filter { $0.name != "__name__" }.map { "\($0.name)=\($0.value)" }
                .joined(separator: ",")
        }
    }

    static let metricCases: [(ComponentConfigValue, [String]?)] = [
        (["key": "method", "equals": "GET"], ["method=GET,path=/api/orders,status=200"]),
        (["key": "__name__", "equals": "up"], ["job=api"]),
        (["key": "status", "matches": "5.."], ["method=POST,status=500"]),
        (["key": "status", "matches": "5"], nil),
        (["key": "path", "matches": "/api"], nil),
        (["key": "path", "matches": "/api/.*"], ["method=GET,path=/api/orders,status=200"]),
        (["key": "job", "exists": true], ["job=api"]),
        (["key": "job", "exists": false], ["method=GET,path=/api/orders,status=200", "method=POST,status=500"]),
        // A series without the label is not equal to anything.
        (["key": "method", "not_equals": "GET"], ["method=POST,status=500", "job=api"]),
        (["key": "method", "equals": "get"], nil),
        (["key": "nope", "equals": ""], nil),
        (
            ["any": [["key": "job", "equals": "api"], ["key": "status", "equals": "500"]]],
            ["method=POST,status=500", "job=api"]
        ),
        (
            [
                "all": [
                    ["key": "__name__", "equals": "http_requests_total"], ["not": ["key": "status", "matches": "2.."]],
                ]
            ],
            ["method=POST,status=500"]
        ),
        (
            ["key": "__name__", "matches": ".+"],
            ["method=GET,path=/api/orders,status=200", "method=POST,status=500", "job=api"]
        ),
    ]

    @Test(arguments: metricCases)
    func metricSeriesKeptByLabel(condition: ComponentConfigValue, expected: [String]?) throws {
        #expect(keptSeries(try run(condition, .metrics(metricBatch()))) == expected)
    }

    @Test func keptSeriesKeepTheirSamplesLabelsAndType() throws {
        let result = try run(["key": "status", "exists": true], .metrics(metricBatch()))
        guard case .metrics(let metrics)? = result else {
            Issue.record("expected metrics, got \(String(describing: result))")
            return
        }
        try #require(metrics.seriesCount == 2)
        #expect(metrics.samples(of: 0).map(\.value) == [1, 2])
        #expect(metrics.samples(of: 1).map(\.value) == [3])
        #expect(metrics.series.map(\.type) == [.counter, .counter])
        #expect(metrics.labelValue(series: 1, name: "method") == "POST")
        #expect(metrics.labelValue(series: 1, name: "__name__") == "http_requests_total")
    }

    @Test func batchWhereNothingMatchesIsDropped() throws {
        #expect(try run(["key": "status", "equals": "404"], .metrics(metricBatch())) == nil)
        #expect(try run(["key": "status", "equals": "404"], .metrics(MetricBatch())) == nil, "an empty batch too")
    }

    @Test func transformCanBeReusedAcrossBatches() throws {
        var transform = try filter(["key": "job", "exists": true])
        for _ in 0..<3 {
            #expect(keptSeries(transform.process(.metrics(metricBatch()), context)) == ["job=api"])
        }
    }

    // MARK: Logs

    private func logBatch() -> LogBatch {
        LogBatch(records: [
            LogRecord(
                timestamp: 1, message: "GET /x 200", severity: "INFO",
                fields: [
                    "status": .int(200), "http": .object(["method": .string("GET"), "status": .int(200)]),
                ],
                metadata: ["source": "a", "file": "/var/log/app.log"],
                resource: [Attribute("service.name", .string("api"))]),
            LogRecord(
                timestamp: 2, message: "POST /y 500", severity: "ERROR",
                fields: ["status": .int(500), "http": .object(["status": .int(500)])],
                metadata: ["source": "b"],
                resource: [Attribute("service.name", .string("db")), Attribute("replica", .int(2))]),
            LogRecord(
                timestamp: 3, message: "GET /x",
                fields: [
                    "user": .object(["name": .string("ann")]), "latency": .double(1.5), "ok": .bool(true),
                    "tags": .array([.string("a")]),
                ]),
        ])
    }

    /// The timestamps of the records kept, which number them 1, 2, 3.
    private func keptRecords(_ result: EventBatch?) -> [Int64]? {
        guard let result else { return nil }
        guard case .logs(let logs) = result else {
            Issue.record("a logs batch became \(result.signal)")
            return nil
        }
        return logs.records.map(\.timestamp)
    }

    static let logCases: [(ComponentConfigValue, [Int64]?)] = [
        (["key": "message", "equals": "GET /x"], [3]),
        // Fully anchored: "GET" alone does not match "GET /x".
        (["key": "message", "matches": "GET"], nil),
        (["key": "message", "matches": "GET.*"], [1, 3]),
        (["key": "message", "matches": ".* 5\\d\\d"], [2]),
        (["key": "severity", "equals": "ERROR"], [2]),
        (["key": "severity", "equals": ""], [3]),
        (["key": "metadata.source", "equals": "b"], [2]),
        (["key": "metadata.file", "exists": true], [1]),
        (["key": "resource.service.name", "equals": "api"], [1]),
        (["key": "resource.replica", "equals": "2"], [2]),
        // An integer field compares as its text.
        (["key": "status", "equals": "500"], [2]),
        (["key": "status", "matches": "[45]\\d\\d"], [2]),
        (["key": "http.status", "equals": "500"], [2]),
        (["key": "http.method", "exists": true], [1]),
        (["key": "user.name", "equals": "ann"], [3]),
        (["key": "latency", "equals": "1.5"], [3]),
        (["key": "ok", "equals": "true"], [3]),
        (["key": "status", "not_equals": "200"], [2, 3]),
        (["key": "metadata.nope", "exists": true], nil),
        (["key": "user.nope", "exists": false], [1, 2, 3]),
        (
            ["all": [["key": "metadata.source", "exists": true], ["not": ["key": "severity", "equals": "INFO"]]]],
            [2]
        ),
    ]

    @Test(arguments: logCases)
    func logRecordsKeptByField(condition: ComponentConfigValue, expected: [Int64]?) throws {
        #expect(keptRecords(try run(condition, .logs(logBatch()))) == expected)
    }

    @Test func keptRecordsAreUnchanged() throws {
        let result = try run(["key": "severity", "equals": "ERROR"], .logs(logBatch()))
        guard case .logs(let logs)? = result else {
            Issue.record("expected logs, got \(String(describing: result))")
            return
        }
        #expect(logs.records == [logBatch().records[1]])
    }

    @Test func existsSeesFieldsHoldingObjectsAndArrays() throws {
        let objects = try run(["key": "http", "exists": true], .logs(logBatch()))
        #expect(keptRecords(objects) == [1, 2])
        let arrays = try run(["key": "tags", "exists": true], .logs(logBatch()))
        #expect(keptRecords(arrays) == [3])
    }

    // MARK: Spans

    private func span(_ id: UInt64, _ name: String, kind: SpanKind, status: SpanStatus.Code, _ attributes: [Attribute])
        -> Span
    {
        Span(
            traceID: TraceID(high: 1, low: 2), spanID: SpanID(id), name: name, kind: kind, startTimeUnixNano: 10,
            endTimeUnixNano: 20, attributes: attributes, status: SpanStatus(code: status))
    }

    /// Two resources: `api` with two scopes of one span each, and `worker` with one span.
    private func spanBatch() -> SpanBatch {
        SpanBatch(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [Attribute("service.name", .string("api"))]),
                scopeSpans: [
                    ScopeSpans(
                        scope: InstrumentationScope(name: "http"),
                        spans: [
                            span(
                                1, "GET /orders", kind: .server, status: .error,
                                [Attribute("http.route", .string("/orders")), Attribute("http.status_code", .int(500))])
                        ]),
                    ScopeSpans(
                        scope: InstrumentationScope(name: "db"),
                        spans: [
                            span(
                                2, "SELECT", kind: .client, status: .unset,
                                [Attribute("db.system", .string("postgresql"))])
                        ]),
                ]),
            ResourceSpans(
                resource: Resource(attributes: [Attribute("service.name", .string("worker"))]),
                scopeSpans: [
                    ScopeSpans(
                        scope: InstrumentationScope(name: "jobs"),
                        spans: [span(3, "job", kind: .internal, status: .ok, [])])
                ]),
        ])
    }

    /// The span ids kept, grouped as `resource/scope:ids`.
    private func keptSpans(_ result: EventBatch?) -> [String]? {
        guard let result else { return nil }
        guard case .traces(let traces) = result else {
            Issue.record("a traces batch became \(result.signal)")
            return nil
        }
        return traces.resourceSpans.flatMap { resource in
            resource.scopeSpans.map { scope in
                let service = resource.resource.attributes["service.name"]?.text ?? "?"
                return "\(service)/\(scope.scope.name):"
                    + scope.spans.map { String($0.spanID.value) }.joined(separator: ",")
            }
        }
    }

    static let spanCases: [(ComponentConfigValue, [String]?)] = [
        (["key": "name", "equals": "SELECT"], ["api/db:2"]),
        (["key": "name", "matches": "GET"], nil),
        (["key": "name", "matches": "GET .*"], ["api/http:1"]),
        (["key": "kind", "equals": "server"], ["api/http:1"]),
        (["key": "kind", "equals": "client"], ["api/db:2"]),
        (["key": "kind", "equals": "internal"], ["worker/jobs:3"]),
        (["key": "status", "equals": "error"], ["api/http:1"]),
        (["key": "status", "equals": "ok"], ["worker/jobs:3"]),
        (["key": "status", "equals": "unset"], ["api/db:2"]),
        (["key": "resource.service.name", "equals": "worker"], ["worker/jobs:3"]),
        (["key": "resource.service.name", "equals": "api"], ["api/http:1", "api/db:2"]),
        (["key": "http.route", "equals": "/orders"], ["api/http:1"]),
        (["key": "http.status_code", "equals": "500"], ["api/http:1"]),
        (["key": "db.system", "exists": true], ["api/db:2"]),
        (["key": "status", "not_equals": "error"], ["api/db:2", "worker/jobs:3"]),
        (["key": "kind", "equals": "SERVER"], nil),
        (
            ["any": [["key": "status", "equals": "error"], ["key": "resource.service.name", "equals": "worker"]]],
            ["api/http:1", "worker/jobs:3"]
        ),
    ]

    @Test(arguments: spanCases)
    func spansKeptByNameKindStatusAndAttributes(condition: ComponentConfigValue, expected: [String]?) throws {
        #expect(keptSpans(try run(condition, .traces(spanBatch()))) == expected)
    }

    @Test func emptyScopesAndResourcesArePruned() throws {
        let result = try run(["key": "name", "equals": "SELECT"], .traces(spanBatch()))
        guard case .traces(let traces)? = result else {
            Issue.record("expected traces, got \(String(describing: result))")
            return
        }
        #expect(traces.resourceSpans.count == 1)
        #expect(traces.resourceSpans[0].scopeSpans.count == 1)
        #expect(traces.resourceSpans[0].scopeSpans[0].scope.name == "db")
        #expect(traces.resourceSpans[0].scopeSpans[0].spans == [spanBatch().resourceSpans[0].scopeSpans[1].spans[0]])
        #expect(traces.resourceSpans[0].resource == spanBatch().resourceSpans[0].resource)
        #expect(traces.spanCount == 1)
    }
}
