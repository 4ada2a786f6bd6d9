import NIOCore
import NIOEmbedded
import PetrelNet
import Testing

/// The gRPC listener's preface timeout on an `EmbeddedChannel`, with time moved by hand.
@Suite struct FirstBytesTimeoutHandlerTests {
    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            FirstBytesTimeoutHandler(bytes: FirstBytesTimeoutHandler.http2PrefaceLength, timeout: .seconds(10)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test func prefaceByteAtATimeWithinTheTimeoutStepsAside() throws {
        let channel = try channel()
        for byte in Self.preface {
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))
            try channel.writeInbound(channel.allocator.buffer(bytes: [byte]))
            #expect(try channel.readInbound(as: ByteBuffer.self) == channel.allocator.buffer(bytes: [byte]))
        }
        #expect(throws: (any Error).self) {
            try channel.pipeline.syncOperations.handler(type: FirstBytesTimeoutHandler.self)
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive, "the preface came in time")
        _ = try channel.finish()
    }

    @Test func partialPrefaceIsClosedAtTheTimeout() throws {
        let channel = try channel()
        try channel.writeInbound(channel.allocator.buffer(bytes: Self.preface[..<23]))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(9_999))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive, "one byte short of the preface after 10s")
    }

    @Test func silentConnectionIsClosedAtTheTimeout() throws {
        let channel = try channel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
    }
}
