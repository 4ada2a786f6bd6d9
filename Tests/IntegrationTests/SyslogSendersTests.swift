import Foundation
import PetrelTestSupport
import Testing

/// The `syslog` source in the real binary, fed by real senders on loopback: util-linux `logger` (RFC 3164 and 5424,
/// UDP, TCP with newlines and with octet counting), rsyslog (imfile → omfwd: octet-counted RFC 5424 over TCP and
/// TLS with a client certificate, UDP) and syslog-ng (`syslog()`: octet-counted RFC 5424 over TCP; `network()`:
/// RFC 3164 over UDP). Every message must arrive in a `file` sink once, field by field.
@Suite(.serialized) struct SyslogSendersTests {
    /// Petrel with a `syslog` source on a port of its own and a `file` sink, in a temp dir.
    final class Pipeline: @unchecked Sendable {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "petrel-syslog-\(UUID().uuidString)")
        let port = freePort()
        let petrel: PetrelProcess
        var output: URL { directory.appendingPathComponent("out/syslog.ndjson") }

        init(mode: String, extra: String = "") async throws {
            petrel = try PetrelProcess(
                config: """
                    data_dir: \(directory.path)/data
                    sources:
                      syslog:
                        type: syslog
                        mode: \(mode)
                        address: "127.0.0.1:\(port)"
                    \(extra)
                    sinks:
                      out: { type: file, inputs: [syslog], path: "\(directory.path)/out/syslog.ndjson" }
                    """, directory: directory)
            try await petrel.start()
        }

