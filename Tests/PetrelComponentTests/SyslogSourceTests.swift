import Logging
import PetrelCore
import PetrelTestSupport
import Synchronization
import Testing

@testable import PetrelSources

#if canImport(Glibc)
import Glibc
#endif

/// The `syslog` source in-process on loopback ports: its settings, TCP framing, backpressure and UDP drops.
@Suite struct SyslogSourceTests {
    // MARK: Configuration

    private func build(_ node: ConfigNode) -> (source: SyslogSource?, errors: [String]) {
        let outcome = buildComponent(SyslogSource.definition, at: "sources.syslog", node)
        guard case .source(let source, let emits)? = outcome.built else { return (nil, outcome.errors) }
        #expect(emits == .logs)
        return (source as? SyslogSource, outcome.errors)
    }

    @Test func defaults() throws {
        let result = build(componentConfig([:]))
        #expect(result.errors == [])
        let config = try #require(result.source).config
        #expect(config.mode == .tcp)
        #expect(config.address == HostPort(host: "0.0.0.0", port: 514))
        #expect(config.maxMessageBytes == 100 * 1024)
        #expect(config.timezone == "UTC")
        #expect(config.maxConnections == 4096)
        #expect(config.idleTimeout == nil)
        #expect(config.security.tls == nil)
    }

    @Test func everySetting() throws {
        let result = build(
            componentConfig([
                "mode": "tcp", "address": "127.0.0.1:6514", "max_message_bytes": "8KiB",
                "timezone": "Europe/Paris", "max_connections": 10, "idle_timeout": "5m",
            ]))
        #expect(result.errors == [])
        let config = try #require(result.source).config
        #expect(config.address == HostPort(host: "127.0.0.1", port: 6514))
        #expect(config.maxMessageBytes == 8192)
        #expect(config.timezone == "Europe/Paris")
        #expect(config.maxConnections == 10)
        #expect(config.idleTimeout == .seconds(300))
    }

    @Test func timeZones() throws {
        let paris = try #require(SyslogSourceConfig.utcOffset("Europe/Paris"))
        #expect(paris(1_796_601_600) == 3600, "CET in December")
        #expect(paris(1_783_000_000) == 7200, "CEST in July")
        let india = try #require(SyslogSourceConfig.utcOffset("-05:30"))
        #expect(india(0) == -(5 * 3600 + 1800))
        let utc = try #require(SyslogSourceConfig.utcOffset("UTC"))
        #expect(utc(0) == 0)
        #expect(SyslogSourceConfig.utcOffset("Mars/Olympus") == nil)
    }

