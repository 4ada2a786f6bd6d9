import PetrelCodecs
import PetrelCore
import Testing

/// A batch written to a disk buffer comes back as it went in, whatever its signal.
@Suite struct BufferRecordCodecTests {
    @Test func metricsComeBackWithEverySampleHistogramExemplarAndType() throws {
        let batch = RemoteWriteFixtures.richBatch()
        guard case .metrics(let decoded) = try BufferRecordCodec().decode(BufferRecordCodec().encode(.metrics(batch)))
        else {
            Issue.record("not metrics")
            return
        }
        #expect(RemoteWriteFixtures.snapshot(decoded) == RemoteWriteFixtures.snapshot(batch))
    }

    @Test func spansComeBackLosslessly() throws {
        let batch = OTLPTraceConversion.spanBatch(from: OTLPFixtures.fullTraceRequest())
        #expect(batch.spanCount > 0)
        guard case .traces(let decoded) = try BufferRecordCodec().decode(BufferRecordCodec().encode(.traces(batch)))
        else {
            Issue.record("not traces")
            return
        }
        #expect(decoded == batch)
    }

    @Test func logRecordsComeBackWithFieldsMetadataAndResource() throws {
        let batch = LogBatch(records: [
            LogRecord(
                timestamp: 1_764_000_000_123_456_789, message: "payment failed", severity: "error",
                fields: [
                    "http": .object(["status": .int(502), "latency": .double(0.25)]), "retry": .bool(true),
                    "tags": .array([.string("a"), .null]), "raw": .bytes([0, 1, 255]),
                ],
                metadata: ["file": "/var/log/pods/payments_api-0/api/0.log", "stream": "stderr"],
                resource: [Attribute("k8s.pod.name", .string("api-0")), Attribute("cloud.provider", .string("aws"))]),
            LogRecord(timestamp: -5, message: ""),
        ])
        guard case .logs(let decoded) = try BufferRecordCodec().decode(BufferRecordCodec().encode(.logs(batch))) else {
            Issue.record("not logs")
            return
        }
        #expect(decoded == batch)
    }

    @Test func aRecordOfAnotherFormatOrSignalIsAnErrorNotAMisreading() {
        let record = BufferRecordCodec().encode(.logs(LogBatch(records: [LogRecord(timestamp: 1, message: "x")])))
        var otherFormat = record
        otherFormat[0] = 99
        #expect(throws: BufferRecordCodec.DecodingError.self) { try BufferRecordCodec().decode(otherFormat) }
        var otherSignal = record
        otherSignal[1] = 9
        #expect(throws: BufferRecordCodec.DecodingError.self) { try BufferRecordCodec().decode(otherSignal) }
        #expect(throws: BufferRecordCodec.DecodingError.self) { try BufferRecordCodec().decode([1]) }
        var truncated = BufferRecordCodec().encode(.metrics(RemoteWriteFixtures.richBatch()))
        truncated.removeLast(7)
        #expect(throws: BufferRecordCodec.DecodingError.self) { try BufferRecordCodec().decode(truncated) }
    }
}
