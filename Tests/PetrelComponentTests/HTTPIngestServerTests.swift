import Logging
import NIOCore
import NIOHTTP1
import PetrelCore
import PetrelNet
import PetrelSources
import PetrelTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shared HTTP server against careless and hostile clients, over real sockets: what a client sees when it stalls,
/// overdeclares, pipelines, floods or walks away.
@Suite struct HTTPIngestServerTests {
    /// A server on a loopback port whose handler answers `path body-length` (after `delay` for `/slow`).
    final class Running: Sendable {
        let port: Int
        let shutdown = ShutdownSignal()
        let task: Task<Void, any Error>
        let counter = HandledCount()
        var handled: Int { counter.value.load(ordering: .relaxed) }

        init(
            maxBodySize: Int = 1024, limits: HTTPListenerLimits = Running.limits(), memory: MemoryLimit? = nil
        ) async throws {
            port = freePort()
            let settings = HTTPServerSettings(host: "127.0.0.1", port: port, maxBodySize: maxBodySize, limits: limits)
            let counter = self.counter
            let server = HTTPIngestServer(settings: settings, memory: memory, logger: Logger(label: "test")) {
                request in
                counter.value.add(1, ordering: .relaxed)
                if request.path == "/slow" { try? await Task.sleep(for: .milliseconds(200)) }
                return HTTPIngestResponse(
                    status: .ok, body: Array("\(request.path) \(request.body.readableBytes)".utf8))
            }
            let ready = Atomic<Bool>(false)
            let shutdown = self.shutdown
            task = Task { try await server.run(shutdown: shutdown) { _ in ready.store(true, ordering: .relaxed) } }
            guard await componentEventually({ ready.load(ordering: .relaxed) }) else {
                throw TestSupportError("the server did not start")
            }
        }

        /// Long timeouts, so that a test shortens only the one it is about: the others must not fire while tests
        /// running in parallel slow this one down.
        static func limits(
            header: Duration = .seconds(30), body: Duration = .seconds(30), idle: Duration = .seconds(30)
        ) -> HTTPListenerLimits {
            var limits = HTTPListenerLimits()
            limits.requestHeaderTimeout = header
            limits.requestBodyTimeout = body
            limits.idleTimeout = idle
            return limits
        }

        func connect() async throws -> RawConnection {
            let port = self.port
            return try #require(await offload { RawConnection(port: port) })
        }

        func stop() async throws {
            shutdown.trigger()
            try await task.value
        }
    }

    final class HandledCount: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Well past the short timeouts, well short of "for ever".
    static let bound = Duration.seconds(5)

