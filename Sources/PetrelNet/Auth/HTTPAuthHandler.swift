import NIOCore
import NIOHTTP1

/// Answers 401 to a request without valid credentials as soon as its head arrives, reads nothing of its body and
/// closes the connection; lets authorized requests, and requests for `openPaths`, through untouched.
public final class HTTPAuthHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    private let authenticator: SourceAuthenticator
    private let openPaths: Set<String>
    private var refused = false

    public init(authenticator: SourceAuthenticator, openPaths: Set<String> = []) {
        self.authenticator = authenticator
        self.openPaths = openPaths
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        guard case .head(let head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard openPaths.contains(path) || authenticator.authorizes(head.headers.first(name: "Authorization")) else {
            refused = true
            let body = "missing or invalid credentials\n"
            let headers: HTTPHeaders = [
                "WWW-Authenticate": "\(authenticator.scheme) realm=\"petrel\"",
                "Content-Type": "text/plain; charset=utf-8", "Content-Length": String(body.utf8.count),
                "Connection": "close",
            ]
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: head.version, status: .unauthorized, headers: headers))),
                promise: nil)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
    }
}
