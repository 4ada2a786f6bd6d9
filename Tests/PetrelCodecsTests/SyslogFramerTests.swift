import PetrelCodecs
import Testing

/// RFC 6587 framing: octet counting and newlines, fed whole, in pieces and one byte at a time.
@Suite struct SyslogFramerTests {
    private struct Frame: Equatable, CustomStringConvertible {
        var text: String
        var end: SyslogFrameEnd
        var description: String { "\(text.debugDescription) \(end)" }
    }

    /// Feeds `chunks` in order and closes the stream; returns the frames and whether it ended mid-frame.
    private func frames(_ chunks: [[UInt8]], max: Int = 1024) -> (frames: [Frame], cutOff: Bool) {
        var framer = SyslogFramer(maxMessageBytes: max)
        var frames: [Frame] = []
        let collect = { (bytes: UnsafeRawBufferPointer, end: SyslogFrameEnd) in
            frames.append(Frame(text: String(decoding: bytes, as: UTF8.self), end: end))
        }
        for chunk in chunks { chunk.withUnsafeBytes { framer.consume($0, collect) } }
        let cutOff = framer.finish(collect)
        return (frames, cutOff)
    }

    private func whole(_ text: String, max: Int = 1024) -> (frames: [Frame], cutOff: Bool) {
        frames([Array(text.utf8)], max: max)
    }

    private func byteByByte(_ text: String, max: Int = 1024) -> (frames: [Frame], cutOff: Bool) {
        frames(Array(text.utf8).map { [$0] }, max: max)
    }

    private static let mixed =
        "17 <13>1 - - - - - a\n<13>Dec  7 01:02:03 h t: b\n13 <13>1 - - - -\r\n<14>c\n\n5 <1>d\n"

    @Test func octetCountedAndNewlineFramesOnOneConnection() {
        let expected = [
            Frame(text: "<13>1 - - - - - a", end: .complete),
            Frame(text: "<13>Dec  7 01:02:03 h t: b", end: .complete),
            Frame(text: "<13>1 - - - -", end: .complete),
            Frame(text: "<14>c", end: .complete),
            Frame(text: "<1>d\n", end: .complete),
        ]
        #expect(whole(Self.mixed).frames == expected)
        #expect(whole(Self.mixed).cutOff == false)
    }

    @Test func byteAtATimeGivesTheSameFrames() {
        #expect(byteByByte(Self.mixed).frames == whole(Self.mixed).frames)
        #expect(byteByByte(Self.mixed).cutOff == false)
    }

    @Test func everySplitPointGivesTheSameFrames() {
        let bytes = Array(Self.mixed.utf8)
        let expected = whole(Self.mixed).frames
        for split in 0...bytes.count {
            #expect(frames([Array(bytes[..<split]), Array(bytes[split...])]).frames == expected)
        }
    }

    @Test func aLastLineWithoutNewlineIsKept() {
        #expect(whole("<13>one\n<13>two").frames.map(\.text) == ["<13>one", "<13>two"])
        #expect(whole("<13>one\n<13>two").cutOff == false)
    }

    @Test func aCountedFrameCutOffByTheConnectionIsCountedAndKept() {
        for result in [whole("10 <13>1 - -"), byteByByte("10 <13>1 - -")] {
            #expect(result.frames == [Frame(text: "<13>1 - -", end: .closedEarly)])
            #expect(result.cutOff)
        }
    }

    @Test func aBareCountAtTheEndIsCounted() {
        #expect(whole("5 <1>a\n123").frames.map(\.text) == ["<1>a\n"])
        #expect(whole("5 <1>a\n123").cutOff)
        #expect(whole("5 <1>a\n12 ").frames.count == 1)
        #expect(whole("5 <1>a\n12 ").cutOff)
    }

    @Test func anOverlongCountedFrameIsCutAndTheNextOneStillFound() {
        let text = "20 <13>1 - - - - - 0123 <1>ok"
        let expected = [Frame(text: "<13>1 - -", end: .cut), Frame(text: "<1>ok", end: .complete)]
        #expect(whole(text, max: 9).frames == expected)
        #expect(byteByByte(text, max: 9).frames == expected)
    }

    @Test func anOverlongLineIsCutAndTheNextOneStillFound() {
        let text = "<13>0123456789abcdef\n<1>ok\n"
        let expected = [Frame(text: "<13>01234", end: .cut), Frame(text: "<1>ok", end: .complete)]
        #expect(whole(text, max: 9).frames == expected)
        #expect(byteByByte(text, max: 9).frames == expected)
        #expect(frames([Array("<13>01".utf8), Array("23456789abcdef\n<1>ok\n".utf8)], max: 9).frames == expected)
    }

    @Test func aLineOfExactlyTheLimitIsComplete() {
        #expect(whole("<1>456789\n", max: 9).frames == [Frame(text: "<1>456789", end: .complete)])
        #expect(byteByByte("<1>456789\n", max: 9).frames == [Frame(text: "<1>456789", end: .complete)])
    }

    @Test func digitsThatAreNotACountStartALine() {
        #expect(whole("12x <13>a\n99999999999 <1>b\n").frames.map(\.text) == ["12x <13>a", "99999999999 <1>b"])
        #expect(byteByByte("12x <13>a\n").frames.map(\.text) == ["12x <13>a"])
    }

    @Test func garbageNeverCrashesAndNeverExceedsTheLimit() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789 \n<>abc".utf8)
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in
                alphabet.randomElement(using: &generator)!
            }
            let pieces = stride(from: 0, to: bytes.count, by: 7).map { Array(bytes[$0..<min($0 + 7, bytes.count)]) }
            let result = frames(pieces, max: 16)
            #expect(result.frames.allSatisfy { $0.text.utf8.count <= 16 })
            #expect(result.frames == frames([bytes], max: 16).frames)
        }
    }
}