        /// The records written so far, one JSON object per line.
        func records() -> [[String: Any]] {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        /// Waits until `count` records are in the file (or `timeout` passes), then returns what is there.
        func records(_ count: Int, timeout: Duration = .seconds(60)) async -> [[String: Any]] {
            let deadline = ContinuousClock.now + timeout
            while records().count < count, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(100))
            }
            return records()
        }

        func metric(_ name: String) async -> Double? {
            await petrel.metric("\(name){component_id=\"syslog\",component_type=\"syslog\"}")
        }

        func finish() async {
            #expect(await petrel.stop() == 0, "a clean stop: \(petrel.logText)")
            try? FileManager.default.removeItem(at: directory)
        }
    }

    private static func fields(_ record: [String: Any]) -> [String: Any] { record["fields"] as? [String: Any] ?? [:] }

    // MARK: logger (util-linux)

    private func logger(_ arguments: [String]) throws {
        let result = try runCommand(try findExecutable("logger"), arguments)
        #expect(result.status == 0, "logger \(arguments): \(result.errors)")
    }

    @Test func loggerRFC5424OverTCPWithOctetCounting() async throws {
        let pipeline = try await Pipeline(mode: "tcp")
        try logger([
            "--rfc5424", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P", "\(pipeline.port)", "-t", "billing",
            "-p", "local3.warning", "--msgid", "INVOICE", "--sd-id", "order@32473", "--sd-param", #"id="42""#,
            "--sd-param", #"note="a \"quoted\" \] value""#, "invoice 42 sent",
        ])
        let records = await pipeline.records(1)
        try #require(records.count == 1, "\(records)")
        let record = records[0]
        let fields = Self.fields(record)
        #expect(record["message"] as? String == "invoice 42 sent")
        #expect(record["severity"] as? String == "warning")
        #expect(fields["facility"] as? String == "local3")
        #expect(fields["appname"] as? String == "billing")
        #expect(fields["msgid"] as? String == "INVOICE")
        #expect(fields["hostname"] as? String == localHostName)
        let data = fields["structured_data"] as? [String: Any]
        let order = data?["order@32473"] as? [String: String]
        #expect(order == ["id": "42", "note": #"a "quoted" ] value"#])
        #expect(data?["timeQuality"] != nil, "logger's own element")
        #expect((record["metadata"] as? [String: String])?["source_ip"] == "127.0.0.1")
        await pipeline.finish()
    }

    @Test func loggerRFC3164OverTCPWithNewlines() async throws {
        let pipeline = try await Pipeline(mode: "tcp")
        for index in 0..<3 {
            try logger([
                "--rfc3164", "--tcp", "-n", "127.0.0.1", "-P", "\(pipeline.port)", "-t", "cron", "-i", "-p",
                "cron.info", "job \(index) done",
            ])
        }
        let records = await pipeline.records(3)
        #expect(records.compactMap { $0["message"] as? String }.sorted() == ["job 0 done", "job 1 done", "job 2 done"])
        for record in records {
            let fields = Self.fields(record)
            #expect(record["severity"] as? String == "info")
            #expect(fields["facility"] as? String == "cron")
            #expect(fields["appname"] as? String == "cron")
            #expect(fields["procid"] != nil, "-i sends logger's PID")
            #expect(fields["hostname"] as? String == localHostName)
        }
        await pipeline.finish()
    }

    @Test func loggerRFC3164AndRFC5424OverUDP() async throws {
        let pipeline = try await Pipeline(mode: "udp")
        try logger(["--rfc3164", "--udp", "-n", "127.0.0.1", "-P", "\(pipeline.port)", "-t", "old", "bsd message"])
        try logger(["--rfc5424", "--udp", "-n", "127.0.0.1", "-P", "\(pipeline.port)", "-t", "new", "ietf message"])
        let records = await pipeline.records(2)
        let byApp = Dictionary(
            records.map { (Self.fields($0)["appname"] as? String ?? "?", $0["message"] as? String ?? "?") },
            uniquingKeysWith: { $0 + "|" + $1 })
        #expect(byApp == ["old": "bsd message", "new": "ietf message"])
        #expect(await pipeline.metric("petrel_syslog_parse_failures_total") == 0)
        await pipeline.finish()
    }

    @Test func malformedSyslogIsKeptRawAndCounted() async throws {
        let pipeline = try await Pipeline(mode: "tcp")
        await offload {
            guard let connection = RawConnection(port: pipeline.port) else { return }
            connection.send("this is not syslog\n<13>1 broken-time host app - - - x\n")
            // A count announcing more than the sender sends before closing.
            connection.send("500 <13>1 - host app - - - cut short")
            connection.close()
        }
        let records = await pipeline.records(3)
        #expect(
            records.compactMap { $0["message"] as? String } == [
                "this is not syslog", "<13>1 broken-time host app - - - x", "cut short",
            ])
        #expect(await pipeline.metric("petrel_syslog_parse_failures_total") == 2)
        #expect(await pipeline.metric("petrel_syslog_incomplete_frames_total") == 1)
        await pipeline.finish()
    }

    // MARK: rsyslog

    /// The lines the relays read from a file and forward: quotes, brackets and backslashes must survive.
    private static func lines(_ count: Int, _ name: String) -> [String] {
        (0..<count).map { #"\#(name) line \#($0) with "quotes", ] brackets and a \ backslash"# }
    }

    private func runRsyslog(_ directory: URL, forward action: String, global: String = "") throws -> Daemon {
        let config = """
            global(workDirectory="\(directory.path)" \(global))
            module(load="imfile" mode="polling" PollingInterval="1")
            input(type="imfile" File="\(directory.path)/input.log" Tag="rsyslog-test" Facility="local1"
                  Severity="notice")
            \(action)
            """
        try config.write(to: directory.appendingPathComponent("rsyslog.conf"), atomically: true, encoding: .utf8)
        return try Daemon(
            executable: try findExecutable("rsyslogd"),
            arguments: [
                "-n", "-f", directory.appendingPathComponent("rsyslog.conf").path, "-i",
                directory.appendingPathComponent("rsyslogd.pid").path,
            ], directory: directory)
    }

    private func expectRelayed(
        _ records: [[String: Any]], _ lines: [String], app: String, severity: String, facility: String
    ) {
        #expect(records.compactMap { $0["message"] as? String }.sorted() == lines.sorted())
        #expect(records.count == lines.count, "each line once")
        for record in records {
            let fields = Self.fields(record)
            #expect(record["severity"] as? String == severity)
            #expect(fields["facility"] as? String == facility)
            #expect(fields["appname"] as? String == app)
            #expect(fields["hostname"] as? String == localHostName)
        }
    }

    @Test func rsyslogForwardsOctetCountedRFC5424OverTCP() async throws {
        let pipeline = try await Pipeline(mode: "tcp")
        let work = pipeline.directory.appendingPathComponent("rsyslog")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let lines = Self.lines(200, "rsyslog tcp")
        try (lines.joined(separator: "\n") + "\n").write(
            to: work.appendingPathComponent("input.log"), atomically: true, encoding: .utf8)
        let rsyslog = try runRsyslog(
            work,
            forward: """
                action(type="omfwd" target="127.0.0.1" port="\(pipeline.port)" protocol="tcp"
                       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
                """)
        let records = await pipeline.records(lines.count)
        rsyslog.stop()
        expectRelayed(records, lines, app: "rsyslog-test", severity: "notice", facility: "local1")
        #expect(await pipeline.metric("petrel_syslog_parse_failures_total") == 0)
        await pipeline.finish()
    }

    @Test func rsyslogForwardsOverUDP() async throws {
        let pipeline = try await Pipeline(mode: "udp")
        let work = pipeline.directory.appendingPathComponent("rsyslog")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let lines = Self.lines(20, "rsyslog udp")
        try (lines.joined(separator: "\n") + "\n").write(
            to: work.appendingPathComponent("input.log"), atomically: true, encoding: .utf8)
        let rsyslog = try runRsyslog(
            work,
            forward: """
                action(type="omfwd" target="127.0.0.1" port="\(pipeline.port)" protocol="udp"
                       template="RSYSLOG_SyslogProtocol23Format")
                """)
        let records = await pipeline.records(lines.count)
        rsyslog.stop()
        expectRelayed(records, lines, app: "rsyslog-test", severity: "notice", facility: "local1")
        await pipeline.finish()
    }

    @Test func rsyslogForwardsOverTLSWithAClientCertificate() async throws {
        let certificates = try await TestCertificates.make()
        let server = try certificates.issue("server", commonName: "localhost")
        let client = try certificates.issue("client", commonName: "rsyslog")
        let pipeline = try await Pipeline(
            mode: "tcp",
            extra: """
                    tls:
                      crt_file: \(server.crt)
                      key_file: \(server.key)
                      ca_file: \(certificates.path("ca.crt"))
                      verify_certificate: true
                """)
        let work = pipeline.directory.appendingPathComponent("rsyslog")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let lines = Self.lines(50, "rsyslog tls")
        try (lines.joined(separator: "\n") + "\n").write(
            to: work.appendingPathComponent("input.log"), atomically: true, encoding: .utf8)
        let rsyslog = try runRsyslog(
            work,
            forward: """
                action(type="omfwd" target="127.0.0.1" port="\(pipeline.port)" protocol="tcp"
                       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
                       StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/certvalid")
                """,
            global: """
                DefaultNetstreamDriverCAFile="\(certificates.path("ca.crt"))"
                DefaultNetstreamDriverCertFile="\(client.crt)" DefaultNetstreamDriverKeyFile="\(client.key)"
                """)
        let records = await pipeline.records(lines.count)
        rsyslog.stop()
        expectRelayed(records, lines, app: "rsyslog-test", severity: "notice", facility: "local1")
        await pipeline.finish()
    }

    @Test func aTLSSenderWithoutAClientCertificateIsRefused() async throws {
        let certificates = try await TestCertificates.make()
        let server = try certificates.issue("server", commonName: "localhost")
        let pipeline = try await Pipeline(
            mode: "tcp",
            extra: """
                    tls:
                      crt_file: \(server.crt)
                      key_file: \(server.key)
                      ca_file: \(certificates.path("ca.crt"))
                      verify_certificate: true
                """)
        let work = pipeline.directory.appendingPathComponent("rsyslog")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try "never delivered\n".write(
            to: work.appendingPathComponent("input.log"), atomically: true, encoding: .utf8)
        let rsyslog = try runRsyslog(
            work,
            forward: """
                action(type="omfwd" target="127.0.0.1" port="\(pipeline.port)" protocol="tcp"
                       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
                       StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="anon")
                """,
            global: #"DefaultNetstreamDriverCAFile="\#(certificates.path("ca.crt"))""#)
        // rsyslog tries (and is refused) within its first polling interval; a margin well past it.
        try await Task.sleep(for: .seconds(5))
        rsyslog.stop()
        #expect(pipeline.records().isEmpty)
        await pipeline.finish()
    }

    // MARK: syslog-ng

    /// syslog-ng-core unpacked (`make test-deps` puts it in `.deps/syslog-ng`; Debian's package conflicts with
    /// rsyslog's), or `SYSLOG_NG_ROOT`.
    private static var syslogNGRoot: URL? {
        let candidates = [
            ProcessInfo.processInfo.environment["SYSLOG_NG_ROOT"],
            PetrelProcess.packageRoot.appendingPathComponent(".deps/syslog-ng").path, "/opt/syslog-ng",
        ].compactMap { $0 }
        return candidates.map { URL(fileURLWithPath: $0) }.first {
            FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("usr/sbin/syslog-ng").path)
        }
    }

    private func runSyslogNG(_ directory: URL, destination: String) throws -> Daemon {
        let root = try #require(Self.syslogNGRoot, "syslog-ng not found: run make test-deps")
        let config = """
            @version: 3.38
            source s_file {
              file("\(directory.path)/input.log" follow-freq(0.2) flags(no-parse) program-override("syslogng-test")
                   default-facility(local2) default-priority(warning));
            };
            destination d_petrel { \(destination); };
            log { source(s_file); destination(d_petrel); };
            """
        try config.write(to: directory.appendingPathComponent("syslog-ng.conf"), atomically: true, encoding: .utf8)
        let libraries = root.appendingPathComponent("usr/lib/syslog-ng").path
        return try Daemon(
            executable: root.appendingPathComponent("usr/sbin/syslog-ng"),
            arguments: [
                "-F", "-f", directory.appendingPathComponent("syslog-ng.conf").path,
                "--module-path=\(libraries)/3.38", "--persist-file=\(directory.path)/syslog-ng.persist",
                "--pidfile=\(directory.path)/syslog-ng.pid", "--control=\(directory.path)/syslog-ng.ctl",
            ], directory: directory, environment: ["LD_LIBRARY_PATH": libraries])
    }

    @Test func syslogNGForwardsOctetCountedRFC5424OverTCP() async throws {
        let pipeline = try await Pipeline(mode: "tcp")
        let work = pipeline.directory.appendingPathComponent("syslog-ng")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let lines = Self.lines(200, "syslog-ng tcp")
        try (lines.joined(separator: "\n") + "\n").write(
            to: work.appendingPathComponent("input.log"), atomically: true, encoding: .utf8)
        let syslogNG = try runSyslogNG(
            work, destination: #"syslog("127.0.0.1" transport("tcp") port(\#(pipeline.port)))"#)
        let records = await pipeline.records(lines.count)
        syslogNG.stop()
        expectRelayed(records, lines, app: "syslogng-test", severity: "warning", facility: "local2")
        #expect(await pipeline.metric("petrel_syslog_parse_failures_total") == 0)
        await pipeline.finish()
    }

    @Test func syslogNGForwardsRFC3164OverUDP() async throws {
        let pipeline = try await Pipeline(mode: "udp")
        let work = pipeline.directory.appendingPathComponent("syslog-ng")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let lines = Self.lines(20, "syslog-ng udp")
        try (lines.joined(separator: "\n") + "\n").write(
            to: work.appendingPathComponent("input.log"), atomically: true, encoding: .utf8)
        let syslogNG = try runSyslogNG(
            work, destination: #"network("127.0.0.1" transport("udp") port(\#(pipeline.port)))"#)
        let records = await pipeline.records(lines.count)
        syslogNG.stop()
        expectRelayed(records, lines, app: "syslogng-test", severity: "warning", facility: "local2")
        await pipeline.finish()
    }
}

/// This machine's name as `gethostname` gives it, which `logger`, rsyslog and syslog-ng send.
private let localHostName: String = {
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, name.count)
    return String(cString: name)
}()

/// A relay daemon run in the foreground, its output in a log beside its configuration, stopped by its PID.
final class Daemon: @unchecked Sendable {
    private let process = Process()

    init(executable: URL, arguments: [String], directory: URL, environment: [String: String] = [:]) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = directory.appendingPathComponent("daemon.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// SIGTERM by PID, then waits for the exit (SIGKILL after 10 s).
    func stop() {
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}