    @Test func connectionWithoutARequestHeadIsClosed() async throws {
        let server = try await Running(limits: Running.limits(header: .milliseconds(300)))
        let silent = try await server.connect()
        let halfHead = try await server.connect()
        halfHead.send("POST /a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        #expect(await offload { silent.closedByServer(within: Self.bound) })
        #expect(await offload { halfHead.closedByServer(within: Self.bound) })
        try await server.stop()
    }

    @Test func stalledBodyIsClosedAndNotHandled() async throws {
        let server = try await Running(limits: Running.limits(body: .milliseconds(300)))
        let connection = try await server.connect()
        connection.send(rawRequestHead("POST", "/a", ["Content-Length": "100"]) + "0123456789")
        #expect(await offload { connection.closedByServer(within: Self.bound) })
        #expect(server.handled == 0)
        try await server.stop()
    }

    @Test func bodyThatKeepsComingIsNotCutOff() async throws {
        let server = try await Running(limits: Running.limits(body: .seconds(4)))
        let connection = try await server.connect()
        connection.send(rawRequestHead("POST", "/a", ["Content-Length": "10"]))
        // Ten bytes over seven seconds: nearly twice the body timeout in all, each well within it of the last. Sent
        // from a thread of its own: a task's sleep can be stretched by seconds while a full test run keeps the
        // cooperative pool busy, and the gap the server saw would then be the test's, not the sender's.
        let response = await offload {
            for byte in 0..<10 {
                usleep(700_000)
                connection.send([UInt8(48 + byte)])
            }
            return connection.readResponse(timeout: .seconds(30))
        }
        #expect(response?.status == 200)
        #expect(response?.text == "/a 10")
        try await server.stop()
    }

    @Test func idleKeepAliveConnectionIsClosed() async throws {
        let server = try await Running(limits: Running.limits(idle: .milliseconds(300)))
        let connection = try await server.connect()
        connection.send(rawRequestHead("GET", "/a"))
        #expect(await offload { connection.readResponse() }?.status == 200)
        #expect(await offload { connection.closedByServer(within: Self.bound) })
        try await server.stop()
    }

    @Test func declaredOversizeBodyGets413BeforeItIsSent() async throws {
        let server = try await Running()
        let connection = try await server.connect()
        connection.send(rawRequestHead("POST", "/a", ["Content-Length": String(10 << 30)]))
        let response = await offload { connection.readResponse() }
        #expect(response?.status == 413)
        #expect(response?.headers["connection"] == "close")
        #expect(await offload { connection.closedByServer(within: Self.bound) })
        #expect(server.handled == 0)
        try await server.stop()
    }

    @Test func chunkedBodyIsCutOffAtTheLimit() async throws {
        let server = try await Running()
        let connection = try await server.connect()
        let chunk = "320\r\n" + String(repeating: "x", count: 800) + "\r\n"
        connection.send(rawRequestHead("POST", "/a", ["Transfer-Encoding": "chunked"]) + chunk)
        connection.send(chunk)
        let response = await offload { connection.readResponse() }
        #expect(response?.status == 413)
        #expect(response?.headers["connection"] == "close")
        #expect(await offload { connection.closedByServer(within: Self.bound) })
        #expect(server.handled == 0)
        try await server.stop()
    }

    private static let pipelined =
        rawRequestHead("POST", "/slow", ["Content-Length": "3"]) + "abc" + rawRequestHead("GET", "/b")
        + rawRequestHead("POST", "/c", ["Content-Length": "1"]) + "z"

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let server = try await Running()
        let connection = try await server.connect()
        connection.send(Self.pipelined)
        let answers = await offload { (0..<3).compactMap { _ in connection.readResponse() } }
        #expect(answers.map(\.text) == ["/slow 3", "/b 0", "/c 1"])
        #expect(answers.allSatisfy { $0.status == 200 })
        try await server.stop()
    }

    @Test func pipelinedRequestsSentByteAtATime() async throws {
        let server = try await Running()
        let connection = try await server.connect()
        await offload {
            for byte in Self.pipelined.utf8 { connection.send([byte]) }
        }
        let answers = await offload { (0..<3).compactMap { _ in connection.readResponse() } }
        #expect(answers.map(\.text) == ["/slow 3", "/b 0", "/c 1"])
        try await server.stop()
    }

    @Test func malformedRequestGets400AndTheConnectionCloses() async throws {
        let server = try await Running()
        let connection = try await server.connect()
        connection.send("GET /a HTTP/1.1\r\nHost 127.0.0.1\r\nNo-Colon-Here\r\n\r\n")
        let response = await offload { connection.readResponse() }
        #expect(response?.status == 400)
        #expect(response?.headers["connection"] == "close")
        #expect(await offload { connection.closedByServer(within: Self.bound) })
        try await server.stop()
    }

    @Test func connectionsPastMaxConnectionsAreRefused() async throws {
        var limits = Running.limits()
        limits.maxConnections = 5
        let server = try await Running(limits: limits)
        var opened: [RawConnection] = []
        for _ in 0..<5 { opened.append(try await server.connect()) }
        let held = opened
        // Accepted in turn: the first five are in before the sixth.
        held[4].send(rawRequestHead("GET", "/a"))
        #expect(await offload { held[4].readResponse() }?.status == 200)
        let refused = try await server.connect()
        #expect(await offload { refused.closedByServer(within: Self.bound) })
        held[0].close()
        // Once one is gone another gets in.
        var answered = false
        for _ in 0..<50 where !answered {
            let connection = try await server.connect()
            connection.send(rawRequestHead("GET", "/b"))
            answered = await offload { connection.readResponse(timeout: .seconds(1)) }?.status == 200
        }
        #expect(answered)
        try await server.stop()
    }

