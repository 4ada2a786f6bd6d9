import Testing

@testable import PetrelTransforms

/// `remap` against VRL's documentation: each example's program, input event and result (or resulting event) as the
/// VRL function and expression reference give them.
@Suite struct RemapConformanceTests {
    /// One documented example: the program, the event it runs on (JSON), and what it returns or leaves (JSON or
    /// a VRL literal for timestamps).
    struct Example: Sendable, CustomStringConvertible {
        var program: String
        var event = "{}"
        /// The program's value, as JSON; nil when the example shows the event instead.
        var returns: RemapValue?
        /// The event after the program, as JSON.
        var leaves: String?

        var description: String { program }
    }

    static func json(_ text: String) -> RemapValue {
        (try? RemapJSON.parse(text)) ?? .string("invalid JSON in the test: \(text)")
    }

    static func run(_ program: String, event: String = "{}") throws -> (value: RemapValue, event: RemapValue) {
        let compiled = try RemapProgram.compile(program).get()
        var state = RemapState(event: json(event))
        let value = try compiled.run(&state)
        return (value, state.event)
    }

    static let functionExamples: [Example] = [
        // Parsing
        Example(program: #"parse_json!("{\"key\": \"val\"}")"#, returns: json(#"{"key": "val"}"#)),
        Example(program: #"parse_json!("[1, 2.5, true, null]")"#, returns: json("[1, 2.5, true, null]")),
        Example(
            program: #"parse_regex!("first group and second group.", r'(?P<number>.*?) group')"#,
            returns: json(#"{"number": "first"}"#)),
        Example(
            program: #"parse_regex!("first group and second group.", r'(?P<number>.*?) group', numeric_groups: true)"#,
            returns: json(#"{"number": "first", "0": "first group", "1": "first"}"#)),
        Example(
            program: #"""
                parse_key_value!("@timestamp=\"Sun Jan 10 16:47:39 EST 2021\" level=info msg=\"Stopping all fetchers\" tag#production=stopping_fetchers id=ConsumerFetcherManager-1382721708341 module=kafka.consumer.ConsumerFetcherManager")
                """#,
            returns: json(
                #"{"@timestamp": "Sun Jan 10 16:47:39 EST 2021", "level": "info", "msg": "Stopping all fetchers", "tag#production": "stopping_fetchers", "id": "ConsumerFetcherManager-1382721708341", "module": "kafka.consumer.ConsumerFetcherManager"}"#
            )),
        Example(
            program: #"""
                parse_key_value!("path:\"/cart_link\", host:store.app.com, fwd: \"102.30.171.16\", dyno: web.1, connect:0ms, service:87ms, status:304, bytes:632, protocol:https", field_delimiter: ",", key_value_delimiter: ":")
                """#,
            returns: json(
                #"{"path": "/cart_link", "host": "store.app.com", "fwd": "102.30.171.16", "dyno": "web.1", "connect": "0ms", "service": "87ms", "status": "304", "bytes": "632", "protocol": "https"}"#
            )),
        Example(
            program: #"""
                parse_logfmt!("@timestamp=\"Sun Jan 10 16:47:39 EST 2021\" level=info msg=\"Stopping all fetchers\" tag#production=stopping_fetchers id=ConsumerFetcherManager-1382721708341 module=kafka.consumer.ConsumerFetcherManager")
                """#,
            returns: json(
                #"{"@timestamp": "Sun Jan 10 16:47:39 EST 2021", "level": "info", "msg": "Stopping all fetchers", "tag#production": "stopping_fetchers", "id": "ConsumerFetcherManager-1382721708341", "module": "kafka.consumer.ConsumerFetcherManager"}"#
            )),
        Example(
            program: #"parse_timestamp!("10-Oct-2020 16:00+00:00", format: "%v %R %:z")"#,
            returns: .timestamp(1_602_345_600_000_000_000)),
        Example(
            program: #"parse_timestamp!("16/10/2019 12:00:00", format: "%d/%m/%Y %H:%M:%S")"#,
            returns: .timestamp(1_571_227_200_000_000_000)),
        Example(program: #"parse_int!("-42")"#, returns: .integer(-42)),
        Example(program: #"parse_int!("0b1001")"#, returns: .integer(9)),
        Example(program: #"parse_int!("0o42")"#, returns: .integer(34)),
        Example(program: #"parse_int!("0x2a")"#, returns: .integer(42)),
        Example(program: #"parse_int!("2a", 17)"#, returns: .integer(44)),
        Example(program: #"parse_float!("-42")"#, returns: .float(-42)),
        Example(program: #"parse_float!("42.38")"#, returns: .float(42.38)),
        // Coercion and types
        Example(program: "to_string(true)", returns: .string("true")),
        Example(program: "to_string(52)", returns: .string("52")),
        Example(program: "to_string(52.2)", returns: .string("52.2")),
        Example(program: #"to_int!("2")"#, returns: .integer(2)),
        Example(program: "to_int(t'2020-12-30T22:20:53.824727Z')", returns: .integer(1_609_366_853)),
        Example(program: #"to_float!("3.145")"#, returns: .float(3.145)),
        Example(program: "to_float(t'2020-12-30T22:20:53.824727Z')", returns: .float(1_609_366_853.824727)),
        Example(program: #"to_bool!("yes")"#, returns: .boolean(true)),
        Example(program: "to_bool(0)", returns: .boolean(false)),
        Example(
            program: "string!(.message)", event: #"{"message": "{\"field\": \"value\"}"}"#,
            returns: .string(#"{"field": "value"}"#)),
        Example(program: "int!(.value)", event: #"{"value": 42}"#, returns: .integer(42)),
        Example(program: "object!(.value)", event: #"{"value": {"a": 1}}"#, returns: json(#"{"a": 1}"#)),
        Example(program: "array!(.value)", event: #"{"value": [1, 2]}"#, returns: json("[1, 2]")),
        Example(program: "is_null(null)", returns: .boolean(true)),
        Example(program: #"is_string("a string")"#, returns: .boolean(true)),
        Example(program: #"is_object({"foo": "bar"})"#, returns: .boolean(true)),
        Example(program: "is_object(1)", returns: .boolean(false)),
        // Paths and containers
        Example(program: "exists(.field)", event: #"{"field": 1}"#, returns: .boolean(true)),
        Example(program: "exists(.array[2])", event: #"{"array": [1, 2]}"#, returns: .boolean(false)),
        Example(
            program: "del(.field1)", event: #"{"field1": 1, "field2": 2}"#, returns: .integer(1),
            leaves: #"{"field2": 2}"#),
        Example(
            program:
                #"merge({"parent1": {"child1": 1, "child2": 2}, "parent2": {"child3": 3}}, {"parent1": {"child2": 4, "child5": 5}})"#,
            returns: json(#"{"parent1": {"child2": 4, "child5": 5}, "parent2": {"child3": 3}}"#)),
        Example(
            program:
                #"merge({"parent1": {"child1": 1, "child2": 2}, "parent2": {"child3": 3}}, {"parent1": {"child2": 4, "child5": 5}}, deep: true)"#,
            returns: json(#"{"parent1": {"child1": 1, "child2": 4, "child5": 5}, "parent2": {"child3": 3}}"#)),
        Example(
            program: #"compact(["foo", "bar", "", null, [], "buzz"], string: true, array: true, null: true)"#,
            returns: json(#"["foo", "bar", "buzz"]"#)),
        Example(
            program:
                #"compact({"field1": 1, "field2": "", "field3": [], "field4": null}, string: true, array: true, null: true)"#,
            returns: json(#"{"field1": 1}"#)),
        Example(
            program: #"flatten({"parent": {"child1": "val1", "child2": "val2"}})"#,
            returns: json(#"{"parent.child1": "val1", "parent.child2": "val2"}"#)),
        Example(program: "flatten([1, [2, 3, 4], [5, [6, 7], 8], 9])", returns: json("[1, 2, 3, 4, 5, 6, 7, 8, 9]")),
        Example(
            program: #"flatten({"parent": {"child1": "val1", "child2": "val2"}}, separator: "_")"#,
            returns: json(#"{"parent_child1": "val1", "parent_child2": "val2"}"#)),
        Example(program: #"keys({"key1": "val1", "key2": "val2"})"#, returns: json(#"["key1", "key2"]"#)),
        Example(program: #"values({"key1": "val1", "key2": "val2"})"#, returns: json(#"["val1", "val2"]"#)),
        Example(program: #"length({"portland": "Trail Blazers", "seattle": "Supersonics"})"#, returns: .integer(2)),
        Example(program: #"length(["Trail Blazers", "Supersonics", "Grizzlies"])"#, returns: .integer(3)),
        Example(program: #"length("The Planet of the Apes Musical")"#, returns: .integer(30)),
        Example(program: #"includes(["apple", "orange", "banana"], "banana")"#, returns: .boolean(true)),
        // Strings
        Example(program: #"downcase("Hello, World!")"#, returns: .string("hello, world!")),
        Example(program: #"upcase("Hello, World!")"#, returns: .string("HELLO, WORLD!")),
        Example(program: #"contains("The Needle In The Haystack", "Needle")"#, returns: .boolean(true)),
        Example(
            program: #"contains("The Needle In The Haystack", "needle", case_sensitive: false)"#,
            returns: .boolean(true)),
        Example(program: #"starts_with("The Needle In The Haystack", "The Needle")"#, returns: .boolean(true)),
        Example(
            program: #"starts_with("The Needle In The Haystack", "the needle", case_sensitive: false)"#,
            returns: .boolean(true)),
        Example(program: #"ends_with("The Needle In The Haystack", "The Haystack")"#, returns: .boolean(true)),
        Example(program: #"replace("Apples and Bananas", "and", "not")"#, returns: .string("Apples not Bananas")),
        Example(
            program: #"replace("Apples and Bananas", r'(?i)bananas', "Pineapples")"#,
            returns: .string("Apples and Pineapples")),
        Example(
            program: #"replace("Bananas and Bananas", "Bananas", "Pineapples", count: 1)"#,
            returns: .string("Pineapples and Bananas")),
        Example(program: #"replace("foo123bar", r'foo(?P<num>\d+)bar', "$num")"#, returns: .string("123")),
        Example(
            program: #"split("apples and pears and bananas", " and ")"#,
            returns: json(#"["apples", "pears", "bananas"]"#)),
        Example(
            program: #"split("apples and pears and bananas", r'(?i)\s+AND\s+')"#,
            returns: json(#"["apples", "pears", "bananas"]"#)),
        Example(
            program: #"split("apples and pears and bananas", " and ", limit: 2)"#,
            returns: json(#"["apples", "pears and bananas"]"#)),
        Example(program: #"join!(["bring", "us", "together"])"#, returns: .string("bringustogether")),
        Example(
            program: #"join!(["sources", "transforms", "sinks"], separator: ", ")"#,
            returns: .string("sources, transforms, sinks")),
        Example(
            program: #"slice!("Supercalifragilisticexpialidocious", start: 0, end: 13)"#,
            returns: .string("Supercalifrag")),
        Example(
            program: #"slice!("Supercalifragilisticexpialidocious", start: 5, end: 13)"#, returns: .string("califrag")),
        Example(program: #"strip_whitespace("  A sentence.  ")"#, returns: .string("A sentence.")),
        Example(
            program: #"truncate("A rather long sentence.", limit: 11, suffix: "...")"#,
            returns: .string("A rather lo...")),
        Example(
            program: #"truncate("A rather long sentence.", limit: 11, suffix: "[TRUNCATED]")"#,
            returns: .string("A rather lo[TRUNCATED]")),
        Example(program: #"truncate("foobar", 3)"#, returns: .string("foo")),
        Example(program: #"match("I'm a little teapot", r'teapot')"#, returns: .boolean(true)),
        Example(program: #"match("I'm a little teapot", r'.*balloon')"#, returns: .boolean(false)),
        Example(
            program: #"encode_json({"field": "value", "another": [1, 2, 3]})"#,
            returns: .string(#"{"another":[1,2,3],"field":"value"}"#)),
        Example(
            program: #"encode_logfmt!({"ts": "2021-06-05T17:20:00Z", "level": "info", "msg": "This is a message"})"#,
            returns: .string(#"level=info msg="This is a message" ts=2021-06-05T17:20:00Z"#)),
        Example(
            program:
                #"encode_logfmt!({"ts": "2021-06-05T17:20:00Z", "level": "info", "msg": "This is a message"}, ["ts", "level", "msg"])"#,
            returns: .string(#"ts=2021-06-05T17:20:00Z level=info msg="This is a message""#)),
        Example(
            program:
                #"encode_logfmt!({"agent": {"name": "foo"}, "log": {"file": {"path": "my.log"}}, "event": "log"})"#,
            returns: .string("agent.name=foo event=log log.file.path=my.log")),
        // Time
        Example(
            program: #"format_timestamp!(t'2020-10-21T16:00:00Z', format: "%v %R")"#,
            returns: .string("21-Oct-2020 16:00")),
        Example(
            program: #"format_timestamp!(t'2020-10-21T16:00:00Z', format: "%+")"#,
            returns: .string("2020-10-21T16:00:00+00:00")),
        Example(program: "to_unix_timestamp(t'2021-01-01T00:00:00+00:00')", returns: .integer(1_609_459_200)),
        Example(
            program: #"to_unix_timestamp(t'2021-01-01T00:00:00Z', unit: "milliseconds")"#,
            returns: .integer(1_609_459_200_000)),
        Example(
            program: #"to_unix_timestamp(t'2021-01-01T00:00:00Z', unit: "nanoseconds")"#,
            returns: .integer(1_609_459_200_000_000_000)),
        // Hashes (md5's is the documented example; SHA-2's are FIPS 180's "abc" vectors)
        Example(program: #"md5("foo")"#, returns: .string("acbd18db4cc2f85cedef654fccc4a4d8")),
        Example(
            program: #"sha2("abc", variant: "SHA-256")"#,
            returns: .string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")),
        Example(
            program: #"sha2("abc", variant: "SHA-224")"#,
            returns: .string("23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7")),
        Example(
            program: #"sha2("abc", variant: "SHA-384")"#,
            returns: .string(
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")),
        Example(
            program: #"sha2("abc", variant: "SHA-512")"#,
            returns: .string(
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
            )),
        Example(
            program: #"sha2("abc")"#,
            returns: .string("53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23")),
        Example(
            program: #"sha2("abc", variant: "SHA-512/224")"#,
            returns: .string("4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa")),
    ]

    static let languageExamples: [Example] = [
        Example(program: #".message = "hello""#, event: #"{"message": "hi"}"#, leaves: #"{"message": "hello"}"#),
        Example(program: ".a.b.c = 1", leaves: #"{"a": {"b": {"c": 1}}}"#),
        Example(program: #"."k8s.pod.name" = "web-1""#, leaves: #"{"k8s.pod.name": "web-1"}"#),
        Example(program: ".a[0]", event: #"{"a": ["x", "y"]}"#, returns: .string("x")),
        Example(program: ".a[-1]", event: #"{"a": ["x", "y"]}"#, returns: .string("y")),
        Example(program: ".a[2] = 1", leaves: #"{"a": [null, null, 1]}"#),
        Example(program: ".missing.deeper", returns: .null),
        Example(program: #". |= {"b": 2}"#, event: #"{"a": 1}"#, leaves: #"{"a": 1, "b": 2}"#),
        Example(program: #"x = 1; y = x + 2; y"#, returns: .integer(3)),
        Example(program: "1 + 2 * 3", returns: .integer(7)),
        Example(program: "(1 + 2) * 3", returns: .integer(9)),
        Example(program: "5 / 2", returns: .float(2.5)),
        Example(program: "10 % 3", returns: .integer(1)),
        Example(program: "1.5 + 1", returns: .float(2.5)),
        Example(program: #""foo" + "bar""#, returns: .string("foobar")),
        Example(program: "1 == 1.0", returns: .boolean(true)),
        Example(program: #""a" != "b""#, returns: .boolean(true)),
        Example(program: "2 < 3 && 3 >= 3", returns: .boolean(true)),
        Example(program: "false || true", returns: .boolean(true)),
        Example(program: "null || \"default\"", returns: .string("default")),
        Example(program: "!true", returns: .boolean(false)),
        Example(program: "-5 + 2", returns: .integer(-3)),
        Example(
            program: #"if .status == 500 { .level = "error" } else { .level = "info" }"#, event: #"{"status": 500}"#,
            leaves: #"{"status": 500, "level": "error"}"#),
        Example(
            program: """
                if .status == 200 {
                  .level = "ok"
                } else if .status == 404 {
                  .level = "missing"
                } else {
                  .level = "other"
                }
                """, event: #"{"status": 404}"#, leaves: #"{"status": 404, "level": "missing"}"#),
        Example(program: #"if false { 1 }"#, returns: .null),
        Example(
            program: #"parse_json(.message) ?? {"raw": .message}"#, event: #"{"message": "not json"}"#,
            returns: json(#"{"raw": "not json"}"#)),
        Example(
            program: #"parse_json(.message) ?? {}"#, event: #"{"message": "{\"a\": 1}"}"#, returns: json(#"{"a": 1}"#)),
        Example(
            program: #"structured, err = parse_json("{\"a\":"); err != null && structured == null"#,
            returns: .boolean(true)),
        Example(program: #".parsed, .error = parse_int("12")"#, leaves: #"{"parsed": 12, "error": null}"#),
        Example(
            program: #".parsed, .error = parse_int("x")"#,
            leaves:
                #"{"parsed": 0, "error": "function call error for \"parse_int\" at (1:19): could not parse integer: invalid digit found in string"}"#
        ),
        Example(program: #"s'raw \n text'"#, returns: .string(#"raw \n text"#)),
        Example(program: #""tab\tand \"quote\"""#, returns: .string("tab\tand \"quote\"")),
        Example(program: "[1, 2.5, true, null]", returns: json("[1, 2.5, true, null]")),
        Example(program: #"{"a": [1, {"b": "c"}]}"#, returns: json(#"{"a": [1, {"b": "c"}]}"#)),
        Example(program: "t'2021-02-11T10:32:50.553955473Z'", returns: .timestamp(1_613_039_570_553_955_473)),
        Example(program: "# a comment\n.a = 1 # trailing\n.b = 2", leaves: #"{"a": 1, "b": 2}"#),
        Example(
            program: #".message = downcase(string!(.message)); .level = "info""#, event: #"{"message": "HELLO"}"#,
            leaves: #"{"message": "hello", "level": "info"}"#),
        Example(
            program: """
                . = parse_json!(.message)
                .user = upcase(string!(.user))
                del(.password)
                """, event: #"{"message": "{\"user\": \"ann\", \"password\": \"x\", \"id\": 7}"}"#,
            leaves: #"{"user": "ANN", "id": 7}"#),
    ]

    @Test(arguments: functionExamples) func functionReference(_ example: Example) throws {
        try check(example)
    }

    @Test(arguments: languageExamples) func languageReference(_ example: Example) throws {
        try check(example)
    }

    private func check(_ example: Example) throws {
        let outcome = try Self.run(example.program, event: example.event)
        if let expected = example.returns { #expect(outcome.value == expected, "\(example.program)") }
        if let leaves = example.leaves { #expect(outcome.event == Self.json(leaves), "\(example.program)") }
    }

    /// Text not in a parser's format fails (here handled by `??`) rather than giving a partial value.
    @Test(arguments: [
        #"parse_json("{\"a\": 1") ?? "fallback""#,
        #"parse_json("[1, 2,]") ?? "fallback""#,
        #"parse_json("\"unterminated") ?? "fallback""#,
        #"parse_json("{\"a\": [[[1]]]}", max_depth: 2) ?? "fallback""#,
        #"parse_syslog("not a syslog line") ?? "fallback""#,
        #"parse_syslog("<13>1 yesterday host app - - - message") ?? "fallback""#,
        #"parse_key_value("lonely", accept_standalone_key: false) ?? "fallback""#,
        #"parse_timestamp("2021-13-01", format: "%Y-%m-%d") ?? "fallback""#,
        #"parse_timestamp("2021-01-01 trailing", format: "%Y-%m-%d") ?? "fallback""#,
        #"parse_int("12x") ?? "fallback""#,
        #"parse_float("1.2.3") ?? "fallback""#,
        #"parse_regex("abc", r'(?P<digits>\d+)') ?? "fallback""#,
        #"to_int("seven") ?? "fallback""#,
        #"slice("abc", 2, 1) ?? "fallback""#,
        #"join([1, 2]) ?? "fallback""#,
    ])
    func malformedInputFails(_ program: String) throws {
        #expect(try Self.run(program).value == .string("fallback"))
    }

    @Test func jsonDetails() throws {
        #expect(try Self.run(#"parse_json!("\"\\u00e9\\ud83d\\ude00\"")"#).value == .string("é😀"))
        #expect(try Self.run(#"parse_json!("18446744073709551616")"#).value == .float(18_446_744_073_709_551_616))
        #expect(try Self.run(#"parse_json!(" {\"a\" : [ ] } ")"#).value == Self.json(#"{"a": []}"#))
        let encoded = try Self.run(#"encode_json({"b": [1.5, 2.0, null], "a": "x\ny"})"#).value
        #expect(encoded == .string(#"{"a":"x\ny","b":[1.5,2.0,null]}"#))
        #expect(try Self.run(#"encode_json({"a": 1}, pretty: true)"#).value == .string("{\n  \"a\": 1\n}"))
    }

    /// The parser's fast paths (strings without escapes read in place, objects built at their final size) and the
    /// slow ones behind them give the same values.
    @Test func jsonStringsAndObjectsInPlace() throws {
        #expect(
            try Self.run(#"parse_json!("\"plain then \\\"quoted\\\" and \\n\"")"#).value
                == .string("plain then \"quoted\" and \n"))
        #expect(try Self.run(#"parse_json!("{\"a\": 1, \"a\": 2}")"#).value == Self.json(#"{"a": 2}"#))
        let nested = try Self.run(
            #"parse_json!("{\"a\": {\"b\": {\"c\": [1, {\"d\": null}]}, \"e\": \"f\"}, \"g\": {}}")"#
        ).value
        #expect(
            nested
                == .object([
                    "a": .object([
                        "b": .object(["c": .array([.integer(1), .object(["d": .null])])]), "e": .string("f"),
                    ]), "g": .object([:]),
                ]))
        // An escaped tab, then a raw one (JSON refuses control characters in strings).
        #expect(try Self.run(#"parse_json("\"a\\tb\"") ?? "fallback""#).value == .string("a\tb"))
        #expect(try Self.run(#"parse_json("\"a\tb\"") ?? "fallback""#).value == .string("fallback"))
        #expect(try Self.run(#"parse_json("{\"a\": \"b\", \"c\": \"d") ?? "fallback""#).value == .string("fallback"))
    }

    /// `. |=` merges into the event where it is; the right side sees the event as it was before.
    @Test func mergeIntoTheEvent() throws {
        let result = try Self.run(#". |= {"copy": .a, "a": 2}"#, event: #"{"a": 1, "b": "x"}"#)
        #expect(result.event == Self.json(#"{"a": 2, "b": "x", "copy": 1}"#))
        #expect(result.value == result.event)
        #expect(throws: RemapRuntimeError.self) {
            try Self.run(#". |= object!(parse_json!(.m))"#, event: #"{"m": "[1]"}"#)
        }
    }

    /// Timestamps written as RFC 3339 with as many fraction digits as they need, in JSON and as text.
    @Test func timestampsAsText() throws {
        #expect(
            try Self.run(#"encode_json([t'2021-02-11T10:32:50Z', t'2021-02-11T10:32:50.5Z'])"#).value
                == .string(#"["2021-02-11T10:32:50Z","2021-02-11T10:32:50.500Z"]"#))
        #expect(
            try Self.run(#"to_string(t'1969-12-31T23:59:59.000001Z')"#).value == .string("1969-12-31T23:59:59.000001Z"))
        #expect(
            try Self.run(#"to_string(t'2021-02-11T10:32:50.553955473Z')"#).value
                == .string("2021-02-11T10:32:50.553955473Z"))
        #expect(
            try Self.run(#"parse_timestamp("2021-02-11T10:32:50.1+02:00", "%+") ?? "fallback""#).value
                == .timestamp(1_613_032_370_100_000_000))
        #expect(
            try Self.run(#"parse_timestamp("2021-02-11X10:32:50Z", "%+") ?? "fallback""#).value == .string("fallback"))
    }

    @Test func parseSyslogRFC5424() throws {
        let program = #"""
            parse_syslog!("<13>1 2020-03-13T20:45:38.119Z dynamicwireless.name non 2426 ID931 [exampleSDID@32473 iut=\"3\" eventSource= \"Application\" eventID=\"1011\"] Try to override the THX port, maybe it will reboot the neural interface!")
            """#
        var expected = Self.json(
            #"{"severity": "notice", "facility": "user", "hostname": "dynamicwireless.name", "appname": "non", "procid": 2426, "msgid": "ID931", "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}, "message": "Try to override the THX port, maybe it will reboot the neural interface!", "version": 1}"#
        )
        expected.set([.field("timestamp")], .timestamp(1_584_132_338_119_000_000))
        #expect(try Self.run(program).value == expected)
    }

    @Test func parseSyslogRFC3164() throws {
        let value = try Self.run(
            #"parse_syslog!("<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8")"#
        ).value
        #expect(value.get([.field("hostname")]) == .string("mymachine"))
        #expect(value.get([.field("appname")]) == .string("su"))
        #expect(value.get([.field("procid")]) == .integer(230))
        #expect(value.get([.field("facility")]) == .string("auth"))
        #expect(value.get([.field("severity")]) == .string("crit"))
        #expect(value.get([.field("message")]) == .string("'su root' failed for lonvick on /dev/pts/8"))
    }

    @Test func malformedInputFailsWithTheFunctionNamed() throws {
        let program = try RemapProgram.compile(#"parse_json!(.message)"#).get()
        var state = RemapState(event: Self.json(#"{"message": "{\"a\": "}"#))
        #expect(throws: RemapRuntimeError.self) { try program.run(&state) }
        do {
            _ = try program.run(&state)
        } catch {
            #expect(error.message.hasPrefix("function call error for \"parse_json\" at (1:1): unable to parse json"))
            #expect(!error.isAbort)
        }
    }

    @Test func abortStopsTheProgram() throws {
        let program = try RemapProgram.compile(#".a = 1; abort "no"; .b = 2"#).get()
        var state = RemapState(event: .object([:]))
        do {
            _ = try program.run(&state)
            Issue.record("abort did not stop the program")
        } catch {
            #expect(error.isAbort)
            #expect(error.message == "no at (1:9)")
        }
        #expect(state.event == Self.json(#"{"a": 1}"#))
    }

    @Test func metadataAndResource() throws {
        let program = try RemapProgram.compile(#"%env = "prod"; .ns = %resource."k8s.namespace.name""#).get()
        var state = RemapState(
            event: .object([:]), metadata: Self.json(#"{"resource": {"k8s.namespace.name": "web"}}"#))
        _ = try program.run(&state)
        #expect(state.event == Self.json(#"{"ns": "web"}"#))
        #expect(state.metadata.get([.field("env")]) == .string("prod"))
    }

    @Test func nowAndUUIDHaveTheirShapes() throws {
        let uuid = try Self.run("uuid_v4()").value
        guard case .string(let text) = uuid else {
            Issue.record("uuid_v4 returned \(uuid)")
            return
        }
        #expect(text.count == 36)
        #expect(text.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        guard case .timestamp(let now) = try Self.run("now()").value else {
            Issue.record("now() is not a timestamp")
            return
        }
        #expect(now > 1_700_000_000_000_000_000)
    }
}
