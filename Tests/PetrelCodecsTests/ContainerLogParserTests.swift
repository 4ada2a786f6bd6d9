import PetrelCodecs
import Testing

/// CRI and Docker `json-file` lines as containerd, CRI-O and Docker write them.
@Suite struct ContainerLogParserTests {
    private let parser = ContainerLogParser()

    private func bytes(_ text: String) -> ArraySlice<UInt8> { Array(text.utf8)[...] }

    private func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    private func parseError(_ line: String, _ format: ContainerLogFormat) -> ContainerLogParseError? {
        do {
            let parsed = try parser.parse(bytes(line), format: format)
            Issue.record("parsed \(line.debugDescription) as \(parsed)")
            return nil
        } catch {
            return error
        }
    }

    // 2024-01-01T00:00:00Z
    private static let newYear2024: Int64 = 1_704_067_200 * 1_000_000_000

    // MARK: CRI

    @Test func containerdFullLine() throws {
        let line = try parser.parseCRI(
            bytes("2024-01-01T00:00:00.123456789Z stdout F {\"level\":\"info\",\"msg\":\"listening on :8080\"}"))
        #expect(line.timestamp == Self.newYear2024 + 123_456_789)
        #expect(line.stream == .stdout)
        #expect(!line.isPartial)
        #expect(text(line.message) == "{\"level\":\"info\",\"msg\":\"listening on :8080\"}")
        #expect(line.truncatedBytes == 0)
    }

    @Test func containerdPartialLineOnStderr() throws {
        let line = try parser.parseCRI(bytes("2024-01-01T00:00:00.5Z stderr P Traceback (most recent call last):"))
        #expect(line.timestamp == Self.newYear2024 + 500_000_000)
        #expect(line.stream == .stderr)
        #expect(line.isPartial)
        #expect(text(line.message) == "Traceback (most recent call last):")
    }

    @Test func crioWithZoneOffset() throws {
        // CRI-O writes the node's local time with its offset: 02:00 at +02:00 is midnight UTC.
        let line = try parser.parseCRI(bytes("2024-01-01T02:00:00.000001+02:00 stdout F GET /healthz 200"))
        #expect(line.timestamp == Self.newYear2024 + 1_000)
        #expect(text(line.message) == "GET /healthz 200")
        let west = try parser.parseCRI(bytes("2023-12-31T19:30:00-04:30 stdout F x"))
        #expect(west.timestamp == Self.newYear2024)
    }

