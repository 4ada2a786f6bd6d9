import PetrelCore
import Testing

@testable import PetrelSources

#if canImport(Glibc)
import Glibc
#endif

/// The `file` source's pieces on their own: fingerprints, globs, line splitting, multiline, checkpoint files.
@Suite struct FileTailingTests {
    // MARK: Fingerprint

    private func fingerprint(_ text: String) -> UInt64? {
        Array(text.utf8).withUnsafeBytes { FileFingerprint.of($0) }
    }

    @Test func fingerprintIsTheFirstLine() {
        let first = fingerprint("2026-12-06 first line\nsecond")
        #expect(first != nil)
        #expect(first == fingerprint("2026-12-06 first line\nsomething else entirely\n"), "only the first line counts")
        #expect(first != fingerprint("2026-12-06 other first line\nsecond"))
    }

    @Test func tinyFileWithoutACompleteFirstLineHasNoFingerprintYet() {
        #expect(fingerprint("") == nil)
        #expect(fingerprint("no newline yet") == nil)
        #expect(fingerprint("\n") != nil, "an empty first line is a complete line")
    }

    @Test func longFirstLineIsFingerprintedByItsFirst256Bytes() {
        let head = String(repeating: "a", count: 256)
        #expect(fingerprint(head) != nil)
        #expect(fingerprint(head + "b") == fingerprint(head + "c"))
        #expect(fingerprint(String(repeating: "a", count: 255)) == nil)
    }

    // MARK: Globs

    @Test(arguments: [
        ("/var/log/*.log", "/var/log/app.log", true),
        ("/var/log/*.log", "/var/log/app.log.1", false),
        ("/var/log/*.log", "/var/log/sub/app.log", false),
        ("/var/log/app-?.log", "/var/log/app-1.log", true),
        ("/var/log/app-[0-9].log", "/var/log/app-x.log", false),
        ("/var/log/**/*.log", "/var/log/app.log", true),
        ("/var/log/**/*.log", "/var/log/a/b/c/app.log", true),
        ("/var/log/**", "/var/log/a/b", true),
        ("/var/**/pods/*/x.log", "/var/log/pods/p1/x.log", true),
        ("/var/**/pods/*/x.log", "/var/log/pods/p1/y/x.log", false),
    ])
    func globMatching(pattern: String, path: String, matches: Bool) {
        #expect(GlobPattern(pattern).matches(path) == matches)
    }

    @Test func globRootIsTheLiteralPrefix() {
        #expect(GlobPattern("/var/log/pods/**/*.log").root == "/var/log/pods")
        #expect(GlobPattern("/*.log").root == "/")
    }

