import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A Kubernetes API server on a loopback port, over TLS, that replays scripted LIST and WATCH answers in the shapes
/// real apiservers send (`KubernetesFixtures`), checks the bearer token and records every request.
///
/// Requests to `/api/v1/pods`, and to any other path replies were queued for (`/api/v1/nodes`,
/// `/api/v1/services`, …), take that path's queued replies in order (a LIST and a watch alike, the test knows which
/// comes when); once the queue is empty, a request is held open without a byte, as a quiet watch.
/// `/api/v1/nodes/<name>` gets `nodeReply`. A wrong token gets `401` with a Status, as the apiserver answers.
public final class ScriptedKubernetesAPI: Sendable {
    /// The answer to one request.
    public enum Reply: Sendable {
        /// A whole response with this status and JSON body.
        case json(status: Int, body: String)
        /// `200` with a chunked body written step by step: a watch.
        case stream([Step])
    }

    /// One step of a streamed answer.
    public enum Step: Sendable {
        /// One event line (the newline is added).
        case event(String)
        /// Bytes as they are, for a line cut in two.
        case bytes(String)
        /// Waits until the test calls `resume()`.
        case pause
        /// Ends the response properly, as the server does at `timeoutSeconds`.
        case end
        /// Closes the connection mid-response, as a restarted apiserver or a load balancer does.
        case drop
    }

    /// One request as the server read it.
    public struct Request: Sendable, CustomStringConvertible {
        /// Path and query as sent.
        public var target: String
        public var authorization: String?
        /// The status answered (or 200 for a stream).
        public var status: Int

        public var path: String { String(target.prefix { $0 != "?" }) }

        /// The query's parameters, percent-decoded.
        public var query: [String: String] {
            guard let mark = target.firstIndex(of: "?") else { return [:] }
            var parameters: [String: String] = [:]
            for pair in target[target.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let value = parts.count > 1 ? String(parts[1]) : ""
                parameters[String(parts[0])] = value.removingPercentEncoding ?? value
            }
            return parameters
        }

        public var isWatch: Bool { query["watch"] == "1" || query["watch"] == "true" }

        public var description: String { "\(status) \(target)" }
    }

    fileprivate struct State {
        var token: String
        /// Queued replies by path; `/api/v1/pods` is always scripted.
        var replies: [String: [Reply]] = ["/api/v1/pods": []]
        var nodeReply: Reply
        var requests: [Request] = []
        var paused: [@Sendable () -> Void] = []
        /// `resume()` calls that found no stream paused: the next pause passes at once.
        var earlyResumes = 0
        var connections: [ObjectIdentifier: Channel] = [:]
    }

    private let script: Script
    private let serverChannel: Channel
    public let port: Int
    /// The CA that signs the server's certificate, for the client's `ca_file`.
    public let caFile: String

    /// Listens on a free port of 127.0.0.1 with a certificate from `certificates`, accepting `token`.
    public init(certificates: TestCertificates, token: String, nodeReply: Reply) async throws {
        // openssl runs off the cooperative pool, which parallel tests would otherwise starve.
        let (crt, key) = try await offload {
            Result { try certificates.issue("kubernetes-api-\(UUID().uuidString)", commonName: "kube-apiserver") }
        }.get()
        caFile = certificates.path("ca.crt")
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(crt).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        let context = try NIOSSLContext(configuration: configuration)
        let script = Script(State(token: token, nodeReply: nodeReply))
        self.script = script
        serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLServerHandler(context: context))
                    // Without pipelining assistance the server keeps reading during a watch, so it sees the client's TLS
                    // close_notify and answers it, as a Go apiserver does.
                    try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try pipeline.addHandler(ScriptedKubernetesAPIHandler(script: script))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = serverChannel.localAddress?.port ?? 0
    }

    /// `https://127.0.0.1:<port>`.
    public var url: String { "https://127.0.0.1:\(port)" }

    /// The token the server accepts from now on.
    public var token: String {
        get { script.state.withLock { $0.token } }
        set { script.state.withLock { $0.token = newValue } }
    }

    /// Queues answers for the next requests to `/api/v1/pods`.
    public func enqueue(_ replies: Reply...) {
        script.state.withLock { $0.replies["/api/v1/pods", default: []] += replies }
    }

    /// Queues answers for the next requests to `path`, e.g. `/api/v1/services`.
    public func enqueue(path: String, _ replies: Reply...) {
        script.state.withLock { $0.replies[path, default: []] += replies }
    }

    /// Requests to `path` so far.
    public func requests(to path: String) -> [Request] { requests.filter { $0.path == path } }

    /// Every request so far, in order of arrival.
    public var requests: [Request] { script.state.withLock { $0.requests } }

    /// Requests to `/api/v1/pods` so far.
    public var podRequests: [Request] { requests.filter { $0.path == "/api/v1/pods" } }

    /// Lets every stream waiting at a `.pause` go on; with none waiting yet, lets the next one pass.
    public func resume() {
        let paused = script.state.withLock { state in
            if state.paused.isEmpty { state.earlyResumes += 1 }
            defer { state.paused = [] }
            return state.paused
        }
        for go in paused { go() }
    }

    /// Waits until `condition` holds, checking every 20 ms, for at most `timeout`; returns whether it held.
    public func wait(
        for timeout: Duration = .seconds(30), until condition: @Sendable (ScriptedKubernetesAPI) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }

    /// Stops listening and closes every connection.
    public func stop() async {
        let connections = script.state.withLock { state in
            defer { state.connections = [:] }
            return Array(state.connections.values)
        }
        for connection in connections { try? await connection.close() }
        try? await serverChannel.close()
    }

    fileprivate static func statusBody(code: Int, reason: String, message: String) -> String {
        #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(message)","reason":"\#(reason)","code":\#(code)}"#
    }
}

