import Foundation
import OTLPProtos
import PetrelCodecs
import PetrelCore
import SwiftProtobuf
import Testing

@Suite struct OTLPJSONTests {
    /// The OTLP specification's trace example (opentelemetry-proto `examples/trace.json`) with what receivers must
    /// also take: an int64 as a string, an unknown field, enums as integers, upper-case hex.
    static let specTraceJSON = """
        {
          "resourceSpans": [
            {
              "resource": {
                "attributes": [
                  { "key": "service.name", "value": { "stringValue": "my.service" } }
                ]
              },
              "scopeSpans": [
                {
                  "scope": {
                    "name": "my.library",
                    "version": "1.0.0",
                    "attributes": [
                      { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
                    ]
                  },
                  "spans": [
                    {
                      "traceId": "5B8EFFF798038103D269B633813FC60C",
                      "spanId": "EEE19B7EC3C1B174",
                      "parentSpanId": "EEE19B7EC3C1B173",
                      "name": "I'm a server span",
                      "startTimeUnixNano": "1544712660000000000",
                      "endTimeUnixNano": 1544712661000000000,
                      "kind": 2,
                      "status": { "code": 2, "message": "boom" },
                      "someFieldFromTheFuture": { "nested": [1, 2, { "traceId": 17 }] },
                      "attributes": [
                        { "key": "my.span.attr", "value": { "stringValue": "some value" } }
                      ]
                    }
                  ]
                }
              ]
            }
          ]
        }
        """

    static func specTraceMessage() -> OTLPFixtures.TraceRequest {
        var span = OTLPFixtures.ProtoSpan()
        span.traceID = Data([
            0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
        ])
        span.spanID = Data([0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74])
        span.parentSpanID = Data([0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73])
        span.name = "I'm a server span"
        span.startTimeUnixNano = 1_544_712_660_000_000_000
        span.endTimeUnixNano = 1_544_712_661_000_000_000
        span.kind = .server
        span.status.code = .error
        span.status.message = "boom"
        span.attributes = [OTLPFixtures.attribute("my.span.attr", "some value")]
        var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scope.scope.name = "my.library"
        scope.scope.version = "1.0.0"
        scope.scope.attributes = [OTLPFixtures.attribute("my.scope.attribute", "some scope attribute")]
        scope.spans = [span]
        var resource = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resource.resource.attributes = [OTLPFixtures.attribute("service.name", "my.service")]
        resource.scopeSpans = [scope]
        var request = OTLPFixtures.TraceRequest()
        request.resourceSpans = [resource]
        return request
    }

    @Test func specExampleDecodesLikeProtobuf() throws {
        let decoded = try OTLPJSON.decode(Array(Self.specTraceJSON.utf8), as: OTLPFixtures.TraceRequest.self)
        #expect(decoded == Self.specTraceMessage())
        let bytes: [UInt8] = try Self.specTraceMessage().serializedBytes()
        #expect(try OTLPJSON.decodeProtobuf(bytes, as: OTLPFixtures.TraceRequest.self) == decoded)
    }

