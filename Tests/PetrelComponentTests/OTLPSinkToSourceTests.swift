import Foundation
import PetrelCodecs
import PetrelCore
import PetrelNet
import PetrelSinks
import PetrelSources
import Testing

/// The otlp sink into Petrel's own otlp source, over both transports: the hand-written encoders' bytes decode, by the
/// hand-written decoders, to the batches that were sent.
@Suite struct OTLPSinkToSourceTests {
    typealias Key = OTLPLogConversion.MetadataKey

    private static func logs() -> LogBatch {
        LogBatch(records: [
            LogRecord(
                timestamp: 1_700_000_000_000_000_001, message: "payment declined", severity: "ERROR",
                fields: [
                    "order": .int(42), "amount": .double(9.5), "tags": .array([.string("a"), .bool(true)]),
                    "card": .object(["last4": .string("4242")]), "raw": .bytes([0, 0xff]), "none": .null,
                ],
                metadata: [
                    Key.scopeName: "payments", Key.scopeVersion: "2.0", Key.severityNumber: "17",
                    Key.traceID: "0102030405060708090a0b0c0d0e0f10", Key.spanID: "1112131415161718", Key.flags: "1",
                    Key.observedTimeUnixNano: "1700000000000000002", Key.eventName: "declined",
                    Key.resourceSchemaURL: "https://opentelemetry.io/schemas/1.26.0",
                ],
                resource: [Attribute("service.name", .string("payments"))]),
            LogRecord(
                timestamp: 1_700_000_000_000_000_003, message: "", severity: "INFO",
                fields: ["body": .object(["event": .string("login")]), "user": .string("ada")],
                metadata: [Key.scopeName: "payments", Key.bodyInFields: "true", Key.severityNumber: "9"],
                resource: [Attribute("service.name", .string("auth"))]),
        ])
    }

    @Test(arguments: [OTLPSinkConfig.Transport.grpc, .http])
    func batchesArriveAsTheyWereSent(transport: OTLPSinkConfig.Transport) async throws {
        let source = try await RunningOTLPSource()
        let port = transport == .grpc ? source.grpcPort : source.httpPort
        var config = OTLPSinkConfig(
            endpoint: try HTTPEndpoint.parse("http://127.0.0.1:\(port)").get(), transport: transport)
        config.request.maxAge = .milliseconds(10)
        let spans = OTLPSinkFixtures.spans(resources: 2, spansPerScope: 3)
        let logs = Self.logs()
        let telemetry = try await runOTLPSink(config, [.traces(spans), .logs(logs)])
        #expect(telemetry.sentEvents.value == 14)
        var arrived: [EventBatch] = []
        while let batch = await source.nextBatch() { arrived.append(batch) }
        try await source.stop()
        #expect(arrived.count == 2)
        for batch in arrived {
            switch batch {
            case .traces(let received): #expect(received == spans)
            case .logs(let received): #expect(received == logs)
            default: Issue.record("unexpected \(batch)")
            }
        }
    }
}
