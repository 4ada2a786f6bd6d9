import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The head of a response whose body is read as it arrives (a Kubernetes watch: chunked and open for minutes).
public struct HTTPStreamingResponse {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    /// The body; it can be iterated once, and only inside the closure it was handed to.
    public var body: HTTPResponseBody
}

/// A response body chunk by chunk: ends with the response, throws when the connection drops first or reads nothing
/// for the idle timeout.
///
/// Backpressure is the channel's: nothing more is read from the socket while a chunk waits to be taken.
public struct HTTPResponseBody: AsyncSequence {
    public typealias Element = ByteBuffer

    fileprivate let parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(parts: parts) }

    /// Takes the body parts out of the response's parts.
    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate var parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
        private var ended = false

        fileprivate init(parts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator) {
            self.parts = parts
        }

        public mutating func next() async throws -> ByteBuffer? {
            guard !ended else { return nil }
            while true {
                guard let part = try await parts.next() else {
                    ended = true
                    // The stream also ends when the waiting task is cancelled; that is not a dropped connection.
                    try Task.checkCancellation()
                    throw HTTPClientError.connectionClosed
                }
                switch part {
                case .body(let chunk):
                    return chunk
                case .end:
                    ended = true
                    return nil
                case .head:
                    throw HTTPClientError(description: "a second response head arrived in one response")
                }
            }
        }
    }
}

extension HTTPConnectionPool {
    /// GETs `target` on a connection of its own (never pooled) and hands the response to `handle` as soon as its head
    /// arrives; the connection is closed when `handle` returns or throws.
    ///
    /// `idleTimeout` bounds the wait for each read, not the whole response: a watch may stay open for as long as the
    /// server keeps it. Cancelling the task closes the connection and throws `CancellationError`.
    public func stream<Result>(
        get target: String, headers: HTTPHeaders, connectTimeout: Duration, idleTimeout: Duration,
        _ handle: (HTTPStreamingResponse) async throws -> Result
    ) async throws -> Result {
        let tls = self.tls
        let serverName = self.serverName
        let idle = ReadIdleCloser.Outcome()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(tls.makeClientHandler(serverName: serverName)) }
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(IdleStateHandler(readTimeout: TimeAmount(idleTimeout)))
                    try pipeline.addHandler(ReadIdleCloser(outcome: idle))
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: headers)
        head.headers.replaceOrAdd(name: "Host", value: endpoint.hostHeader)
        do {
            return try await exchange(head, on: channel, handle)
        } catch {
            // A timeout during the handshake or the request's write surfaces as a write on a closed channel.
            if !(error is CancellationError), idle.timedOut.load(ordering: .relaxed) { throw HTTPClientError.timeout }
            throw error
        }
    }

    private func exchange<Result>(
        _ head: HTTPRequestHead, on channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>,
        _ handle: (HTTPStreamingResponse) async throws -> Result
    ) async throws -> Result {
        try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.head(head))
                try await outbound.write(.end(nil))
                var parts = inbound.makeAsyncIterator()
                guard let first = try await parts.next() else {
                    try Task.checkCancellation()
                    throw HTTPClientError.connectionClosed
                }
                guard case .head(let responseHead) = first else {
                    throw HTTPClientError(description: "the response did not start with a head")
                }
                return try await handle(
                    HTTPStreamingResponse(
                        status: responseHead.status, headers: responseHead.headers,
                        body: HTTPResponseBody(parts: parts)))
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }
}

/// Turns a read-idle event into `HTTPClientError.timeout` on the stream and closes the connection.
final class ReadIdleCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    /// Whether the connection was closed for idleness, for the task that sees only the closed channel.
    final class Outcome: Sendable {
        let timedOut = Atomic<Bool>(false)
    }

    private let outcome: Outcome

    init(outcome: Outcome) {
        self.outcome = outcome
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        outcome.timedOut.store(true, ordering: .relaxed)
        context.fireErrorCaught(HTTPClientError.timeout)
        context.close(promise: nil)
    }
}
