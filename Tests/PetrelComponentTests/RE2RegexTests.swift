import Testing

@testable import PetrelCore
@testable import PetrelTransforms

/// The relabel regex: RE2 syntax on Swift's engine, fast paths that agree with it, the cache,
/// Go's template expansion, and MD5.
@Suite struct RE2RegexTests {
    private func match(_ regex: inout RE2Regex, _ input: String) -> [Int32]? {
        var captures: [Int32] = []
        var input = input
        let matched = input.withUTF8 { regex.match(UnsafeRawBufferPointer($0), captures: &captures) }
        return matched ? captures : nil
    }

    private func matches(_ regex: inout RE2Regex, _ input: String) -> Bool {
        var input = input
        return input.withUTF8 { regex.matches(UnsafeRawBufferPointer($0)) }
    }

    private func matches(_ pattern: String, _ input: String) throws -> Bool {
        var regex = try RE2Regex(pattern, allowFastPath: false)
        return matches(&regex, input)
    }

    // MARK: Fast paths

    static let fastPatterns = [
        "", "foo", "foo|bar|baz", "foo|", "(foo|bar)", "foo.*", ".*foo", ".*foo.*", ".*", ".+", "(.*)", "(.+)",
        "(foo.*)", "foo(.*)", "foo(.+)bar", "(foo(.*))", "^foo$", "^(.*)$", #"a\.b"#, "ü.*", ".*ß", "foo.+bar",
        "__meta_kubernetes_pod_label_(.+)", "x-y z", "()", "^a|b$",
    ]

    static let inputs = [
        "", "foo", "bar", "baz", "foobar", "barfoo", "xfooy", "foo\nbar", "\n", "fo", "a.b", "axb", "ü", "üx", "xß",
        "ß", "__meta_kubernetes_pod_label_", "__meta_kubernetes_pod_label_app", "foobarbar", "foofoo", "x-y z",
        "日本foo", "foo日本bar", "a", "b", "ab",
    ]

    @Test func commonShapesTakeTheFastPath() throws {
        for pattern in Self.fastPatterns {
            #expect(try RE2Regex(pattern).isFastPath, "\(pattern)")
        }
        for pattern in [
            "fo+", "[a-z]+", "(?i)foo", "a.b", "(a)(b)", "foo.*?", ".*(foo).*", #"\d+"#, "a|b.*", "(?:foo)", "a{2}",
            #"\Qa\E"#, "(a|b)c", "a$b",
        ] {
            #expect(try !RE2Regex(pattern).isFastPath, "\(pattern)")
        }
    }

    @Test(arguments: fastPatterns)
    func fastPathAgreesWithTheRegexEngine(pattern: String) throws {
        var fast = try RE2Regex(pattern)
        var engine = try RE2Regex(pattern, allowFastPath: false)
        #expect(fast.isFastPath && !engine.isFastPath)
        #expect(fast.groupCount == engine.groupCount)
        for input in Self.inputs {
            #expect(match(&fast, input) == match(&engine, input), "\(pattern) on \(input.debugDescription)")
            #expect(matches(&fast, input) == matches(&engine, input), "\(pattern) on \(input.debugDescription)")
        }
    }

    @Test func rulesGiveTheSameResultsWithAndWithoutFastPaths() throws {
        let rules = [
            RelabelRuleConfig(sourceLabels: ["__name__"], regex: "debug_.*", action: .drop),
            RelabelRuleConfig(regex: "__meta_kubernetes_pod_label_(.+)", action: .labelmap),
            RelabelRuleConfig(
                sourceLabels: ["job", "instance"], regex: "(.*);(.*)", targetLabel: "id", replacement: "$2@$1"),
            RelabelRuleConfig(sourceLabels: ["instance"], regex: "(.+):9100", targetLabel: "host"),
            RelabelRuleConfig(sourceLabels: ["env"], regex: "prod|staging", targetLabel: "tier", replacement: "live"),
            RelabelRuleConfig(regex: "__meta_.*", action: .labeldrop),
            RelabelRuleConfig(sourceLabels: ["team"], regex: ".*core.*", action: .keep),
        ]
        var fast = try RelabelRules(rules)
        var engine = try RelabelRules(rules, labelNameValidation: .legacy, allowFastPaths: false)
        let sets: [[(String, String)]] = [
            [("__name__", "up"), ("job", "node"), ("instance", "a:9100"), ("team", "core-infra"), ("env", "prod")],
            [("__name__", "debug_x"), ("team", "core")],
            [("__name__", "up"), ("__meta_kubernetes_pod_label_app", "api"), ("team", "xcorex"), ("env", "dev")],
            [("__name__", "up"), ("team", "web")],
            [("instance", ":9100"), ("team", "core\ncore"), ("__meta_kubernetes_pod_label_", "x")],
        ]
        for labels in sets {
            #expect(Relabel.render(fast.apply(to: labels)) == Relabel.render(engine.apply(to: labels)), "\(labels)")
        }
    }