    @Test func walkFindsIncludedFilesMinusExcludedOnesAndReportsDirectories() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        for path in ["a.log", "b.log", "b.log.gz", "sub/c.log", "sub/deeper/d.log", "sub/skip.log"] {
            try writeFile(directory + "/" + path, "x\n")
        }
        let walk = GlobWalk(
            include: [GlobPattern(directory + "/**/*.log")], exclude: [GlobPattern(directory + "/**/skip.log")])
        let (files, directories) = walk.run()
        #expect(
            files == ["a.log", "b.log", "sub/c.log", "sub/deeper/d.log"].map { directory + "/" + $0 })
        #expect(directories == [directory, directory + "/sub", directory + "/sub/deeper"])
    }

    // MARK: Lines

    private func split(_ chunks: [[UInt8]], maxLineBytes: Int = 1024, offset: Int64 = 0) -> [FileLine] {
        var splitter = LineSplitter(maxLineBytes: maxLineBytes, offset: offset)
        var lines: [FileLine] = []
        for chunk in chunks {
            chunk.withUnsafeBytes { splitter.feed($0) { lines.append($0) } }
        }
        return lines
    }

    @Test func linesAndTheirByteRanges() {
        let lines = split([Array("one\n\nthree\nfour".utf8)])
        #expect(lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["one", "", "three"])
        #expect(lines.map(\.range) == [0..<4, 4..<5, 5..<11], "a range covers the newline; 'four' waits for its own")
    }

    @Test func byteAtATimeGivesTheSameLines() {
        let text = Array("alpha\nbeta gamma\n\ndelta\n".utf8)
        let whole = split([text], offset: 100)
        let byteAtATime = split(text.map { [$0] }, offset: 100)
        #expect(byteAtATime == whole)
        #expect(whole.map(\.range) == [100..<106, 106..<117, 117..<118, 118..<124])
    }

    @Test func longLineIsTruncatedNotDroppedAndItsRangeCoversAllOfIt() {
        let text = Array((String(repeating: "x", count: 100) + "\nshort\n").utf8)
        for lines in [split([text], maxLineBytes: 10), split(text.map { [$0] }, maxLineBytes: 10)] {
            #expect(lines.count == 2)
            #expect(lines[0].bytes == Array(repeating: UInt8(ascii: "x"), count: 10))
            #expect(lines[0].truncatedBytes == 90)
            #expect(lines[0].range == 0..<101)
            #expect(lines[1].bytes == Array("short".utf8))
            #expect(lines[1].truncatedBytes == 0)
        }
    }

    @Test func finishGivesTheLineWithoutItsNewline() {
        var splitter = LineSplitter(maxLineBytes: 4, offset: 0)
        Array("ab\ncdefg".utf8).withUnsafeBytes { splitter.feed($0) { _ in } }
        let last = splitter.finish()
        #expect(last?.bytes == Array("cdef".utf8))
        #expect(last?.range == 3..<8)
        #expect(last?.truncatedBytes == 1)
        #expect(splitter.finish() == nil)
    }

    @Test func invalidUTF8BecomesReplacementCharacters() {
        var decoder = FileLineDecoder(host: "node-1", multiline: nil)
        var output: [DecodedRecord] = []
        let line = FileLine(bytes: [0x6f, 0x6b, 0xff, 0xc3, 0x28, 0x21], range: 0..<7)
        decoder.decode(SourcedLine(line: line, file: 1, path: "/var/log/a.log"), into: &output)
        #expect(output.count == 1)
        #expect(output[0].record?.message == "ok\u{FFFD}\u{FFFD}(!")
        #expect(output[0].record?.metadata == ["file": "/var/log/a.log", "host": "node-1", "source_type": "file"])
        #expect(output[0].spans == [FileSpan(file: 1, range: 0..<7)])
    }

    // MARK: Multiline

    private func multiline(
        _ mode: MultilineConfig.Mode, start: String, condition: String, _ lines: [String]
    ) throws -> [String] {
        let config = MultilineConfig(
            startPattern: try RE2Regex.searching(start), conditionPattern: try RE2Regex.searching(condition),
            mode: mode, timeout: .seconds(60))
        var decoder = FileLineDecoder(host: "h", multiline: config)
        var output: [DecodedRecord] = []
        var offset: Int64 = 0
        for text in lines {
            let bytes = Array(text.utf8)
            let range = offset..<offset + Int64(bytes.count + 1)
            offset = range.upperBound
            decoder.decode(SourcedLine(line: FileLine(bytes: bytes, range: range), file: 7, path: "/f"), into: &output)
        }
        decoder.flush(into: &output)
        let spans = output.flatMap(\.spans).map(\.range)
        #expect(spans.count == lines.count, "every line comes back exactly once")
        #expect(zip(spans, spans.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "in order")
        return output.compactMap { $0.record?.message }
    }

    @Test func continueThroughJoinsAJavaStackTrace() throws {
        let records = try multiline(
            .continueThrough, start: "^[^\\s]", condition: "^[\\s]+at",
            [
                "Exception in thread main", "    at com.a.B.c(B.java:1)", "    at com.a.D.e(D.java:2)", "next line",
                "another",
            ])
        #expect(
            records == [
                "Exception in thread main\n    at com.a.B.c(B.java:1)\n    at com.a.D.e(D.java:2)", "next line",
                "another",
            ])
    }

    @Test func continuePastJoinsLinesEndingInABackslashAndTheOneAfter() throws {
        let records = try multiline(
            .continuePast, start: "\\\\$", condition: "\\\\$",
            ["first \\", "second \\", "third", "alone", "one \\", "two"])
        #expect(records == ["first \\\nsecond \\\nthird", "alone", "one \\\ntwo"])
    }

    @Test func haltBeforeStartsARecordAtEachMarker() throws {
        let records = try multiline(
            .haltBefore, start: "", condition: "^\\[",
            ["[1] begin", "detail a", "detail b", "[2] begin", "[3] begin", "tail"])
        #expect(records == ["[1] begin\ndetail a\ndetail b", "[2] begin", "[3] begin\ntail"])
    }

    @Test func haltWithEndsARecordAtTheTerminator() throws {
        let records = try multiline(
            .haltWith, start: "", condition: ";$", ["SELECT a", "FROM t", "WHERE x;", "DROP y;", "BEGIN", "END;"])
        // As in Vector, a group's first line is not checked against the condition: "DROP y;" starts a group.
        #expect(records == ["SELECT a\nFROM t\nWHERE x;", "DROP y;\nBEGIN\nEND;"])
    }

    @Test func heldGroupGoesOutAfterItsTimeout() throws {
        let config = MultilineConfig(
            startPattern: try RE2Regex.searching("^start"), conditionPattern: try RE2Regex.searching("^ "),
            mode: .continueThrough, timeout: .seconds(5))
        var aggregator = MultilineAggregator(config)
        let now = ContinuousClock.now
        let line = SourcedLine(line: FileLine(bytes: Array("start".utf8), range: 0..<6), file: 1, path: "/f")
        #expect(aggregator.add(line, now: now).isEmpty)
        #expect(aggregator.flush(expiredAt: now + .seconds(4)) == nil)
        #expect(aggregator.flush(expiredAt: now + .seconds(5))?.count == 1)
    }

    // MARK: Checkpoint files

    @Test func checkpointsRoundTripThroughAnAtomicWrite() throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTree(directory) }
        let store = CheckpointStore(directory: directory + "/checkpoints/files")
        #expect(try store.load() == [], "no file yet: no checkpoints")
        let checkpoints = [
            FileCheckpoint(fingerprint: 0x0123_4567_89ab_cdef, offset: 4096, path: "/var/log/a b.log"),
            FileCheckpoint(fingerprint: 7, offset: 0, path: "/var/log/c.log"),
        ]
        try store.save(checkpoints)
        #expect(try store.load() == checkpoints)
        #expect(access(store.path + ".tmp", F_OK) != 0, "the temporary file was renamed into place")
        try store.save([checkpoints[1]])
        #expect(try store.load() == [checkpoints[1]])
    }

    @Test(arguments: [
        "garbage",
        "petrel file checkpoints v1\n0123456789abcdef 12\n",
        "petrel file checkpoints v1\nxyz 12 /a\n",
        "petrel file checkpoints v1\n0123456789abcdef -4 /a\n",
    ])
    func corruptCheckpointFileIsAnErrorNamingTheFile(text: String) throws {
        #expect(throws: CheckpointError.self) { try CheckpointStore.parse(text, path: "/data/checkpoints") }
        do {
            _ = try CheckpointStore.parse(text, path: "/data/checkpoints")
        } catch {
            #expect(error.description.hasPrefix("/data/checkpoints"))
        }
    }
}

/// A fresh directory under /tmp.
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/petrel-file-XXXXXX".utf8CString)
    guard let path = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw CheckpointError(description: "mkdtemp failed")
    }
    return String(cString: path)
}

/// Removes a directory and everything under it.
func removeTree(_ path: String) {
    for name in GlobWalk.entries(of: path) {
        let child = path + "/" + name
        if unlink(child) != 0 { removeTree(child) }
    }
    rmdir(path)
}

/// Writes (replaces) a file, making its directories.
func writeFile(_ path: String, _ text: String) throws {
    var directory = ""
    for part in path.split(separator: "/").dropLast() {
        directory += "/" + part
        mkdir(directory, 0o755)
    }
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { throw CheckpointError(description: "cannot create \(path)") }
    defer { close(descriptor) }
    try appendBytes(descriptor, Array(text.utf8))
}

/// Appends to a file (creating it).
func appendFile(_ path: String, _ text: String) throws {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    guard descriptor >= 0 else { throw CheckpointError(description: "cannot open \(path)") }
    defer { close(descriptor) }
    try appendBytes(descriptor, Array(text.utf8))
}

private func appendBytes(_ descriptor: Int32, _ bytes: [UInt8]) throws {
    let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw CheckpointError(description: "short write") }
}
