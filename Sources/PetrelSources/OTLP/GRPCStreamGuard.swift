import NIOCore
import NIOHPACK
import NIOHTTP2
import PetrelCodecs
import PetrelCore

/// Bounds one gRPC request stream in time and memory, as the HTTP server bounds a request body: its bytes count
/// against `memory_limit` as they arrive, until the request ends; one that would pass the limit is answered
/// RESOURCE_EXHAUSTED (clients retry it); one that sends nothing for `request_body_timeout` before its end is reset.
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
    /// Bytes of this request counted against `memory`.
    private var reserved = 0
    /// Whether the client has ended its side, or the stream was refused: no more deadlines.
    private var requestEnded = false
    private var refused = false
    private var stall: Scheduled<Void>?

    init(memory: MemoryLimit?, stallTimeout: Duration, retryAfter: Duration) {
        self.memory = memory
        self.stallTimeout = TimeAmount(stallTimeout)
        self.retryAfter = retryAfter
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
            if headers.endStream { endRequest() } else { armStallTimer(context) }
        case .data(let data):
            if let memory, data.data.readableBytes > 0 {
                guard memory.reserve(data.data.readableBytes, holding: reserved) else {
                    refuse(context)
                    return
                }
                reserved += data.data.readableBytes
            }
            if data.endStream { endRequest() } else { armStallTimer(context) }
        default:
            break
        }
        context.fireChannelRead(data)
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

    /// Answers RESOURCE_EXHAUSTED with its retry delay as trailers only, and stops reading the request.
    private func refuse(_ context: ChannelHandlerContext) {
        refused = true
        requestEnded = true
        stall?.cancel()
        stall = nil
        release()
        let message = "the pipeline's memory_limit is held by requests being read; retry later"
        let status = GoogleRPCStatus(.resourceExhausted, message, retryDelay: retryAfter)
        let trailers: HPACKHeaders = [
            ":status": "200", "content-type": "application/grpc",
            "grpc-status": String(GoogleRPCStatus.Code.resourceExhausted.rawValue),
            "grpc-message": message,
            "grpc-status-details-bin": base64(status.protobuf()),
        ]
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