    // MARK: RE2 on Swift's engine

    @Test func anchoredAtBothEndsAndDotMatchesNewline() throws {
        #expect(try matches("foo", "foo"))
        #expect(try !matches("foo", "xfoo"))
        #expect(try !matches("foo", "foox"))
        #expect(try !matches("a|b", "ab"))
        #expect(try matches("a.c", "a\nc"))
        #expect(try !matches("(?-s:a.c)", "a\nc"))
        #expect(try !matches("foo$", "foo\n"))
    }

    @Test func re2SyntaxSwiftReadsDifferently() throws {
        #expect(try matches(#"\pL+"#, "héllo"))
        #expect(try matches(#"\PL"#, "1"))
        #expect(try matches(#"\p{^Greek}"#, "a"))
        #expect(try !matches("[[:alpha:]]+", "é"))
        #expect(try matches("[[:^alpha:]]", "é"))
        #expect(try matches(#"\101\0"#, "A\0"))
        #expect(try matches("a{,3}", "a{,3}"))
        #expect(try !matches("a{,3}", "aa"))
        #expect(try matches("[]a]+", "]a"))
        #expect(try matches("[a&&b]", "&"))
        #expect(try matches("[a~~b]", "~"))
        #expect(try !matches(#"\s"#, "\u{0B}"))
        #expect(try matches(#"\v"#, "\u{0B}"))
        #expect(try !matches(#"\v"#, "\n"))
        #expect(try matches(#"\Qa.b\E"#, "a.b"))
        #expect(try !matches(#"\Qa.b\E"#, "axb"))
        #expect(try !matches(#"\d"#, "\u{0663}"))
        #expect(try !matches(#"\w"#, "é"))
        #expect(try matches("(?i)abc", "ABC"))
        #expect(try matches("a.b", "ae\u{301}b") == false)
        #expect(try matches("a..b", "ae\u{301}b"))
        #expect(try matches(#"[^\n]"#, "\r"))
        #expect(try matches("[[:punct:]]+", "!/@[`{~"))
        #expect(try !matches("[[:punct:]]", "a"))
        #expect(try matches("[[:space:]]", "\u{0B}"))
        #expect(try matches("[[:xdigit:]]+", "09afAF"))
        #expect(try !matches("[[:ascii:]]", "é"))
        #expect(try matches(#"[\S]"#, "a"))
        #expect(try !matches(#"[\S]"#, " "))
        #expect(try matches(#"\x41\x{42}"#, "AB"))
        #expect(throws: RE2SyntaxError.self) { try RE2Regex(#"\x4"#) }
    }

    @Test func capturesAreByteOffsets() throws {
        var alternation = try RE2Regex("(a)|(b)")
        #expect(match(&alternation, "b") == [0, 1, -1, -1, 0, 1])
        var unicode = try RE2Regex("(é+)(x)")
        #expect(match(&unicode, "ééx") == [0, 5, 0, 4, 4, 5])
        var ungreedy = try RE2Regex("(?U)(a+)(a*)")
        #expect(match(&ungreedy, "aaa") == [0, 3, 0, 1, 1, 3])
        var named = try RE2Regex("(?P<host>[^:]+):(?<port>[0-9]+)")
        #expect(named.groupNames == [nil, "host", "port"])
        #expect(named.groupNumber(named: "port") == 2)
        #expect(match(&named, "h:80") == [0, 4, 0, 1, 2, 4])
        var wildcard = try RE2Regex("foo(.+)bar")
        #expect(wildcard.isFastPath)
        #expect(match(&wildcard, "fooXYbar") == [0, 8, 3, 5])
    }

