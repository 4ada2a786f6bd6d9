import PetrelCodecs
import Testing

/// Partial container log lines joined into whole records, per stream, within the limits, with the pieces each
/// record covers.
@Suite struct ContainerLogMergerTests {
    private typealias Merger = PartialLineMerger<Int>

    private func cri(_ text: String) -> ContainerLogLine {
        try! ContainerLogParser().parseCRI(Array(text.utf8)[...])
    }

    private func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func fullLinePassesThroughWithItsPiece() {
        var merger = Merger()
        let record = merger.add(cri("2024-01-01T00:00:00Z stdout F hello"), token: 7)
        #expect(record.map { text($0.message) } == "hello")
        #expect(record?.pieces == [7])
        #expect(record?.isPartial == false)
        #expect(!merger.hasPending)
    }

    @Test func partialsJoinUpToTheFullLine() {
        var merger = Merger()
        #expect(merger.add(cri("2024-01-01T00:00:01Z stdout P Hello, "), token: 1) == nil)
        #expect(merger.add(cri("2024-01-01T00:00:02Z stdout P wide "), token: 2) == nil)
        #expect(merger.hasPending)
        let record = merger.add(cri("2024-01-01T00:00:03Z stdout F world"), token: 3)
        #expect(record.map { text($0.message) } == "Hello, wide world")
        // The record keeps the first piece's time.
        #expect(record?.timestamp == Int64(1_704_067_201) * 1_000_000_000)
        #expect(record?.pieces == [1, 2, 3])
        #expect(record?.truncatedBytes == 0)
        #expect(!merger.hasPending)
        #expect(merger.flush().isEmpty)
    }

    @Test func stdoutAndStderrMergeApart() {
        var merger = Merger()
        var records: [Merger.Record] = []
        let lines = [
            "2024-01-01T00:00:00Z stdout P out-1 ",
            "2024-01-01T00:00:00Z stderr P err-1 ",
            "2024-01-01T00:00:00Z stdout P out-2 ",
            "2024-01-01T00:00:00Z stderr F err-2",
            "2024-01-01T00:00:00Z stderr F err-alone",
            "2024-01-01T00:00:00Z stdout F out-3",
        ]
        for (index, line) in lines.enumerated() {
            if let record = merger.add(cri(line), token: index) { records.append(record) }
        }
        #expect(records.map { text($0.message) } == ["err-1 err-2", "err-alone", "out-1 out-2 out-3"])
        #expect(records.map(\.stream) == [.stderr, .stderr, .stdout])
        #expect(records.map(\.pieces) == [[1, 3], [4], [0, 2, 5]])
    }

    @Test func dockerSixteenKiBPiecesJoin() throws {
        // Docker splits a long line into 16 KiB pieces without the newline; the last piece carries it.
        let parser = ContainerLogParser()
        let piece = String(repeating: "a", count: 16 * 1024)
        let time = "2024-01-01T00:00:00.000000001Z"
        var merger = Merger()
        var records: [Merger.Record] = []
        for (index, log) in [piece, piece, "tail\\n"].enumerated() {
            let line = #"{"log":"\#(log)","stream":"stdout","time":"\#(time)"}"#
            if let record = merger.add(try parser.parseDocker(Array(line.utf8)[...]), token: index) {
                records.append(record)
            }
        }
        #expect(records.count == 1)
        #expect(records.first?.message.count == 2 * 16 * 1024 + 4)
        #expect(records.first.map { text($0.message.suffix(5)) } == "atail")
        #expect(records.first?.pieces == [0, 1, 2])
        #expect(records.first?.timestamp == Int64(1_704_067_200) * 1_000_000_000 + 1)
    }

    @Test func pieceLimitCutsEachPieceAndCounts() {
        var merger = Merger(limits: ContainerLogLimits(maxLineBytes: 4, maxMergedLineBytes: 100))
        #expect(merger.add(cri("2024-01-01T00:00:00Z stdout P abcdef"), token: 0) == nil)
        let record = merger.add(cri("2024-01-01T00:00:00Z stdout F ghijkl"), token: 1)
        #expect(record.map { text($0.message) } == "abcdghij")
        #expect(record?.truncatedBytes == 4)
    }

    @Test func mergedLimitCutsTheRecordButKeepsEveryPiece() {
        var merger = Merger(limits: ContainerLogLimits(maxLineBytes: 8, maxMergedLineBytes: 10))
        var record: Merger.Record?
        for index in 0..<5 {
            let tag = index == 4 ? "F" : "P"
            record = merger.add(cri("2024-01-01T00:00:00Z stdout \(tag) 0123456789"), token: index)
        }
        // Each piece is cut to 8 bytes (2 lost each), and the record to 10 (6 of each later piece, 8 of the last).
        #expect(record.map { text($0.message) } == "0123456701")
        #expect(record?.truncatedBytes == 5 * 2 + 6 + 3 * 8)
        #expect(record?.pieces == [0, 1, 2, 3, 4])
        #expect(record.map { $0.message.count + $0.truncatedBytes } == 50)
    }

    @Test func flushHandsOverPendingLinesMarkedPartialInArrivalOrder() {
        var merger = Merger()
        _ = merger.add(cri("2024-01-01T00:00:00Z stderr P first"), token: 0)
        _ = merger.add(cri("2024-01-01T00:00:00Z stdout P second"), token: 1)
        _ = merger.add(cri("2024-01-01T00:00:00Z stderr P  more"), token: 2)
        let records = merger.flush()
        #expect(records.map { text($0.message) } == ["first more", "second"])
        #expect(records.allSatisfy { $0.isPartial })
        #expect(records.map(\.pieces) == [[0, 2], [1]])
        #expect(!merger.hasPending)
        #expect(merger.flush().isEmpty)
    }

    @Test func mergeAcrossARotationKeepsBothFilesPieces() {
        // The caller's token names the file: a line begun in 0.log.20240101-000000 ends in the new 0.log.
        struct Piece: Equatable {
            var file: String
            var range: Range<Int>
        }
        var merger = PartialLineMerger<Piece>()
        let first = merger.add(
            cri("2024-01-01T00:00:00Z stdout P begun before "),
            token: Piece(file: "0.log.20240101-000000", range: 900..<944))
        #expect(first == nil)
        let record = merger.add(
            cri("2024-01-01T00:00:00Z stdout F rotation"), token: Piece(file: "0.log", range: 0..<39))
        #expect(record.map { text($0.message) } == "begun before rotation")
        #expect(
            record?.pieces == [
                Piece(file: "0.log.20240101-000000", range: 900..<944), Piece(file: "0.log", range: 0..<39),
            ])
    }
}