/// The server's state, shared by the connections' handlers.
private final class Script: Sendable {
    let state: Mutex<ScriptedKubernetesAPI.State>

    init(_ state: ScriptedKubernetesAPI.State) {
        self.state = Mutex(state)
    }
}

/// Answers one connection's requests from the script.
private final class ScriptedKubernetesAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let script: Script
    private var head: HTTPRequestHead?

    init(script: Script) {
        self.script = script
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        script.state.withLock { $0.connections[ObjectIdentifier(channel)] = channel }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let channel = context.channel
        script.state.withLock { $0.connections[ObjectIdentifier(channel)] = nil }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead): head = requestHead
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let authorization = head.headers.first(name: "Authorization")
        let path = String(head.uri.prefix { $0 != "?" })
        let reply = script.state.withLock { state -> ScriptedKubernetesAPI.Reply? in
            let reply: ScriptedKubernetesAPI.Reply?
            if authorization != "Bearer \(state.token)" {
                reply = .json(
                    status: 401,
                    body: ScriptedKubernetesAPI.statusBody(code: 401, reason: "Unauthorized", message: "Unauthorized"))
            } else if let queue = state.replies[path] {
                reply = queue.first
                state.replies[path] = Array(queue.dropFirst())
            } else if path.hasPrefix("/api/v1/nodes/") {
                reply = state.nodeReply
            } else {
                reply = .json(
                    status: 404,
                    body: ScriptedKubernetesAPI.statusBody(code: 404, reason: "NotFound", message: "not found"))
            }
            var status = 200
            if case .json(let code, _) = reply { status = code }
            state.requests.append(.init(target: head.uri, authorization: authorization, status: status))
            return reply
        }
        switch reply {
        case .json(let status, let body):
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(body.utf8.count)")])
            headers.add(name: "Audit-Id", value: UUID().uuidString)
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))),
                promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case .stream(let steps):
            startStream(context: context)
            play(steps[...], context: context)
        case nil:
            // A quiet watch: the head, then nothing until the client or the test closes the connection.
            startStream(context: context)
        }
    }

    private func startStream(context: ChannelHandlerContext) {
        let headers = HTTPHeaders([("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
        context.writeAndFlush(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
    }

    private func play(_ steps: ArraySlice<ScriptedKubernetesAPI.Step>, context: ChannelHandlerContext) {
        var steps = steps
        while let step = steps.popFirst() {
            switch step {
            case .event(let line):
                context.writeAndFlush(
                    wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: line + "\n")))), promise: nil)
            case .bytes(let text):
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            case .pause:
                let rest = steps
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                let passes = script.state.withLock { state in
                    if state.earlyResumes > 0 {
                        state.earlyResumes -= 1
                        return true
                    }
                    state.paused.append {
                        eventLoop.execute {
                            let (handler, context) = loopBound.value
                            guard context.channel.isActive else { return }
                            handler.play(rest, context: context)
                        }
                    }
                    return false
                }
                if passes { continue }
                return
            case .end:
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            case .drop:
                context.close(promise: nil)
                return
            }
        }
    }
}
