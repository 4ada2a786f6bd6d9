import PetrelCodecs
import PetrelCore
import Testing

/// The examples of RFC 5424 §6.5 and RFC 3164 §5.4, the forms `logger`, rsyslog and syslog-ng send, and malformed
/// messages.
@Suite struct SyslogParserTests {
    private let parser = SyslogParser()
    // 2026-12-07T00:00:00Z
    private static let received: Int64 = 1_796_601_600 * 1_000_000_000

    private func parse(_ text: String, parser: SyslogParser? = nil, receivedAt: Int64 = received) -> (
        record: LogRecord, format: SyslogFormat
    ) {
        Array(text.utf8).withUnsafeBytes { (parser ?? self.parser).parse($0, receivedAt: receivedAt) }
    }

    private func parse(bytes: [UInt8]) -> (record: LogRecord, format: SyslogFormat) {
        bytes.withUnsafeBytes { parser.parse($0, receivedAt: Self.received) }
    }

    // MARK: RFC 5424 §6.5

    @Test func rfc5424FirstExampleWithBOM() {
        let (record, format) = parse(
            bytes: Array("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ".utf8) + [0xEF, 0xBB, 0xBF]
                + Array("'su root' failed for lonvick on /dev/pts/8".utf8))
        #expect(format == .rfc5424)
        #expect(record.message == "'su root' failed for lonvick on /dev/pts/8")
        #expect(record.timestamp == 1_065_910_455 * 1_000_000_000 + 3_000_000)
        #expect(record.severity == "crit")
        #expect(
            record.fields == [
                "facility": .string("auth"), "hostname": .string("mymachine.example.com"), "appname": .string("su"),
                "msgid": .string("ID47"),
            ])
    }

    @Test func rfc5424SecondExampleWithOffsetAndMicroseconds() {
        let (record, format) = parse(
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.")
        #expect(format == .rfc5424)
        #expect(record.timestamp == 1_061_727_255 * 1_000_000_000 + 3000)
        #expect(record.severity == "notice")
        #expect(record.message == "%% It's time to make the do-nuts.")
        #expect(
            record.fields == [
                "facility": .string("local4"), "hostname": .string("192.0.2.1"), "appname": .string("myproc"),
                "procid": .string("8710"),
            ])
    }

    @Test func rfc5424ThirdExampleWithStructuredData() {
        let (record, format) = parse(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" "
                + "eventSource=\"Application\" eventID=\"1011\"] \u{FEFF}An application event log entry...")
        #expect(format == .rfc5424)
        #expect(record.message == "An application event log entry...")
        #expect(record.field(path: "appname") == .string("evntslog"))
        #expect(
            record.fields["structured_data"]
                == .object([
                    "exampleSDID@32473": .object([
                        "iut": .string("3"), "eventSource": .string("Application"), "eventID": .string("1011"),
                    ])
                ]))
    }

    @Test func rfc5424FourthExampleWithTwoElementsAndNoMessage() {
        let (record, format) = parse(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" "
                + "eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]")
        #expect(format == .rfc5424)
        #expect(record.message == "")
        #expect(record.field(path: "structured_data.examplePriority@32473.class") == .string("high"))
        #expect(record.field(path: "structured_data.exampleSDID@32473.eventID") == .string("1011"))
    }

    @Test func rfc5424EscapesInValuesAndNilTimestamp() {
        let (record, format) = parse(#"<14>1 - - - - - [a b="q\"uo\\te\]d" c="x\y"] msg"#)
        #expect(format == .rfc5424)
        #expect(record.timestamp == Self.received)
        #expect(record.field(path: "structured_data.a.b") == .string(#"q"uo\te]d"#))
        #expect(record.field(path: "structured_data.a.c") == .string(#"x\y"#))
        #expect(record.fields["hostname"] == nil)
        #expect(record.severity == "info")
        #expect(record.message == "msg")
    }

    @Test func rsyslogProtocol23FormatEndsInANewlineThatIsNotPartOfTheMessage() {
        let (record, format) = parse(
            "<30>1 2026-12-07T01:02:03.456789+00:00 host app 4242 - [meta seq=\"7\"] hello there\n")
        #expect(format == .rfc5424)
        #expect(record.message == "hello there")
        #expect(record.timestamp == 1_796_605_323 * 1_000_000_000 + 456_789_000)
        #expect(record.fields["procid"] == .string("4242"))
        #expect(record.severity == "info")
        #expect(record.fields["facility"] == .string("daemon"))
    }

    // MARK: RFC 3164 §5.4

    @Test func rfc3164FirstExample() {
        let (record, format) = parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
        #expect(format == .rfc3164)
        #expect(record.message == "'su root' failed for lonvick on /dev/pts/8")
        #expect(record.severity == "crit")
        // No year: the one that puts it no more than a month after the time received (2026-12-07).
        #expect(record.timestamp == 1_791_756_855 * 1_000_000_000)
        #expect(
            record.fields == [
                "facility": .string("auth"), "hostname": .string("mymachine"), "appname": .string("su"),
            ])
    }

    @Test func rfc3164SecondExampleHasNoPRIAndStaysRaw() {
        let (record, format) = parse("Use the BFG!")
        #expect(format == .unparsed)
        #expect(record.message == "Use the BFG!")
        #expect(record.timestamp == Self.received)
        #expect(record.fields.isEmpty)
    }

    @Test func rfc3164ThirdExampleKeepsWhatFollowsAnUnknownWordAsTheMessage() {
        let (record, format) = parse(
            "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%")
        #expect(format == .rfc3164)
        #expect(record.fields["hostname"] == .string("CST"))
        #expect(record.message == "1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%")
    }

    @Test func rfc3164FourthExampleWithoutATimeIsAllMessage() {
        let (record, format) = parse(
            "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!")
        #expect(format == .rfc3164)
        #expect(record.severity == "emerg")
        #expect(record.fields == ["facility": .string("kern")])
        #expect(
            record.message == "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!"
        )
        #expect(record.timestamp == Self.received)
    }

    @Test func rfc3164FifthExample() {
        let (record, _) = parse(
            "<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: "
                + "That's All Folks!")
        #expect(record.fields["hostname"] == .string("scapegoat"))
        #expect(record.message.hasPrefix("1990 Oct 22 10:52:01 TZ-6"))
    }

    @Test func rfc3164WithoutHostnameTakesTheTagAndPid() {
        let (record, format) = parse("<13>Dec  7 01:02:03 sshd[4242]: Accepted publickey for root")
        #expect(format == .rfc3164)
        #expect(record.timestamp == 1_796_605_323 * 1_000_000_000)
        #expect(
            record.fields == [
                "facility": .string("user"), "appname": .string("sshd"), "procid": .string("4242"),
            ])
        #expect(record.message == "Accepted publickey for root")
    }

    @Test func rfc3164LoggerForm() {
        let (record, _) = parse("<13>Dec 07 01:02:03 web-1 root[77]: deploy done")
        #expect(record.fields["hostname"] == .string("web-1"))
        #expect(record.fields["appname"] == .string("root"))
        #expect(record.fields["procid"] == .string("77"))
        #expect(record.message == "deploy done")
    }

    @Test func rfc3164InAConfiguredZone() {
        // Two hours east of UTC: 01:02:03 there is 23:02:03 the day before in UTC.
        let parser = SyslogParser(utcOffset: { _ in 7200 })
        let (record, _) = parse("<13>Dec  7 01:02:03 host app: x", parser: parser)
        #expect(record.timestamp == (1_796_605_323 - 7200) * 1_000_000_000)
    }

    @Test func rfc3164SentLastDecemberReceivedInJanuary() {
        // Received 2027-01-01T00:01:00Z.
        let (record, _) = parse("<13>Dec 31 23:59:00 host app: x", receivedAt: 1_798_761_660 * 1_000_000_000)
        #expect(record.timestamp == 1_767_225_540 * 1_000_000_000 + 365 * 86_400 * 1_000_000_000)
    }

    @Test func rsyslogForwardFormatWithAnRFC3339Time() {
        let (record, format) = parse("<30>2026-12-07T01:02:03.5+00:00 host app[1]: hi")
        #expect(format == .rfc3164)
        #expect(record.timestamp == 1_796_605_323 * 1_000_000_000 + 500_000_000)
        #expect(record.fields["hostname"] == .string("host"))
        #expect(record.message == "hi")
    }

    // MARK: Malformed

    @Test(arguments: [
        "<34>1 2003-13-11T22:14:15Z host app - - - bad month",
        "<34>1 2003-10-11T22:14:15.003Z host app - - [unclosed a=\"1\" message",
        "<34>1 2003-10-11T22:14:15.003Z host app - - [id a=\"unterminated]",
        "<34>1 2003-10-11T22:14:15.003Z host app - - [id a=1] unquoted",
        "<34>1 2003-10-11T22:14:15.003Z host app - - -x",
        "<34>1 yesterday host app - - - msg",
        "<34>1 2003-10-11T22:14:15.003Z",
        "<192>Oct 11 22:14:15 host app: PRI over 191",
        "<>Oct 11 22:14:15 host app: empty PRI",
        "<1234>1 - - - - - - too many PRI digits",
        "<34",
        "",
        "just text",
    ])
    func malformedMessagesKeepTheirRawText(text: String) {
        let (record, format) = parse(text)
        #expect(format == .unparsed)
        #expect(record.message == text)
        #expect(record.severity == "")
        #expect(record.fields.isEmpty)
        #expect(record.timestamp == Self.received)
    }

    @Test func invalidUTF8IsReplacedNotRejected() {
        let (record, format) = parse(bytes: Array("<14>1 - - - - - - ".utf8) + [0xFF, 0x41])
        #expect(format == .rfc5424)
        #expect(record.message == "\u{FFFD}A")
    }

    @Test func everyTruncationOfAValidMessageParsesWithoutCrashing() {
        let text = Array(
            "<165>1 2003-10-11T22:14:15.003Z mymachine evntslog 12 ID47 [ex@1 iut=\"3\" a=\"\\]\"][p@1 c=\"h\"] msg"
                .utf8)
        for length in 0...text.count {
            let (record, _) = parse(bytes: Array(text[..<length]))
            #expect(record.message.utf8.count <= length)
        }
    }
}
