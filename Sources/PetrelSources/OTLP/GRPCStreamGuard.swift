import NIOCore
import NIOHPACK
import NIOHTTP2
import PetrelCodecs
import PetrelCore

/// Bounds one gRPC request stream in time and memory, as the HTTP server bounds a request body: its bytes count
/// against `memory_limit` as they arrive, until the request ends; one that would pass the limit is answered
/// RESOURCE_EXHAUSTED (clients retry it); one that sends nothing for `request_body_timeout` before its end is reset.
/// It also reads each message's 5-byte prefix: a message declared longer than `max_message_size` is answered
/// RESOURCE_EXHAUSTED before its bytes are read, and one flagged compressed in a request that names no
/// `grpc-encoding` INTERNAL, as gRPC servers answer them (grpc-swift resets the stream, which clients retry for ever).
///
/// It sits first on each HTTP/2 stream channel, ahead of grpc-swift's stream handler, which buffers a message until
/// it is whole and has no timeout of its own: without it a stalled stream holds its bytes and its slot for ever.
final class GRPCStreamGuard: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let memory: MemoryLimit?
    private let stallTimeout: TimeAmount
    private let retryAfter: Duration
    private let maxMessageSize: Int
    /// Told the bytes received of a request refused for its message's size or framing.
    private let refusedMessage: @Sendable (_ receivedBytes: Int) -> Void
    /// Whether the request's `grpc-encoding` names a compression; without one no message may be flagged compressed.
    private var compressionDeclared = false
    /// The prefix of the next message as far as it has arrived, and the bytes of the current message still to come.
    private var prefix: [UInt8] = []
    private var messageBytesLeft = 0
    private var receivedBytes = 0
    /// Bytes of this request counted against `memory`.
    private var reserved = 0
    /// Whether the client has ended its side, or the stream was refused: no more deadlines.
    private var requestEnded = false
    private var refused = false
    private var stall: Scheduled<Void>?

    init(
        memory: MemoryLimit?, stallTimeout: Duration, retryAfter: Duration, maxMessageSize: Int,
        refusedMessage: @escaping @Sendable (_ receivedBytes: Int) -> Void
    ) {
        self.memory = memory
        self.stallTimeout = TimeAmount(stallTimeout)
        self.retryAfter = retryAfter
        self.maxMessageSize = maxMessageSize
        self.refusedMessage = refusedMessage
        prefix.reserveCapacity(5)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armStallTimer(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let payload = unwrapInboundIn(data)
        switch payload {
        case .headers(let headers):
            if let encoding = headers.headers.first(name: "grpc-encoding"), encoding != "identity" {
                compressionDeclared = true
            }
            if headers.endStream { endRequest() } else { armStallTimer(context) }
        case .data(let data):
            if let memory, data.data.readableBytes > 0 {
                guard memory.reserve(data.data.readableBytes, holding: reserved) else {
                    refuse(
                        context, .resourceExhausted,
                        "the pipeline's memory_limit is held by requests being read; retry later",
                        retryDelay: retryAfter)
                    return
                }
                reserved += data.data.readableBytes
            }
            if case .byteBuffer(let bytes) = data.data, let problem = checkMessagePrefixes(in: bytes) {
                refusedMessage(receivedBytes)
                refuse(context, problem.code, problem.message, retryDelay: nil)
                return
            }
            if data.endStream { endRequest() } else { armStallTimer(context) }
        default:
            break
        }
        context.fireChannelRead(data)
    }

    /// Follows the length-prefixed messages through `bytes`; the reason to refuse the request when a prefix
    /// declares a message over the limit or flags compression the request did not declare.
    private func checkMessagePrefixes(in bytes: ByteBuffer) -> (code: GoogleRPCStatus.Code, message: String)? {
        receivedBytes += bytes.readableBytes
        var offset = bytes.readerIndex
        let end = bytes.writerIndex
        while offset < end {
            if messageBytesLeft > 0 {
                let skipped = min(messageBytesLeft, end - offset)
                messageBytesLeft -= skipped
                offset += skipped
                continue
            }
            prefix.append(bytes.getInteger(at: offset, as: UInt8.self)!)
            offset += 1
            guard prefix.count == 5 else { continue }
            let length = prefix[1...].reduce(0) { $0 << 8 | Int($1) }
            let compressed = prefix[0] & 1 == 1
            prefix.removeAll(keepingCapacity: true)
            if compressed && !compressionDeclared {
                return (.internalError, "a message is flagged compressed but the request declares no grpc-encoding")
            }
            if length > maxMessageSize {
                return (
                    .resourceExhausted, "the message of \(length) bytes exceeds the limit of \(maxMessageSize) bytes"
                )
            }
            messageBytesLeft = length
        }
        return nil
    }

    /// The request is whole and handed on: its bytes now count where the batch made of it goes.
    private func endRequest() {
        requestEnded = true
        stall?.cancel()
        stall = nil
        release()
    }

    private func finish() {
        stall?.cancel()
        stall = nil
        release()
    }

    private func release() {
        guard reserved > 0 else { return }
        memory?.add(-reserved)
        reserved = 0
    }

    private func armStallTimer(_ context: ChannelHandlerContext) {
        guard !requestEnded else { return }
        stall?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        stall = context.eventLoop.scheduleTask(in: stallTimeout) {
            // Reset the stream: the client learns its call failed; grpc-swift's handler sees the stream close and
            // ends the call.
            loopBound.value.close(promise: nil)
        }
    }

    /// Answers with `code` as trailers only (with a `RetryInfo` detail when `retryDelay` is given, which makes
    /// clients retry), and stops reading the request.
    private func refuse(
        _ context: ChannelHandlerContext, _ code: GoogleRPCStatus.Code, _ message: String, retryDelay: Duration?
    ) {
        refused = true
        requestEnded = true
        stall?.cancel()
        stall = nil
        release()
        var trailers: HPACKHeaders = [
            ":status": "200", "content-type": "application/grpc", "grpc-status": String(code.rawValue),
            "grpc-message": message,
        ]
        if let retryDelay {
            let status = GoogleRPCStatus(code, message, retryDelay: retryDelay)
            trailers.add(name: "grpc-status-details-bin", value: base64(status.protobuf()))
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true)))).whenComplete {
            _ in channel.close(promise: nil)
        }
    }

    /// gRPC's binary metadata is base64 without padding.
    private func base64(_ bytes: [UInt8]) -> String {
        var encoded = Base64.encode(bytes)
        while encoded.last == "=" { encoded.removeLast() }
        return encoded
    }
}
