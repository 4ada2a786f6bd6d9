import HummingbirdCore
import NIOCore

/// Writes a streamed answer's body chunk by chunk; each write waits while the client is not reading.
public struct HTTPBodyStreamWriter {
    var base: any ResponseBodyWriter
    let allocator: ByteBufferAllocator
    /// The connection the answer goes out on, for a stream that outlives its client or the server's shutdown.
    public let connection: HTTPStreamConnection

    /// Sends one chunk; throws once the client has gone.
    public mutating func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await base.write(allocator.buffer(bytes: bytes))
    }
}

/// The connection of a streamed answer, which a stream may watch and cut off from another task.
public struct HTTPStreamConnection: Sendable {
    let channel: any Channel

    /// False once the client has closed its end or the connection failed.
    public var isOpen: Bool { channel.isActive }

    /// Closes the connection: a write waiting on a client that stopped reading fails at once.
    public func close() {
        channel.close(promise: nil)
    }
}