    @Test func bodiesBeingReadCountAgainstTheMemoryLimit() async throws {
        let memory = MemoryLimit(limit: 256 << 10)
        let limits = Running.limits()
        let server = try await Running(maxBodySize: 4 << 20, limits: limits, memory: memory)
        // One upload stalls with 512KiB read: the first body always comes in, as the first batch does.
        let stalled = try await server.connect()
        stalled.send(rawRequestHead("POST", "/a", ["Content-Length": String(1 << 20)]))
        stalled.send([UInt8](repeating: 1, count: 512 << 10))
        #expect(await componentEventually { memory.bytes == 512 << 10 })
        // The next is refused as its bytes arrive, with the time to retry after, and closed.
        let refused = try await server.connect()
        refused.send(rawRequestHead("POST", "/a", ["Content-Length": String(1 << 20)]))
        refused.send([UInt8](repeating: 1, count: 64 << 10))
        let response = await offload { refused.readResponse() }
        #expect(response?.status == 429)
        #expect(response?.headers["retry-after"] == "1")
        #expect(await offload { refused.closedByServer(within: Self.bound) })
        // A request without a body still gets through.
        let small = try await server.connect()
        small.send(rawRequestHead("GET", "/b"))
        #expect(await offload { small.readResponse() }?.text == "/b 0")
        // The stalled client goes away: what it held is given back, and bodies come in again.
        stalled.close()
        #expect(await componentEventually { memory.bytes == 0 })
        small.send(rawRequestHead("POST", "/c", ["Content-Length": "4"]) + "abcd")
        #expect(await offload { small.readResponse() }?.text == "/c 4")
        try await server.stop()
    }

    @Test func abortedRequestDoesNotHoldUpShutdown() async throws {
        let server = try await Running()
        let aborted = try await server.connect()
        aborted.send(rawRequestHead("POST", "/a", ["Content-Length": "100"]) + "0123456789")
        try await Task.sleep(for: .milliseconds(100))
        aborted.close()
        let idle = try await server.connect()
        idle.send(rawRequestHead("GET", "/b"))
        #expect(await offload { idle.readResponse() }?.status == 200)
        let stopped = Atomic<Bool>(false)
        let stopping = Task {
            try await server.stop()
            stopped.store(true, ordering: .relaxed)
        }
        #expect(await componentEventually(timeout: Self.bound) { stopped.load(ordering: .relaxed) })
        // The idle keep-alive connection was closed by the shutdown, not left open.
        #expect(await offload { idle.closedByServer(within: Self.bound) })
        stopping.cancel()
    }

    @Test func bodyTricklingInDoesNotHoldUpShutdownPastTheBodyTimeout() async throws {
        let server = try await Running(limits: Running.limits(body: .milliseconds(800)))
        let trickle = try await server.connect()
        trickle.send(rawRequestHead("POST", "/a", ["Content-Length": "100"]))
        let stopped = Atomic<Bool>(false)
        let stopping = Task {
            try await server.stop()
            stopped.store(true, ordering: .relaxed)
        }
        // A byte every 200ms would keep the body timeout from firing for ever; at shutdown it stops moving.
        var sent = 0
        while !stopped.load(ordering: .relaxed) && sent < 50 {
            trickle.send("x")
            sent += 1
            try await Task.sleep(for: .milliseconds(200))
        }
        let done = stopped.load(ordering: .relaxed)
        #expect(done, "still serving after \(sent) bytes")
        #expect(await offload { trickle.closedByServer(within: Self.bound) })
        stopping.cancel()
    }

    @Test func listenerKeysAreReadOnBothPushSources() throws {
        let keys = componentConfig([
            "max_connections": 50, "request_header_timeout": "2s", "request_body_timeout": "3s", "idle_timeout": "4s",
        ])
        var expected = HTTPListenerLimits()
        expected.maxConnections = 50
        expected.requestHeaderTimeout = .seconds(2)
        expected.requestBodyTimeout = .seconds(3)
        expected.idleTimeout = .seconds(4)
        let remoteWrite = buildComponent(RemoteWriteSource.definition, at: "sources.rw", keys)
        #expect(remoteWrite.errors == [])
        if case .source(let source as RemoteWriteSource, _)? = remoteWrite.built {
            #expect(source.config.listener == expected)
        } else {
            Issue.record("no remote-write source was built")
        }
        let otlp = buildComponent(OTLPSource.definition, at: "sources.otel", keys)
        #expect(otlp.errors == [])
        if case .source(let source as OTLPSource, _)? = otlp.built {
            #expect(source.config.listener == expected)
        } else {
            Issue.record("no otlp source was built")
        }
        let defaults = HTTPListenerLimits()
        #expect(defaults.maxConnections == 4096)
        #expect(defaults.requestHeaderTimeout == .seconds(10))
        #expect(defaults.requestBodyTimeout == .seconds(30))
        #expect(defaults.idleTimeout == .seconds(60))
        let zero = buildComponent(
            RemoteWriteSource.definition, at: "sources.rw", componentConfig(["idle_timeout": "0s"]))
        #expect(zero.errors == ["petrel.yaml: sources.rw.idle_timeout: must be longer than 0s"])
    }
}
