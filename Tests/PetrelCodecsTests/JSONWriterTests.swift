import Foundation
import PetrelCodecs
import Testing

@Suite struct JSONWriterTests {
    private func text(_ writer: JSONWriter) -> String {
        String(decoding: writer.bytes, as: UTF8.self)
    }

    private func parse(_ writer: JSONWriter) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(writer.bytes), options: [.fragmentsAllowed])
    }

    /// Writes `value` as a lone JSON string and returns the output.
    private func encoded(_ value: String) -> String {
        var writer = JSONWriter()
        writer.string(value)
        return text(writer)
    }

    /// Writes `bytes` through the UTF-8 buffer overload and returns the output.
    private func encoded(utf8 bytes: [UInt8]) -> JSONWriter {
        var writer = JSONWriter()
        bytes.withUnsafeBytes { writer.string(utf8: $0) }
        return writer
    }

    @Test func nestedStructures() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("name")
        writer.string("http_requests_total")
        writer.key("labels")
        writer.beginObject()
        writer.key("code")
        writer.string("200")
        writer.key("method")
        writer.string("GET")
        writer.endObject()
        writer.key("samples")
        writer.beginArray()
        writer.beginArray()
        writer.int(1_712_345_678_000)
        writer.double(1.5)
        writer.endArray()
        writer.beginArray()
        writer.int(1_712_345_679_000)
        writer.double(2)
        writer.endArray()
        writer.endArray()
        writer.key("empty_object")
        writer.beginObject()
        writer.endObject()
        writer.key("empty_array")
        writer.beginArray()
        writer.endArray()
        writer.key("flags")
        writer.beginArray()
        writer.bool(true)
        writer.bool(false)
        writer.null()
        writer.endArray()
        writer.endObject()
        #expect(writer.depth == 0)

        #expect(
            text(writer) == #"{"name":"http_requests_total","labels":{"code":"200","method":"GET"},"#
                + #""samples":[[1712345678000,1.5],[1712345679000,2.0]],"empty_object":{},"empty_array":[],"#
                + #""flags":[true,false,null]}"#
        )
        let object = try #require(try parse(writer) as? [String: Any])
        #expect(object["name"] as? String == "http_requests_total")
        #expect((object["labels"] as? [String: String]) == ["code": "200", "method": "GET"])
        #expect((object["samples"] as? [[Double]]) == [[1_712_345_678_000, 1.5], [1_712_345_679_000, 2]])
        #expect((object["empty_object"] as? [String: Any])?.isEmpty == true)
        #expect((object["empty_array"] as? [Any])?.isEmpty == true)
    }

    @Test func everyControlCharacterIsEscaped() throws {
        let short: [UInt8: String] = [0x08: #"\b"#, 0x09: #"\t"#, 0x0A: #"\n"#, 0x0C: #"\f"#, 0x0D: #"\r"#]
        for byte in UInt8(0)..<0x20 {
            let expected = short[byte] ?? "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            let writer = encoded(utf8: [byte])
            #expect(text(writer) == "\"\(expected)\"", "control byte \(byte)")
            #expect(try parse(writer) as? String == String(UnicodeScalar(byte)))
        }
        let all = String(decoding: Array(UInt8(0)..<0x20), as: UTF8.self)
        var writer = JSONWriter()
        writer.string(all)
        #expect(try parse(writer) as? String == all)
        #expect(!writer.bytes.dropFirst().dropLast().contains { $0 < 0x20 })
    }

    @Test func quotesAndBackslashesAreEscaped() throws {
        #expect(encoded(#"say "hi""#) == #""say \"hi\"""#)
        #expect(encoded(#"C:\temp\"#) == #""C:\\temp\\""#)
        #expect(encoded(#"\""#) == #""\\\"""#)
        #expect(encoded("/") == #""/""#, "solidus needs no escape")
        #expect(encoded("\u{7F}") == "\"\u{7F}\"", "DEL is not a control character in JSON")
    }

    @Test func unicodePassesThroughUnchanged() throws {
        let value = "héllo wörld, 日本語, emoji 🦤👩‍👩‍👧, line sep \u{2028}"
        var writer = JSONWriter()
        writer.string(value)
        #expect(writer.bytes == [UInt8(ascii: "\"")] + Array(value.utf8) + [UInt8(ascii: "\"")])
        #expect(try parse(writer) as? String == value)

        let fromBytes = encoded(utf8: Array(value.utf8))
        #expect(fromBytes.bytes == writer.bytes)
    }

    @Test func bridgedStringsAreEncodedToo() throws {
        // On Darwin a bridged NSString can lack contiguous UTF-8 storage and take the copying path; on Linux the
        // bridge makes a native string, so this only checks that bridging changes nothing.
        let bridged = NSString(string: "ünïcode \"quoted\"") as String
        #expect(encoded(bridged) == #""ünïcode \"quoted\"""#)
    }

    @Test(
        arguments: [
            [0xFF],
            [0xC0, 0xAF],  // overlong "/"
            [0xE2, 0x82],  // truncated "€"
            [0xED, 0xA0, 0x80],  // UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // past U+10FFFF
            [0x61, 0x80, 0x62],  // lone continuation byte
            [0xF0, 0x9F, 0xA6, 0x61],  // emoji cut short before ASCII
            [0xE2, 0x82, 0xAC, 0xE2, 0x82],
        ] as [[UInt8]])
    func invalidUTF8BecomesReplacementCharacters(bytes: [UInt8]) throws {
        let writer = encoded(utf8: bytes)
        // Swift's own decoder replaces maximal ill-formed subparts too, so it is the reference.
        #expect(try parse(writer) as? String == String(decoding: bytes, as: UTF8.self))
    }

    @Test func arbitraryBytesAlwaysProduceValidJSON() throws {
        for seed in UInt64(1)...200 {
            let bytes = TestPayloads.pseudoRandom(count: Int(seed % 64), seed: seed)
            let writer = encoded(utf8: bytes)
            #expect(try parse(writer) as? String == String(decoding: bytes, as: UTF8.self), "seed \(seed)")
        }
    }

    @Test func keysFromBytes() throws {
        var writer = JSONWriter()
        writer.beginObject()
        Array("job".utf8).withUnsafeBytes { writer.key(utf8: $0) }
        Array("node\texporter".utf8).withUnsafeBytes { writer.string(utf8: $0) }
        Array("instance".utf8).withUnsafeBytes { writer.key(utf8: $0) }
        writer.string("localhost:9100")
        writer.endObject()
        #expect(text(writer) == #"{"job":"node\texporter","instance":"localhost:9100"}"#)
    }

    @Test func nonFiniteDoublesBecomeStrings() throws {
        var writer = JSONWriter()
        writer.beginArray()
        writer.double(.nan)
        writer.double(.infinity)
        writer.double(-.infinity)
        writer.double(.signalingNaN)
        writer.endArray()
        #expect(text(writer) == #"["NaN","+Inf","-Inf","NaN"]"#)
        _ = try parse(writer)
    }

    @Test func finiteDoublesRoundTrip() throws {
        let values: [Double] = [
            0, -0.0, 1, -1, 0.1, 0.30000000000000004, 1e-5, 1e21, .greatestFiniteMagnitude, .leastNonzeroMagnitude,
            .leastNormalMagnitude, 123_456_789.123, -9_007_199_254_740_992,
        ]
        var writer = JSONWriter()
        writer.beginArray()
        for value in values {
            writer.double(value)
        }
        writer.endArray()
        // Swift's parser is the reference: Foundation's on Linux misreads some shortest forms by one ulp.
        let parsed = text(writer).dropFirst().dropLast().split(separator: ",").map { Double(String($0)) }
        #expect(parsed == values)
        #expect(try parse(writer) as? [Any] != nil)
        #expect(text(writer).hasPrefix("[0.0,-0.0,1.0,-1.0,0.1,0.30000000000000004,1e-05,1e+21,"))
    }

    @Test func integersAtTheirExtremes() throws {
        var writer = JSONWriter()
        writer.beginArray()
        for value: Int64 in [0, 7, -7, 10, -10, 1_000_000, .min, .max] {
            writer.int(value)
        }
        for value: UInt64 in [0, 9, 10, .max] {
            writer.uint(value)
        }
        writer.endArray()
        #expect(
            text(writer) == "[0,7,-7,10,-10,1000000,-9223372036854775808,9223372036854775807,"
                + "0,9,10,18446744073709551615]"
        )
        _ = try parse(writer)
    }

    @Test func commasBetweenSiblingsOnly() throws {
        var writer = JSONWriter()
        writer.beginArray()
        writer.beginObject()
        writer.endObject()
        writer.beginObject()
        writer.key("a")
        writer.beginArray()
        writer.endArray()
        writer.key("b")
        writer.beginArray()
        writer.int(1)
        writer.beginArray()
        writer.int(2)
        writer.int(3)
        writer.endArray()
        writer.endArray()
        writer.endObject()
        writer.null()
        writer.endArray()
        #expect(text(writer) == #"[{},{"a":[],"b":[1,[2,3]]},null]"#)
        _ = try parse(writer)
    }

    @Test func jsonLinesAtTheTopLevel() throws {
        var writer = JSONWriter()
        for index in 0..<3 {
            writer.beginObject()
            writer.key("n")
            writer.int(Int64(index))
            writer.endObject()
            writer.newline()
        }
        writer.string("bare")
        writer.newline()
        #expect(text(writer) == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n\"bare\"\n")
        for line in text(writer).split(separator: "\n") {
            _ = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
        }
    }

    @Test func resetStartsOver() throws {
        var writer = JSONWriter(capacity: 256)
        writer.beginArray()
        writer.int(1)
        writer.reset()
        #expect(writer.bytes.isEmpty)
        #expect(writer.depth == 0)
        writer.beginArray()
        writer.int(2)
        writer.endArray()
        #expect(text(writer) == "[2]")
    }
}