    @Test func engineResultsAreCachedAndTheCacheIsBounded() throws {
        var regex = try RE2Regex("([a-z]+)-([0-9]+)")
        #expect(!regex.isFastPath)
        #expect(match(&regex, "abc-12") == [0, 6, 0, 3, 4, 6])
        #expect(regex.cachedResults == 1)
        #expect(match(&regex, "abc-12") == [0, 6, 0, 3, 4, 6])
        #expect(!matches(&regex, "abc-x"))
        #expect(regex.cachedResults == 2)
        #expect(!matches(&regex, "abc-x"))
        for number in 0..<(MatchCache.capacity + 100) {
            #expect(matches(&regex, "k-\(number)"))
        }
        #expect(regex.cachedResults <= MatchCache.capacity)
        #expect(match(&regex, "abc-12") == [0, 6, 0, 3, 4, 6])
        #expect(match(&regex, "k-0") == [0, 3, 0, 1, 2, 3])
        // Inputs too long to cache still match.
        let long = String(repeating: "a", count: MatchCache.maxKeyLength + 1) + "-1"
        let before = regex.cachedResults
        #expect(matches(&regex, long))
        #expect(regex.cachedResults == before)
    }

    // MARK: Expansion

    @Test func expansionFollowsGosRegexpExpand() throws {
        let regex = try RE2Regex("(?P<name>a)(b)")
        let input = Array("ab".utf8)
        let captures: [Int32] = [0, 2, 0, 1, 1, 2]
        func expand(_ template: String) -> String {
            let expansion = ExpansionTemplate(template, groupCount: regex.groupCount, groupNumber: regex.groupNumber)
            var output: [UInt8] = []
            input.withUnsafeBytes { expansion.expand($0, captures: captures, into: &output) }
            return String(decoding: output, as: UTF8.self)
        }
        let cases: [(String, String)] = [
            ("$1", "a"), ("${1}", "a"), ("$2$1", "ba"), ("$name", "a"), ("${name}", "a"), ("$1_x", ""),
            ("${1}_x", "a_x"), ("$$1", "$1"), ("$", "$"), ("x$", "x$"), ("${", "${"), ("${1", "${1"), ("$0", "ab"),
            ("$3", ""), ("$01", ""), ("$-", "$-"), ("${name}s", "as"), ("$names", ""), ("$é", ""), ("a$1b$2c", "a"),
            ("a${1}b${2}c", "aabbc"),
            ("${2}${1}", "ba"), ("$ 1", "$ 1"), ("", ""),
        ]
        for (template, expected) in cases {
            #expect(expand(template) == expected, "\(template)")
        }
        #expect(ExpansionTemplate("$1", groupCount: 2, groupNumber: { _ in nil }).singleGroup == 1)
        #expect(ExpansionTemplate("x$$", groupCount: 2, groupNumber: { _ in nil }).constant == Array("x$".utf8))
        #expect(ExpansionTemplate("$9", groupCount: 2, groupNumber: { _ in nil }).constant == [])
    }

    // MARK: MD5

    @Test func md5MatchesRFC1321() {
        func hex(_ text: String) -> String {
            MD5.digest(Array(text.utf8)).map {
                String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16)
            }
            .joined()
        }
        // The test suite of RFC 1321, appendix A.5.
        #expect(hex("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex("a") == "0cc175b9c0f1b6a831c399e269772661")
        #expect(hex("abc") == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hex("message digest") == "f96b697d7cb7938d525a2f31aaf161d0")
        #expect(hex("abcdefghijklmnopqrstuvwxyz") == "c3fcd3d76192e4007dfb496cca67e13b")
        #expect(
            hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == "d174ab98d277d9f5a5611c2c9f419d9f")
        #expect(
            hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890")
                == "57edf4a22be3c955ac49da2e2107b67a")
        // Lengths around the padding boundaries, from python3 hashlib.md5(b"x" * n).hexdigest().
        let padded: [(Int, String)] = [
            (55, "04364420e25c512fd958a70738aa8f72"), (56, "668a72d5ba17f08e62dabcafad6db14b"),
            (63, "7dc2ca208106a2f703567bdff99d8981"), (64, "c1bb4f81d892b2d57947682aeb252456"),
            (65, "1bc932052302d074bdec39795fe00cf6"), (119, "ab347a5f68c8a443cfcddc633f12c24f"),
            (120, "fb98667f98096de92620b64f46e1c5b5"), (1000, "398533d48111e9f664b1f64cb10c4b63"),
        ]
        for (count, expected) in padded {
            #expect(hex(String(repeating: "x", count: count)) == expected, "\(count)")
        }
        #expect(hex("héllo wörld ✓") == "aa0c8a307a4488bfe0cb56530da19bc3")
    }

    @Test func hashmodKeyIsTheDigestsLastEightBytesBigEndian() {
        // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8.
        let key = Array("foo".utf8).withUnsafeBytes { MD5.hashmodKey($0) }
        #expect(key == 0xedef_654f_ccc4_a4d8)
    }
}