    @Test func errorsNameTheirKeys() {
        #expect(
            build(componentConfig(["mode": "unix"])).errors == [
                "petrel.yaml: sources.syslog.mode: expected one of tcp, udp, found \"unix\""
            ])
        #expect(
            build(componentConfig(["timezone": "Mars/Olympus"])).errors == [
                "petrel.yaml: sources.syslog.timezone: unknown time zone \"Mars/Olympus\"; expected UTC, an IANA name "
                    + "(Europe/Paris) or +hh:mm"
            ])
        #expect(
            build(componentConfig(["mode": "udp", "max_connections": 3])).errors == [
                "petrel.yaml: sources.syslog.max_connections: applies to mode tcp only"
            ])
        #expect(
            build(componentConfig(["auth": ["strategy": "bearer", "token_file": "/x"]])).errors == [
                "petrel.yaml: sources.syslog.auth: syslog carries no credentials; require client certificates with "
                    + "tls.verify_certificate and ca_file"
            ])
        #expect(build(componentConfig(["max_message_bytes": 0])).errors.count == 1)
        #expect(build(componentConfig(["max_length": 10])).errors.count == 1, "unknown keys are rejected")
    }

    // MARK: Running

    /// A running source whose output is one queue the test reads.
    final class Running: Sendable {
        let port: Int
        let queue: BatchQueue
        let telemetry: ComponentTelemetry
        let shutdown = ShutdownSignal()
        let task: Task<Void, any Error>

        init(_ mode: SyslogSourceConfig.Mode = .tcp, maxMessageBytes: Int = 1024, queueCapacity: Int = 64)
            async throws
        {
            var config = SyslogSourceConfig()
            config.mode = mode
            config.maxMessageBytes = maxMessageBytes
            port = freePort()
            config.address = HostPort(host: "127.0.0.1", port: port)
            queue = BatchQueue(capacity: queueCapacity, producers: 1)
            telemetry = componentTestTelemetry(id: "syslog", type: "syslog", kind: .source)
            let ready = Atomic<Bool>(false)
            let context = SourceContext(
                id: "syslog", output: Output(edges: [.init(queue: queue, accepts: .all)], telemetry: telemetry),
                telemetry: telemetry, logger: Logger(label: "test"), shutdown: shutdown,
                onReady: { ready.store(true, ordering: .relaxed) })
            let source = SyslogSource(config: config)
            task = Task { try await source.run(context) }
            guard await componentEventually({ ready.load(ordering: .relaxed) }) else {
                throw TestSupportError("the source did not start")
            }
        }

        /// Records from the queue until `count` arrived (or nothing more comes within the timeout).
        func records(_ count: Int, timeout: Duration = .seconds(30)) async -> [LogRecord] {
            var records: [LogRecord] = []
            let deadline = ContinuousClock.now + timeout
            while records.count < count, ContinuousClock.now < deadline {
                if case .logs(let batch)? = await queue.nextBatch() { records += batch.records }
            }
            return records
        }

        func metric(_ name: String) -> Int64? {
            telemetry.registry.value(name, labels: [("component_id", "syslog"), ("component_type", "syslog")])
        }

        func stop() async throws {
            shutdown.trigger()
            try await task.value
        }
    }

    @Test func tcpFramesOfBothKindsOnOneConnectionArriveFieldByField() async throws {
        let source = try await Running()
        let text =
            "76 <165>1 2003-10-11T22:14:15.003Z host app 12 ID47 [ex@1 a=\"b\\\"c\"] counted one"
            + "<13>Dec  7 01:02:03 web-1 cron[9]: newline two\nnot syslog at all\n"
        #expect(text.utf8.count > 76)
        let sent = await offload {
            guard let connection = RawConnection(port: source.port) else { return false }
            defer { connection.close() }
            return connection.send(text)
        }
        #expect(sent)
        let records = await source.records(3)
        try #require(records.count == 3)
        #expect(records[0].message == "counted one")
        #expect(records[0].severity == "notice")
        #expect(records[0].fields["hostname"] == .string("host"))
        #expect(records[0].field(path: "structured_data.ex@1.a") == .string("b\"c"))
        #expect(records[0].metadata["source_ip"] == "127.0.0.1")
        #expect(records[1].message == "newline two")
        #expect(records[1].fields["appname"] == .string("cron"))
        #expect(records[2].message == "not syslog at all")
        #expect(records[2].severity == "")
        #expect(source.metric("petrel_syslog_messages_total") == 3)
        #expect(source.metric("petrel_syslog_parse_failures_total") == 1)
        #expect(source.telemetry.receivedEvents.value == 3)
        #expect(source.telemetry.receivedBytes.value == UInt64(text.utf8.count))
        try await source.stop()
    }

    @Test func aTruncatedOctetCountAtCloseIsCountedAndWhatArrivedKept() async throws {
        let source = try await Running()
        await offload {
            guard let connection = RawConnection(port: source.port) else { return }
            connection.send("40 <13>1 - - - - - - cut off by the sender")
            connection.close()
        }
        let records = await source.records(1)
        #expect(records.map(\.message) == ["cut off by the sender"])
        #expect(
            await componentEventually { source.metric("petrel_syslog_incomplete_frames_total") == 1 },
            "the cut-off frame is counted")
        try await source.stop()
    }

    @Test func anOverlongMessageIsCutToTheLimitAndCounted() async throws {
        let source = try await Running(maxMessageBytes: 16)
        await offload {
            guard let connection = RawConnection(port: source.port) else { return }
            defer { connection.close() }
            connection.send("<13>0123456789abcdefghij\n<13>short\n")
        }
        let records = await source.records(2)
        #expect(records.map(\.message) == ["0123456789ab", "short"])
        #expect(source.metric("petrel_syslog_truncated_messages_total") == 1)
        try await source.stop()
    }

    @Test func aFullPipelineHoldsTheTCPSenderBackAndLosesNothing() async throws {
        // One batch fits in the queue: the connection must wait for the test to take each one.
        let source = try await Running(queueCapacity: 1)
        let count = 5000
        let sender = Task {
            await offload {
                guard let connection = RawConnection(port: source.port) else { return false }
                defer { connection.close() }
                var text = ""
                for index in 0..<count { text += "<14>1 - - - - - - message \(index)\n" }
                return connection.send(text)
            }
        }
        // Nothing is taken for a while: the source must stop reading, not drop.
        try await Task.sleep(for: .milliseconds(300))
        let records = await source.records(count)
        #expect(await sender.value)
        #expect(records.count == count)
        #expect(records.map(\.message) == (0..<count).map { "message \($0)" })
        #expect(source.telemetry.discardedEvents == 0)
        try await source.stop()
    }

    @Test func shutdownEndsAnOpenConnectionAfterItsRecordsAreSentOn() async throws {
        let source = try await Running()
        let connection = try #require(await offload { RawConnection(port: source.port) })
        defer { connection.close() }
        #expect(await offload { connection.send("<13>1 - - - - - - before shutdown\n") })
        #expect(await source.records(1).map(\.message) == ["before shutdown"])
        // The sender keeps its connection open: shutdown must still end, and closing it is no error.
        try await source.stop()
        #expect(await offload { connection.closedByServer(within: .seconds(10)) })
        let errors = source.telemetry.registry.value(
            "petrel_component_errors_total",
            labels: [
                ("component_id", "syslog"), ("component_kind", "source"), ("component_type", "syslog"),
                ("stage", "receiving"),
            ])
        #expect(errors == 0)
    }

    @Test func udpDatagramsArriveAndWhatAFullPipelineCannotTakeIsCounted() async throws {
        let source = try await Running(.udp, queueCapacity: 1)
        let count = 50
        let sent = await offload { sendDatagrams(port: source.port, count: count) }
        #expect(sent == count)
        // The queue holds one batch; whatever else came while it was full was dropped and counted.
        #expect(
            await componentEventually {
                let messages = source.metric("petrel_syslog_messages_total") ?? 0
                return messages == Int64(count)
            })
        let queued = await source.records(1, timeout: .seconds(5))
        let dropped = source.metric("petrel_syslog_udp_dropped_messages_total") ?? -1
        #expect(Int64(queued.count) + dropped == Int64(count))
        #expect(queued.first?.fields["appname"] == .string("udp"))
        #expect(source.telemetry.discardedEvents == Int(dropped))
        try await source.stop()
    }

    /// Sends `count` RFC 5424 datagrams to 127.0.0.1:`port`; returns how many went out.
    private func sendDatagrams(port: Int, count: Int) -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var sent = 0
        for index in 0..<count {
            let bytes = Array("<14>1 - host udp - - - datagram \(index)".utf8)
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if result == bytes.count { sent += 1 }
        }
        return sent
    }
}
