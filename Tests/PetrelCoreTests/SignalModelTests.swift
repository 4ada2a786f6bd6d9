import PetrelCore
import Testing

@Suite struct LogAndSpanModelTests {
    @Test func logFieldsByDottedPath() {
        let record = LogRecord(
            timestamp: 1, message: "GET /", severity: "INFO",
            fields: ["http": .object(["status": .int(200), "method": .string("GET")]), "user.id": .string("u1")])
        #expect(record.field(path: "http.status") == .int(200))
        #expect(record.field(path: "http.status")?.text == "200")
        #expect(record.field(path: "user.id") == .string("u1"), "a literal dotted key wins")
        #expect(record.field(path: "http.missing") == nil)
        #expect(EventBatch.logs(LogBatch(records: [record, record])).eventCount == 2)
    }

    @Test func spansKeepTheirGroupingAndFilter() {
        let trace = TraceID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10)
        func span(_ id: UInt64, _ name: String) -> Span {
            Span(traceID: trace, spanID: SpanID(id), name: name, startTimeUnixNano: 1, endTimeUnixNano: 2)
        }
        var batch = SpanBatch(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [Attribute("service.name", .string("cart"))]),
                scopeSpans: [
                    ScopeSpans(scope: InstrumentationScope(name: "a"), spans: [span(1, "keep"), span(2, "drop")]),
                    ScopeSpans(scope: InstrumentationScope(name: "b"), spans: [span(3, "drop")]),
                ]),
            ResourceSpans(scopeSpans: [ScopeSpans(spans: [span(4, "drop")])]),
        ])
        #expect(batch.spanCount == 4)
        #expect(trace.description == "0102030405060708090a0b0c0d0e0f10")
        #expect(SpanID(0xAB).description == "00000000000000ab")
        batch.retainSpans { _, span in span.name == "keep" }
        #expect(batch.spanCount == 1)
        #expect(batch.resourceSpans.count == 1, "empty groups are removed")
        #expect(batch.resourceSpans[0].scopeSpans.count == 1)
        #expect(batch.resourceSpans[0].resource.attributes["service.name"] == .string("cart"))
    }

    @Test func attributesSetReplacesOrAppends() {
        var attributes = [Attribute("a", .int(1))]
        attributes.set("a", .int(2))
        attributes.set("b", .bool(true))
        #expect(attributes == [Attribute("a", .int(2)), Attribute("b", .bool(true))])
    }
}
