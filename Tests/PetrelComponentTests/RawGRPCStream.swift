import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import PetrelTestSupport

/// One gRPC call written frame by frame over HTTP/2, so a test can send part of a request and then nothing, as a
/// stalled or hostile client does (grpc-swift's client always sends whole messages).
struct RawGRPCStream: Sendable {
    /// How the server ended the call.
    enum Ending: Sendable, Equatable {
        /// Trailers (or trailers only) with this `grpc-status` and its `grpc-status-details-bin`, base64.
        case status(code: Int, details: String?)
        /// The stream was reset, or the connection closed, without a status.
        case reset
        /// Nothing ended it within the time the test gave it.
        case stillOpen
    }

    private let connection: any Channel
    private let stream: NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>

    /// Opens a connection and a stream to `path`, and sends the request headers (with `extraHeaders`).
    static func open(port: Int, path: String, extraHeaders: [(String, String)] = []) async throws -> RawGRPCStream {
        let multiplexer = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                }
            }
        let stream = try await multiplexer.openStream { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>(
                    wrappingChannelSynchronously: channel)
            }
        }
        guard let connection = stream.channel.parent else { throw TestSupportError("a stream without a connection") }
        var headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": path, ":authority": "127.0.0.1:\(port)",
            "content-type": "application/grpc", "te": "trailers",
        ]
        headers.add(contentsOf: extraHeaders)
        try await stream.outbound.write(.headers(.init(headers: headers)))
        return RawGRPCStream(connection: connection, stream: stream)
    }

    /// Sends the 5-byte gRPC prefix announcing a message of `declaredLength` bytes, then `bytes` of it.
    func sendMessageStart(declaredLength: Int, bytes: [UInt8], compressed: Bool = false) async throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(compressed ? 1 : 0))
        buffer.writeInteger(UInt32(declaredLength))
        buffer.writeBytes(bytes)
        try await stream.outbound.write(.data(.init(data: .byteBuffer(buffer))))
    }

    /// Reads until the server ends the call, for at most `seconds`.
    func ending(within seconds: Int = 30) async -> Ending {
        let inbound = stream.inbound
        let connection = self.connection
        return await withTaskGroup(of: Ending.self) { group in
            group.addTask {
                do {
                    for try await frame in inbound {
                        if case .headers(let headers) = frame, let code = headers.headers.first(name: "grpc-status") {
                            return .status(
                                code: Int(code) ?? -1, details: headers.headers.first(name: "grpc-status-details-bin"))
                        }
                    }
                } catch {}
                return .reset
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return .stillOpen
            }
            let first = await group.next() ?? .stillOpen
            // Reading a stream does not end on cancellation; closing the connection ends it.
            if first == .stillOpen { try? await connection.close() }
            group.cancelAll()
            return first
        }
    }

    func close() async {
        try? await connection.close()
    }
}