    @Test func fractionOfZeroToNineDigits() throws {
        #expect(try parser.parseCRI(bytes("2024-01-01T00:00:00Z stdout F a")).timestamp == Self.newYear2024)
        #expect(
            try parser.parseCRI(bytes("2024-01-01T00:00:00.1Z stdout F a")).timestamp == Self.newYear2024 + 100_000_000)
        #expect(
            try parser.parseCRI(bytes("2024-01-01T00:00:00.000000001Z stdout F a")).timestamp == Self.newYear2024 + 1)
        #expect(try parser.parseCRI(bytes("1970-01-01T00:00:00Z stdout F a")).timestamp == 0)
        #expect(try parser.parseCRI(bytes("1969-12-31T23:59:59.9Z stdout F a")).timestamp == -100_000_000)
        #expect(
            try parser.parseCRI(bytes("2024-02-29T12:00:00Z stdout F a")).timestamp
                == Self.newYear2024 + (59 * 86_400 + 12 * 3600) * 1_000_000_000)
    }

    @Test func tagsAfterColonAndEmptyMessages() throws {
        let tagged = try parser.parseCRI(bytes("2024-01-01T00:00:00Z stdout P:extra:more hello world "))
        #expect(tagged.isPartial)
        #expect(text(tagged.message) == "hello world ")
        let empty = try parser.parseCRI(bytes("2024-01-01T00:00:00Z stdout F "))
        #expect(empty.message.isEmpty)
        #expect(!empty.isPartial)
        let bare = try parser.parseCRI(bytes("2024-01-01T00:00:00Z stderr F"))
        #expect(bare.message.isEmpty)
        #expect(bare.stream == .stderr)
    }

    @Test func messageKeepsSpacesAndTabsAsWritten() throws {
        let line = try parser.parseCRI(bytes("2024-01-01T00:00:00Z stdout F   indented\twith tab"))
        #expect(text(line.message) == "  indented\twith tab")
    }

    @Test func malformedCRILinesSayWhatIsWrong() {
        let cases: [(String, ContainerLogParseError)] = [
            ("", .emptyLine),
            ("2024-01-01T00:00:00Z", .missingField),
            ("2024-01-01T00:00:00Z stdout", .missingField),
            ("not-a-time stdout F x", .invalidTimestamp),
            ("2024-13-01T00:00:00Z stdout F x", .invalidTimestamp),
            ("2023-02-29T00:00:00Z stdout F x", .invalidTimestamp),
            ("2024-01-01T24:00:00Z stdout F x", .invalidTimestamp),
            ("2024-01-01T00:00:60Z stdout F x", .invalidTimestamp),
            ("2024-01-01T00:00:00 stdout F x", .invalidTimestamp),
            ("2024-01-01T00:00:00.Z stdout F x", .invalidTimestamp),
            ("2024-01-01T00:00:00.1234567890Z stdout F x", .invalidTimestamp),
            ("2024-01-01T00:00:00+2:00 stdout F x", .invalidTimestamp),
            ("2024-01-01T00:00:00Zjunk stdout F x", .invalidTimestamp),
            ("9999-12-31T23:59:59Z stdout F x", .invalidTimestamp),
            ("2024-01-01T00:00:00Z stdin F x", .invalidStream),
            ("2024-01-01T00:00:00Z  stdout F x", .invalidStream),
            ("2024-01-01T00:00:00Z stdout X x", .invalidTag),
            ("2024-01-01T00:00:00Z stdout PF x", .invalidTag),
            ("2024-01-01T00:00:00Z stdout  x", .invalidTag),
        ]
        for (line, expected) in cases {
            let error = parseError(line, .cri)
            #expect(error == expected, "\(line.debugDescription): \(String(describing: error))")
        }
        let described = parseError("2024-01-01T00:00:00Z stdin F x", .cri)?.description ?? ""
        #expect(described == "invalid stream \"stdin\": expected stdout or stderr")
        let time = parseError("yesterday stdout F x", .cri)?.description ?? ""
        #expect(time.hasPrefix("invalid timestamp \"yesterday\""))
    }

    // MARK: Docker

    @Test func dockerFullLine() throws {
        let line = try parser.parseDocker(
            bytes(#"{"log":"Server started on port 3000\n","stream":"stdout","time":"2024-01-01T00:00:00.123456789Z"}"#)
        )
        #expect(line.timestamp == Self.newYear2024 + 123_456_789)
        #expect(line.stream == .stdout)
        #expect(!line.isPartial)
        #expect(text(line.message) == "Server started on port 3000")
    }

    @Test func dockerPieceWithoutNewlineIsPartial() throws {
        let line = try parser.parseDocker(
            bytes(#"{"log":"first 16 KiB","stream":"stderr","time":"2024-01-01T00:00:00Z"}"#))
        #expect(line.isPartial)
        #expect(line.stream == .stderr)
        #expect(text(line.message) == "first 16 KiB")
    }

    @Test func dockerEscapesAreDecoded() throws {
        let line = try parser.parseDocker(
            bytes(
                #"{"log":"say \"hi\"\\\/ \t tab\r\u00e9 \u20ac \ud83d\ude00 \u0041\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#
            ))
        #expect(text(line.message) == "say \"hi\"\\/ \t tab\r\u{e9} \u{20ac} \u{1F600} A")
        #expect(!line.isPartial)
        // Go's decoder turns a lone surrogate into U+FFFD.
        let lone = try parser.parseDocker(
            bytes(#"{"log":"a\ud800b\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#))
        #expect(text(lone.message) == "a\u{FFFD}b")
        // An escaped backslash before a literal n is not a newline.
        let notNewline = try parser.parseDocker(
            bytes(#"{"log":"a\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#))
        #expect(text(notNewline.message) == "a\\n")
        #expect(notNewline.isPartial)
    }

    @Test func dockerKeysInAnyOrderWithExtrasAndWhitespace() throws {
        let line = try parser.parseDocker(
            bytes(
                #"{ "time" : "2024-01-01T00:00:00Z", "attrs": {"tag": "web", "n": [1, {"x": "}"}]}, "stream":"stderr", "extra": -1.5e3, "flag": true, "none": null, "log": "oops\n" } "#
            ))
        #expect(line.stream == .stderr)
        #expect(text(line.message) == "oops")
        #expect(line.timestamp == Self.newYear2024)
    }

    @Test func malformedDockerLinesSayWhatIsWrong() {
        let time = #""time":"2024-01-01T00:00:00Z""#
        let cases: [(String, ContainerLogParseError)] = [
            ("", .emptyLine),
            (#"{"log":"x\n","stream":"stdout","#, .malformedJSON),
            (#"{"log":"x\n","stream":"stdout","time":"2024-01-01T00:00:00Z""#, .malformedJSON),
            (#"{"log":"x\n","stream":"stdout",\#(time)}}"#, .malformedJSON),
            (#"{"log":"x\n""#, .malformedJSON),
            (#"{"log":"unterminated"#, .malformedJSON),
            (#"{"log":42,"stream":"stdout",\#(time)}"#, .malformedJSON),
            (#"{"log" "x","stream":"stdout",\#(time)}"#, .malformedJSON),
            (#"["log","x"]"#, .malformedJSON),
            (#"{"log":"x","stream":"stdout",\#(time),}"#, .malformedJSON),
            (#"{"log":"bad \x escape","stream":"stdout",\#(time)}"#, .invalidEscape),
            (#"{"log":"bad \u12G4","stream":"stdout",\#(time)}"#, .invalidEscape),
            ("{\"log\":\"raw\u{01}control\",\"stream\":\"stdout\",\(time)}", .invalidEscape),
            (#"{"stream":"stdout",\#(time)}"#, .missingKey),
            (#"{"log":"x\n",\#(time)}"#, .missingKey),
            (#"{"log":"x\n","stream":"stdout"}"#, .missingKey),
            (#"{}"#, .missingKey),
            (#"{"log":"x\n","stream":"stdin",\#(time)}"#, .invalidStream),
            (#"{"log":"x\n","stream":"stdout","time":"2024-01-01 00:00:00"}"#, .invalidTimestamp),
        ]
        for (line, expected) in cases {
            let error = parseError(line, .docker)
            #expect(error == expected, "\(line.debugDescription): \(String(describing: error))")
        }
        let escape = parseError(#"{"log":"\q","stream":"stdout",\#(time)}"#, .docker)?.description ?? ""
        #expect(escape == #"invalid JSON string at byte 8: \q is not a JSON escape"#)
    }

    @Test func formatIsDetectedFromTheFirstLine() {
        #expect(ContainerLogFormat.detect(firstLine: Array(#"{"log":"x\n"}"#.utf8)) == .docker)
        #expect(ContainerLogFormat.detect(firstLine: Array("2024-01-01T00:00:00Z stdout F x".utf8)) == .cri)
        #expect(ContainerLogFormat.detect(firstLine: [UInt8]()) == .cri)
    }

    // MARK: Limits

    @Test func longMessagesAreCutAtCharacterBoundariesAndCounted() throws {
        let limited = ContainerLogParser(limits: ContainerLogLimits(maxLineBytes: 10))
        let cri = try limited.parseCRI(bytes("2024-01-01T00:00:00Z stdout F 0123456789abcdef"))
        #expect(text(cri.message) == "0123456789")
        #expect(cri.truncatedBytes == 6)
        // "é" is two bytes at offsets 9 and 10: kept out whole rather than split.
        let accent = try limited.parseCRI(bytes("2024-01-01T00:00:00Z stdout F 012345678éxyz"))
        #expect(text(accent.message) == "012345678")
        #expect(accent.truncatedBytes == 5)
        let raw = try limited.parseDocker(
            bytes(#"{"log":"0123456789abcdef\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#))
        #expect(text(raw.message) == "0123456789")
        #expect(raw.truncatedBytes == 6)
        #expect(!raw.isPartial)
        let escaped = try limited.parseDocker(
            bytes(#"{"log":"\"23456789abcdef\u0041\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#))
        #expect(text(escaped.message) == "\"23456789a")
        #expect(escaped.truncatedBytes == 6)
        #expect(!escaped.isPartial)
        let escapedPartial = try limited.parseDocker(
            bytes(#"{"log":"\"23456789abcdefghijklmnop","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#))
        #expect(escapedPartial.truncatedBytes == 15)
        #expect(escapedPartial.isPartial)
    }

    // MARK: Every prefix

    /// A tailer may hand over a line cut short (a file still being written); no prefix may trap, and only prefixes
    /// that are themselves valid lines may parse.
    @Test func everyPrefixParsesOrThrows() throws {
        let lines: [(String, ContainerLogFormat)] = [
            ("2024-01-01T02:00:00.123456789+02:00 stderr P:x partial message here", .cri),
            ("2024-01-01T00:00:00.123456789Z stdout F hello", .cri),
            (
                #"{"log":"héllo \"w\" \ud83d\ude00 \u00e9\n","stream":"stdout","attrs":{"a":[1,"]"]},"time":"2024-01-01T00:00:00.123456789Z"}"#,
                .docker
            ),
        ]
        for (line, format) in lines {
            let full = Array(line.utf8)
            let whole = try parser.parse(full[...], format: format)
            for length in 0..<full.count {
                let prefix = full[..<length]
                guard let parsed = try? parser.parse(prefix, format: format) else { continue }
                // A CRI line cut inside its message is a valid shorter line; nothing else may parse.
                #expect(format == .cri, "Docker prefix of \(length) bytes parsed")
                #expect(parsed.timestamp == whole.timestamp && parsed.stream == whole.stream)
                #expect(whole.message.starts(with: parsed.message) || parsed.message.isEmpty, "prefix \(length)")
            }
        }
    }

    /// Feeding one byte at a time and parsing what has arrived: no trap, no hang, and a Docker line parses only once
    /// its closing brace is in.
    @Test func byteAtATimeDockerParsesOnlyWhenComplete() {
        let line = Array(#"{"log":"x\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#.utf8)
        var received: [UInt8] = []
        for byte in line {
            received.append(byte)
            let parsed = try? parser.parseDocker(received[...])
            #expect((parsed != nil) == (received.count == line.count), "after \(received.count) bytes")
        }
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]":,\/ubnrtfPF0123456789-+.:TZ logstreamtime stdout stderr"#.utf8)
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...80, using: &generator)
            let line = (0..<count).map { _ in alphabet.randomElement(using: &generator)! }
            _ = try? parser.parseCRI(line[...])
            _ = try? parser.parseDocker(line[...])
        }
    }
}
