import PetrelCodecs
import PetrelCore
import Testing

@Suite struct LogBodyDecoderTests {
    static let receivedAt: Int64 = 1_800_000_000_000_000_000

    private func decode(_ codec: LogBodyDecoder.Codec, _ text: String) throws -> [LogRecord] {
        try LogBodyDecoder(codec: codec).decode(Array(text.utf8), receivedAt: Self.receivedAt)
    }

    private func failure(_ codec: LogBodyDecoder.Codec, _ text: String) -> LogBodyDecodingError? {
        #expect(throws: LogBodyDecodingError.self) { try decode(codec, text) }
    }

    @Test func ndjsonObjectsBecomeRecords() throws {
        let body = """
            {"message":"user logged in","timestamp":"2025-12-07T01:02:03.5Z","severity":"info","user":"ana","n":3}
            {"message":"disk full","level":"error","ratio":0.97,"tags":["a","b"],"ok":false,"none":null}

            "just a line"\r
            {"nested":{"deep":{"x":1}},"timestamp":1765069323}
            """
        let records = try decode(.ndjson, body)
        #expect(records.count == 4, "the blank line is skipped")
        #expect(records[0].message == "user logged in")
        #expect(records[0].timestamp == 1_765_069_323_500_000_000)
        #expect(records[0].severity == "info")
        #expect(records[0].fields == ["user": .string("ana"), "n": .int(3)])
        #expect(records[1].message == "disk full")
        #expect(records[1].timestamp == Self.receivedAt, "no time: the time it was received")
        #expect(
            records[1].fields == [
                "level": .string("error"), "ratio": .double(0.97), "tags": .array([.string("a"), .string("b")]),
                "ok": .bool(false), "none": .null,
            ])
        #expect(records[2] == LogRecord(timestamp: Self.receivedAt, message: "just a line"))
        #expect(records[3].timestamp == 1_765_069_323_000_000_000)
        #expect(records[3].fields == ["nested": .object(["deep": .object(["x": .int(1)])])])
    }

    @Test func jsonTakesOneObjectOrAnArray() throws {
        // Falco's http_output: one object per request.
        let falco = """
            {"hostname":"node-1","output":"Shell spawned","priority":"Warning","rule":"Terminal shell in container",
             "source":"syscall","tags":["container","shell"],"time":"2025-12-07T01:02:03.123456789Z",
             "output_fields":{"container.id":"abc123","proc.name":"bash"}}
            """
        var keys = LogBodyDecoder.Keys()
        keys.message = "output"
        keys.timestamp = "time"
        keys.severity = "priority"
        let records = try LogBodyDecoder(codec: .json, keys: keys).decode(Array(falco.utf8), receivedAt: 0)
        #expect(records.count == 1)
        #expect(records.first?.message == "Shell spawned")
        #expect(records.first?.severity == "Warning")
        #expect(records.first?.timestamp == 1_765_069_323_123_456_789)
        #expect(
            records.first?.fields["output_fields"]
                == .object(["container.id": .string("abc123"), "proc.name": .string("bash")]))
        #expect(records.first?.fields["message"] == nil)

        let array = try decode(.json, #" [ {"message":"a"}, "b", {"message":"c","k":"v"} ] "#)
        #expect(array.map(\.message) == ["a", "b", "c"])
        #expect(array[2].fields == ["k": .string("v")])
        #expect(try decode(.json, "[]").isEmpty)
        #expect(try decode(.json, "  \n").isEmpty, "an empty body is no records")
    }

    @Test func textMakesOneRecordPerLine() throws {
        let records = try decode(.text, "first line\r\n\nsecond {not json}\nlast without newline")
        #expect(records.map(\.message) == ["first line", "second {not json}", "last without newline"])
        #expect(records.allSatisfy { $0.timestamp == Self.receivedAt && $0.fields.isEmpty })
        #expect(try decode(.text, "").isEmpty)
    }

    @Test func epochNumbersAreReadByTheirSize() {
        let second: Int64 = 1_765_069_323
        let nanoseconds = second * 1_000_000_000
        #expect(LogBodyDecoder.nanoseconds(.int(second)) == nanoseconds)
        #expect(LogBodyDecoder.nanoseconds(.int(second * 1_000)) == nanoseconds)
        #expect(LogBodyDecoder.nanoseconds(.int(second * 1_000_000)) == nanoseconds)
        #expect(LogBodyDecoder.nanoseconds(.int(nanoseconds)) == nanoseconds)
        #expect(LogBodyDecoder.nanoseconds(.double(1_765_069_323.25)) == nanoseconds + 250_000_000)
        #expect(LogBodyDecoder.nanoseconds(.string("2025-12-07T03:02:03+02:00")) == nanoseconds)
        #expect(LogBodyDecoder.nanoseconds(.string("yesterday")) == nil)
        #expect(LogBodyDecoder.nanoseconds(.bool(true)) == nil)
    }

    @Test func aTimestampThatIsNotATimeStaysAField() throws {
        let records = try decode(.ndjson, #"{"message":"m","timestamp":"soon"}"#)
        #expect(records.first?.timestamp == Self.receivedAt)
        #expect(records.first?.fields == ["timestamp": .string("soon")])
    }

    @Test func whatSinksWriteIsReadBackAsTheSameRecord() throws {
        let written = [
            LogRecord(
                timestamp: 1_765_069_323_123_456_789, message: "order placed", severity: "INFO",
                fields: ["order": .object(["id": .int(42), "total": .double(9.5)]), "tags": .array([.string("x")])],
                metadata: ["file": "/var/log/app.log", "source_type": "file"],
                resource: [Attribute("k8s.cluster.name", .string("eu-1")), Attribute("service.name", .string("shop"))]),
            LogRecord(timestamp: 5, message: "bare"),
        ]
        var encoder = EventJSONEncoder()
        let body = encoder.encode(.logs(LogBatch(records: written)))
        let read = try LogBodyDecoder(codec: .ndjson).decode(body, receivedAt: Self.receivedAt)
        #expect(read == written)
    }

    /// Every malformed body fails whole, naming the line of the first bad value.
    @Test func malformedBodiesNameTheirLine() {
        let cases: [(codec: LogBodyDecoder.Codec, body: String, line: Int, reason: String)] = [
            (.ndjson, "{\"a\":1}\n{\"a\":2}\n{\"a\":\n{\"a\":4}", 3, "unexpected end of input, expected a value"),
            (.ndjson, "{\"a\":1}\n\n{\"a\" 2}", 3, "expected : after a key"),
            (.ndjson, "{\"a\":1} {\"b\":2}", 1, "unexpected data after the value"),
            (.ndjson, "{\"a\":1}\n42", 2, "expected a JSON object or string"),
            (.ndjson, "[{\"a\":1}]", 1, "expected a JSON object or string"),
            (.ndjson, "{\"a\":tru}", 1, "invalid literal, expected true"),
            (.ndjson, "{\"a\":\"x\u{01}\"}", 1, "control character 0x1 in a string"),
            (.ndjson, "{\"a\":\"\\q\"}", 1, "invalid escape \\'q' in a string"),
            (.ndjson, "{\"a\":01}", 1, "expected , or } in an object"),
            (.ndjson, "{\"a\":1e999}", 1, "number 1e999 is out of range"),
            (.ndjson, "{'a':1}", 1, "expected a key in quotes"),
            (.json, "{\"a\":1,\n\"b\":2,\n\"c\":}", 3, "unexpected character '}', expected a value"),
            (.json, "[\n{\"a\":1},\n7\n]", 3, "expected a JSON object or string"),
            (.json, "[{\"a\":1}\n{\"a\":2}]", 2, "expected , or ] in an array"),
            (.json, "{\"a\":1}\n{\"a\":2}", 2, "unexpected data after the value"),
            (.json, "[{\"a\":1},", 1, "unexpected end of input, expected a value"),
            (.json, String(repeating: "[", count: 200), 1, "nested deeper than 128 levels"),
        ]
        for item in cases {
            let error = failure(item.codec, item.body)
            #expect(error == LogBodyDecodingError(line: item.line, reason: item.reason), "\(item.body)")
        }
        #expect(failure(.ndjson, "{\"a\":\n")?.description == "line 1: unexpected end of input, expected a value")
    }

    @Test func escapesAndUnicodeDecode() throws {
        let body = #"{"message":"tab\there \"q\" \u00e9\u20ac\ud83d\ude00 \/ lone \ud800 end","k\nv":"\\"}"#
        let record = try #require(try decode(.ndjson, body).first)
        #expect(record.message == "tab\there \"q\" é€😀 / lone \u{FFFD} end")
        #expect(record.fields == ["k\nv": .string("\\")])
        #expect(try decode(.ndjson, "{\"message\":\"naïve ✓\"}").first?.message == "naïve ✓")
    }

    @Test func numbersKeepTheirKind() throws {
        let record = try #require(
            try decode(.ndjson, #"{"a":-0,"b":9223372036854775807,"c":9223372036854775808,"d":-1.5e-3,"e":2E+2}"#)
                .first)
        #expect(record.fields["a"] == .int(0))
        #expect(record.fields["b"] == .int(Int64.max))
        #expect(record.fields["c"] == .double(9_223_372_036_854_775_808))
        #expect(record.fields["d"] == .double(-0.0015))
        #expect(record.fields["e"] == .double(200))
    }

    /// A body cut anywhere either fails or decodes to a prefix of its records: never a crash, never a record that was
    /// not sent. Byte at a time, for every codec.
    @Test(arguments: LogBodyDecoder.Codec.allCases)
    func everyPrefixFailsOrDecodesAPrefix(codec: LogBodyDecoder.Codec) throws {
        let lines = (0..<6).map { #"{"message":"line \#($0) é","n":\#($0),"tags":["a",{"b":null}],"x":1.5e2}"# }
        let body = codec == .json ? "[" + lines.joined(separator: ",\n") + "]" : lines.joined(separator: "\n")
        let full = try decode(codec, body)
        #expect(full.count == 6)
        let bytes = Array(body.utf8)
        for cut in 0..<bytes.count {
            do {
                let records = try LogBodyDecoder(codec: codec).decode(Array(bytes[..<cut]), receivedAt: Self.receivedAt)
                #expect(records.count <= full.count, "prefix of \(cut) bytes")
                if codec != .text {
                    #expect(Array(full.prefix(records.count)) == records, "prefix of \(cut) bytes")
                }
            } catch {
                #expect(codec != .text, "text never fails")
            }
        }
    }

    @Test func randomBytesNeverCrash() {
        let alphabet = Array("{}[]\":,0123456789.eE+-tfnul\\ \nabc".utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for round in 0..<2_000 {
            var bytes: [UInt8] = []
            for _ in 0..<(round % 64) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            for codec in LogBodyDecoder.Codec.allCases {
                _ = try? LogBodyDecoder(codec: codec).decode(bytes, receivedAt: 0)
            }
        }
    }
}
