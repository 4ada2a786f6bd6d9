import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PetrelTestSupport
import Synchronization
import Testing

@testable import PetrelNet

#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP/1.1 server that does with each request what the test's script says for its connection and its
/// place on that connection, and counts both.
private final class ScriptedServer: Sendable {
    enum Answer: Sendable {
        /// The status with a body of `bodyBytes` bytes, keeping the connection.
        case status(HTTPResponseStatus, bodyBytes: Int = 0)
        /// Closes the connection without answering, as a server does with a keep-alive connection it timed out.
        case close
        /// Never answers.
        case hold
    }

    typealias Script = @Sendable (_ connection: Int, _ request: Int) -> Answer

    /// What the server's connections count, shared with their handlers.
    private final class Counts: Sendable {
        let connections = Atomic<Int>(0)
        let requests = Atomic<Int>(0)
    }

    private let channel: Channel
    private let counts = Counts()
    let port: Int

    var connections: Int { counts.connections.load(ordering: .relaxed) }
    var requests: Int { counts.requests.load(ordering: .relaxed) }

    init(tls: NIOSSLContext? = nil, script: @escaping Script) async throws {
        let counts = self.counts
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = counts.connections.add(1, ordering: .relaxed).newValue
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        ScriptedHandler(connection: connection, script: script) {
                            counts.requests.add(1, ordering: .relaxed)
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    func stop() async throws {
        try await channel.close()
    }
}

private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let connection: Int
    private let script: ScriptedServer.Script
    private let received: @Sendable () -> Void
    private var requests = 0

    init(connection: Int, script: @escaping ScriptedServer.Script, received: @escaping @Sendable () -> Void) {
        self.connection = connection
        self.script = script
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        requests += 1
        received()
        switch script(connection, requests) {
        case .close:
            context.close(promise: nil)
        case .hold:
            break
        case .status(let status, let bodyBytes):
            var head = HTTPResponseHead(version: .http1_1, status: status)
            head.headers.add(name: "Content-Length", value: String(bodyBytes))
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if bodyBytes > 0 {
                let body = ByteBuffer(repeating: UInt8(ascii: "x"), count: bodyBytes)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

@Suite struct HTTPEndpointClientTests {
    private func endpoint(_ server: ScriptedServer, scheme: String = "http") throws -> HTTPEndpoint {
        try HTTPEndpoint.parse("\(scheme)://127.0.0.1:\(server.port)/api/v1/write").get()
    }

    private func post(_ client: HTTPEndpointClient, _ endpoint: HTTPEndpoint) async throws -> HTTPClientResponse {
        try await client.post(to: endpoint, body: ByteBuffer(string: "payload"), headers: [:])
    }

    @Test func aRequestOnAKeepAliveConnectionTheServerClosedIsSentAgainOnANewOne() async throws {
        let server = try await ScriptedServer { connection, request in
            connection == 1 && request == 2 ? .close : .status(.noContent)
        }
        let endpoint = try endpoint(server)
        let client = HTTPEndpointClient(origin: endpoint, connections: 1, timeout: .seconds(30))
        // Results, not `try`: the client is shut down whatever happens (AsyncHTTPClient traps on one that is not).
        let first = await Result(catching: { try await post(client, endpoint) })
        let second = await Result(catching: { try await post(client, endpoint) })
        await client.shutdown()
        try await server.stop()
        #expect(try first.get().status == .noContent)
        #expect(try second.get().status == .noContent, "AsyncHTTPClient alone fails it: remoteConnectionClosed")
        #expect(server.connections == 2, "the first connection was reused, then replaced")
        #expect(server.requests == 3)
    }

    @Test func aHugeErrorBodyIsCutAtTheLimitAndTheStatusKept() async throws {
        let server = try await ScriptedServer { connection, _ in
            connection == 1 ? .status(.internalServerError, bodyBytes: 16 * 1024 * 1024) : .status(.noContent)
        }
        let endpoint = try endpoint(server)
        let client = HTTPEndpointClient(origin: endpoint, connections: 1, timeout: .seconds(30))
        let huge = await Result(catching: { try await post(client, endpoint) })
        let next = await Result(catching: { try await post(client, endpoint) })
        await client.shutdown()
        try await server.stop()
        #expect(try huge.get().status == .internalServerError)
        #expect(try huge.get().body.readableBytes == HTTPEndpointClient.maxBodyBytes)
        #expect(try next.get().status == .noContent, "the cut body's connection was closed and a new one answered")
    }

    @Test func cancellationEndsARequestTheServerHolds() async throws {
        let server = try await ScriptedServer { _, _ in .hold }
        let endpoint = try endpoint(server)
        let client = HTTPEndpointClient(origin: endpoint, connections: 1, timeout: .seconds(600))
        let request = Task { try await post(client, endpoint) }
        while server.requests == 0 { try await Task.sleep(for: .milliseconds(20)) }
        request.cancel()
        let result = await request.result
        await client.shutdown()
        try await server.stop()
        #expect(throws: (any Error).self) { try result.get() }
    }

    @Test func theTimeoutEndsARequestTheServerHolds() async throws {
        let server = try await ScriptedServer { _, _ in .hold }
        let endpoint = try endpoint(server)
        let client = HTTPEndpointClient(origin: endpoint, connections: 1, timeout: .milliseconds(500))
        let result = await Result(catching: { try await post(client, endpoint) })
        await client.shutdown()
        try await server.stop()
        #expect(throws: (any Error).self) { try result.get() }
        #expect(server.requests == 1)
    }

    /// The partition of docs/RELIABILITY.md, on one machine: a request's bytes wait in the client's send queue (there a
    /// link was down, here the server does not read), the client gives up and would retry. Closed the usual way, the
    /// kernel still delivered the abandoned request once the server read again, and the receiver took it twice.
    @Test func aRequestGivenUpOnNeverArrivesLater() async throws {
        let server = try StalledListener()
        defer { server.close() }
        let endpoint = try HTTPEndpoint.parse("http://127.0.0.1:\(server.port)/api/v1/write").get()
        let client = HTTPEndpointClient(origin: endpoint, connections: 1, timeout: .milliseconds(500))
        let body = ByteBuffer(repeating: 0x78, count: 200_000)
        let result = await Result(catching: { try await client.post(to: endpoint, body: body, headers: [:]) })
        #expect(throws: (any Error).self, "the server never answers") { try result.get() }
        let received = server.readUntilClosed()
        await client.shutdown()
        #expect(received.bytes < body.readableBytes, "the abandoned request arrived whole after the client gave up")
        #expect(received.reset, "the client ended the connection with a reset")
    }

    @Test func newConnectionsUseTheTLSFilesAsTheyAreNowWithTheServerNameGiven() async throws {
        let certificates = try TestCertificates()
        let served = try certificates.issue("server", commonName: "server")
        let client = try certificates.issue("client", commonName: "client")
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(served.crt).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: served.key, format: .pem)))
        serverTLS.certificateVerification = .noHostnameVerification
        serverTLS.trustRoots = .file(certificates.path("ca.crt"))
        let server = try await ScriptedServer(tls: try NIOSSLContext(configuration: serverTLS)) { _, _ in
            .status(.noContent)
        }
        // The client trusts the wrong CA first.
        let caFile = certificates.path("trusted.crt")
        try FileManager.default.copyItem(atPath: certificates.path("rogue-ca.crt"), toPath: caFile)
        var settings = TLSClientSettings()
        settings.caFile = caFile
        settings.certificateFile = client.crt
        settings.keyFile = client.key
        settings.serverName = "localhost"
        let tls = try ReloadingClientTLS(settings, logger: Logger(label: "test"), checkInterval: .zero)
        let endpoint = try endpoint(server, scheme: "https")
        let httpClient = HTTPEndpointClient(
            origin: endpoint, connections: 1, timeout: .seconds(30), tls: tls, serverName: settings.serverName)
        let refused = await Result(catching: { try await post(httpClient, endpoint) })

        try FileManager.default.removeItem(atPath: caFile)
        try FileManager.default.copyItem(atPath: certificates.path("ca.crt"), toPath: caFile)
        let accepted = await Result(catching: { try await post(httpClient, endpoint) })
        await httpClient.shutdown()
        try await server.stop()
        #expect(throws: (any Error).self, "the rogue CA does not vouch for the server") { try refused.get() }
        #expect(try accepted.get().status == .noContent)
    }
}

/// A loopback listener with a tiny receive buffer whose one connection is accepted at once but not read until the test
/// says so: what a client sends beyond the buffer waits in the client's own send queue.
private final class StalledListener: Sendable {
    let port: Int
    private let listener: Int32
    private let accepted = Mutex<Int32>(-1)

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        // Set on the listener, inherited by the accepted socket before the handshake sizes the window.
        var small: Int32 = 2048
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, 4) == 0
                    && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(descriptor)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        listener = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in
            let connection = accept(listener, nil, nil)
            accepted.withLock { $0 = connection }
        }
        thread.start()
    }

    /// Reads the accepted connection until the peer closed it (false) or reset it (true); returns the bytes read.
    func readUntilClosed() -> (bytes: Int, reset: Bool) {
        var connection = accepted.withLock { $0 }
        while connection < 0 {
            usleep(10_000)
            connection = accepted.withLock { $0 }
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        var total = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                total += count
                continue
            }
            return (total, count < 0 && errno == ECONNRESET)
        }
    }

    func close() {
        let connection = accepted.withLock { $0 }
        if connection >= 0 { Glibc.close(connection) }
        Glibc.close(listener)
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing call.
    fileprivate init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