    @Test func encodeWritesHexIDsAndIntegerEnums() throws {
        let json = OTLPJSON.encode(Self.specTraceMessage())
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains(#""traceId":"5b8efff798038103d269b633813fc60c""#))
        #expect(text.contains(#""spanId":"eee19b7ec3c1b174""#))
        #expect(text.contains(#""parentSpanId":"eee19b7ec3c1b173""#))
        #expect(text.contains(#""kind":2"#))
        #expect(text.contains(#""code":2"#))
        #expect(text.contains(#""startTimeUnixNano":"1544712660000000000""#))
        #expect(try OTLPJSON.decode(json, as: OTLPFixtures.TraceRequest.self) == Self.specTraceMessage())
        // Foundation reads it too: it is plain JSON.
        #expect(try JSONSerialization.jsonObject(with: Data(json)) is [String: Any])
    }

    @Test func fullRequestRoundTripsThroughJSON() throws {
        let request = OTLPFixtures.fullTraceRequest()
        let json = OTLPJSON.encode(request)
        #expect(try OTLPJSON.decode(json, as: OTLPFixtures.TraceRequest.self) == request)
        // Bytes values other than ids stay base64, as the mapping says.
        #expect(String(decoding: json, as: UTF8.self).contains(#""bytesValue":"AAH+/w==""#))
        #expect(String(decoding: json, as: UTF8.self).contains(#""traceId":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf""#))
    }

    @Test func idsAreFoundAtEveryDepthAndSpelling() throws {
        let logs = """
            {"resourceLogs":[{"scopeLogs":[{"logRecords":[
              {"trace_id":"00000000000000000000000000000001","span_id":"0000000000000002","body":{"stringValue":"x"}}
            ]}]}]}
            """
        let decodedLogs = try OTLPJSON.decode(Array(logs.utf8), as: OTLPFixtures.LogsRequest.self)
        let record = decodedLogs.resourceLogs[0].scopeLogs[0].logRecords[0]
        #expect(record.traceID == Data(repeating: 0, count: 15) + [1])
        #expect(record.spanID == Data([0, 0, 0, 0, 0, 0, 0, 2]))

        let metrics = """
            {"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[
              {"asInt":"5","exemplars":[{"asDouble":1.5,"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1112131415161718"}]}
            ],"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true}}]}]}]}
            """
        let decodedMetrics = try OTLPJSON.decode(Array(metrics.utf8), as: OTLPFixtures.MetricsRequest.self)
        let sum = decodedMetrics.resourceMetrics[0].scopeMetrics[0].metrics[0].sum
        #expect(sum.aggregationTemporality == .cumulative)
        #expect(sum.dataPoints[0].asInt == 5)
        #expect(sum.dataPoints[0].exemplars[0].traceID == Data(Array(1...16)))
        #expect(sum.dataPoints[0].exemplars[0].spanID == Data(Array(17...24)))
        let back = String(decoding: OTLPJSON.encode(decodedMetrics), as: UTF8.self)
        #expect(back.contains(#""traceId":"0102030405060708090a0b0c0d0e0f10""#))
        #expect(back.contains(#""aggregationTemporality":2"#))

        let links = """
            {"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10",
              "spanId":"1112131415161718","parentSpanId":"","links":[
              {"traceId":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf","spanId":"b0b1b2b3b4b5b6b7"}]}]}]}]}
            """
        let span = try OTLPJSON.decode(Array(links.utf8), as: OTLPFixtures.TraceRequest.self)
            .resourceSpans[0].scopeSpans[0].spans[0]
        #expect(span.parentSpanID.isEmpty)
        #expect(span.links[0].traceID == Data(Array(0xa0...0xaf)))
        #expect(span.links[0].spanID == Data(Array(0xb0...0xb7)))
    }

    @Test func attributeNamedLikeAnIDIsNotTouched() throws {
        let json = """
            {"resourceSpans":[{"resource":{"attributes":[{"key":"traceId","value":{"stringValue":"not hex"}}]}}]}
            """
        let decoded = try OTLPJSON.decode(Array(json.utf8), as: OTLPFixtures.TraceRequest.self)
        #expect(decoded.resourceSpans[0].resource.attributes[0].value.stringValue == "not hex")
    }

    @Test func enumNamesAreAcceptedToo() throws {
        let json = #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_CONSUMER"}]}]}]}"#
        let decoded = try OTLPJSON.decode(Array(json.utf8), as: OTLPFixtures.TraceRequest.self)
        #expect(decoded.resourceSpans[0].scopeSpans[0].spans[0].kind == .consumer)
        // An enum name from a newer schema is ignored like an unknown field, as protobuf's JSON mapping has it.
        let newer = #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SIDEWAYS"}]}]}]}"#
        let ignored = try OTLPJSON.decode(Array(newer.utf8), as: OTLPFixtures.TraceRequest.self)
        #expect(ignored.resourceSpans[0].scopeSpans[0].spans[0].kind == .unspecified)
    }

    // MARK: Errors

    private func error(json: String) -> OTLPDecodingError? {
        do {
            _ = try OTLPJSON.decode(Array(json.utf8), as: OTLPFixtures.TraceRequest.self)
            return nil
        } catch {
            return error
        }
    }

    @Test func malformedJSONSaysWhere() {
        let truncated = error(json: #"{"resourceSpans": [}"#)
        #expect(truncated == .invalidJSON)
        #expect(
            truncated?.description
                == "cannot decode ExportTraceServiceRequest: invalid JSON at byte 19: expected a value")
        #expect(
            error(json: "")?.description == "cannot decode ExportTraceServiceRequest: invalid JSON at byte 0: "
                + "unexpected end of input")
        #expect(
            error(json: #"{"a": 1} x"#)?.description.hasSuffix("at byte 9: unexpected data after the document") == true)
        #expect(error(json: #"{"a" 1}"#)?.description.hasSuffix("at byte 5: expected ':'") == true)
        #expect(error(json: #"{"a": "\q"}"#)?.description.hasSuffix("invalid escape") == true)
        #expect(error(json: #"{"a": 01}"#) == .invalidJSON)
        #expect(error(json: #"{"a": [1,]}"#) == .invalidJSON)
        #expect(error(json: #"{"a": tru}"#) == .invalidJSON)
        #expect(error(json: "{\"a\": \"line\nbreak\"}")?.description.hasSuffix("control character in a string") == true)
        #expect(error(json: String(repeating: "[", count: 600)) == .invalidJSON)
    }

    @Test func badIDsAreNamed() {
        let bad = error(json: #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#)
        #expect(bad == .invalidID)
        #expect(bad?.description == #"cannot decode ExportTraceServiceRequest: traceId "xyz" is not 32 hex digits"#)
        let span = error(json: #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"zz00000000000000"}]}]}]}"#)
        #expect(span?.description.hasSuffix(#"spanId "zz00000000000000" is not 16 hex digits"#) == true)
    }

    @Test func jsonOfTheWrongShapeIsRefused() {
        let wrong = error(json: #"{"resourceSpans": 5}"#)
        #expect(wrong == .schemaMismatch)
        #expect(wrong?.description.hasPrefix("cannot decode ExportTraceServiceRequest: JSON does not match") == true)
        #expect(error(json: #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}"#) == .schemaMismatch)
        // A non-string id is left to swift-protobuf, which refuses it as a schema error.
        #expect(error(json: #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":5}]}]}]}"#) == .schemaMismatch)
    }

    @Test func malformedProtobufIsOneErrorType() throws {
        let bytes: [UInt8] = try Self.specTraceMessage().serializedBytes()
        do {
            _ = try OTLPJSON.decodeProtobuf(Array(bytes.dropLast(3)), as: OTLPFixtures.TraceRequest.self)
            Issue.record("a truncated request decoded")
        } catch {
            #expect(error == .malformedProtobuf)
            #expect(error.description == "cannot decode ExportTraceServiceRequest: malformed protobuf (truncated)")
        }
        #expect(throws: OTLPDecodingError.malformedProtobuf) {
            _ = try OTLPJSON.decodeProtobuf([0x0f, 0xff], as: OTLPFixtures.LogsRequest.self)
        }
        // An empty body is an empty request, as protobuf has it.
        #expect(try OTLPJSON.decodeProtobuf([], as: OTLPFixtures.MetricsRequest.self).resourceMetrics.isEmpty)
    }
}
