import PetrelCodecs
import PetrelCore
import Testing

/// Alerts as the disk buffer and the alert state files keep them: everything comes back, and anything else is refused.
@Suite struct AlertRecordCodecTests {
    private let alerts = [
        Alert(
            labels: ["alertname": "Terminal shell in container", "k8s_ns_name": "shop", "severity": "warning"],
            annotations: [
                "summary": "Terminal shell in container", "description": "A shell \"bash\"\nwas spawned",
                "count": "3",
            ],
            startsAt: 1_796_000_000_123_456_789, generatorURL: "http://falco/ui"),
        Alert(
            labels: ["alertname": "Disk"], annotations: [:], startsAt: 1_796_000_000_000_000_000,
            endsAt: 1_796_000_300_000_000_000, state: .resolved),
    ]

    @Test func alertsComeBackWhole() throws {
        #expect(try AlertRecordCodec.decodeAlerts(AlertRecordCodec.encode(alerts)) == alerts)
    }

    @Test func extraKeysComeBackBesideTheAlert() throws {
        let bytes = AlertRecordCodec.encode([(alert: alerts[0], extra: ["last_seen_ns": 42, "count": 3])])
        let entries = try AlertRecordCodec.decode(bytes)
        #expect(entries.count == 1)
        #expect(entries.first?.alert == alerts[0])
        #expect(entries.first?.extra == ["last_seen_ns": 42, "count": 3])
    }

    @Test func throughTheDiskBufferRecord() throws {
        let codec = BufferRecordCodec()
        let decoded = try codec.decode(codec.encode(.alerts(AlertBatch(alerts: alerts))))
        guard case .alerts(let batch) = decoded else {
            Issue.record("decoded \(decoded.signal), expected alerts")
            return
        }
        #expect(batch.alerts == alerts)
    }

    @Test func malformedInputIsRefusedWithTheReason() {
        let cases: [(String, String)] = [
            ("", "not JSON"),
            ("{\"labels\":{}}", "expected an array of alerts"),
            (
                "[{\"labels\":{\"a\":1},\"annotations\":{},\"starts_at_ns\":1,\"generator_url\":\"\",\"state\":\"firing\"}]",
                "alert 0 is not"
            ),
            (
                "[{\"labels\":{},\"annotations\":{},\"starts_at_ns\":1,\"generator_url\":\"\",\"state\":\"pending\"}]",
                "alert 0 is not"
            ),
            (
                "[{\"labels\":{},\"annotations\":{},\"starts_at_ns\":\"1\",\"generator_url\":\"\",\"state\":\"firing\"}]",
                "alert 0 is not"
            ),
            ("[] x", "not JSON"),
        ]
        for (text, expected) in cases {
            do {
                _ = try AlertRecordCodec.decode(Array(text.utf8))
                Issue.record("decoded \(text)")
            } catch {
                #expect(error.description.contains(expected), "\(text): \(error.description)")
            }
        }
    }

    @Test func everyTruncationIsRefusedNeverMisread() {
        let bytes = AlertRecordCodec.encode(alerts)
        for length in 0..<bytes.count {
            #expect(throws: AlertRecordDecodingError.self) { try AlertRecordCodec.decode(Array(bytes[..<length])) }
        }
    }

    @Test func consoleLinesNameTheAlert() {
        var encoder = EventJSONEncoder()
        let text = String(decoding: encoder.encode(.alerts(AlertBatch(alerts: [alerts[1]]))), as: UTF8.self)
        #expect(
            text
                == #"{"kind":"alert","state":"resolved","labels":{"alertname":"Disk"},"annotations":{},"#
                + #""starts_at":"2026-11-30T00:53:20.000000000Z","ends_at":"2026-11-30T00:58:20.000000000Z"}"# + "\n")
    }
}
