import Foundation
import PetrelCore
import PetrelTestSupport
import Testing

/// TLS and mutual TLS on Petrel's listeners and clients, checked with peers nobody here wrote: certificates made by
/// the `openssl` CLI, `openssl s_client` as the foreign client, vmagent and Prometheus sending, VictoriaMetrics
/// receiving over HTTPS.
/// Each test stops what it started at its end; if it ends early, `PetrelProcess` and `VictoriaMetrics` stop their
/// process by its PID when released.
@Suite(.serialized) struct TLSTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "petrel-tls-test-\(UUID().uuidString)")

    /// `openssl s_client` sending one HTTP request; `arguments` pick the protocol and the client certificate.
    private func sClient(port: Int, _ arguments: [String], request: String = "GET /nowhere") async -> CommandResult? {
        await offload {
            guard let openssl = try? findExecutable("openssl") else { return nil }
            return try? runCommand(
                openssl,
                ["s_client", "-connect", "127.0.0.1:\(port)", "-brief", "-ign_eof"] + arguments,
                input: "\(request) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout: .seconds(20))
        }
    }

    /// A remote-write source on `port` that requires a client certificate of the test CA.
    private func mutualTLSSource(port: Int, server: (crt: String, key: String), certificates: TestCertificates)
        -> String
    {
        """
        sources:
          rw:
            type: prometheus_remote_write
            address: "127.0.0.1:\(port)"
            tls: { crt_file: \(server.crt), key_file: \(server.key), ca_file: \(certificates.path("ca.crt")), verify_certificate: true }
        """
    }

    /// Starts a peer nobody here wrote (its output discarded); `stopProcess` ends it by its PID.
    private func startProcess(_ executable: URL, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    private func stopProcess(_ process: Process) {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    private func answered(_ result: CommandResult?) -> Bool {
        result?.output.contains("HTTP/1.1 404") == true
    }

    @Test func mutualTLS13IsServedAndOldOrAnonymousClientsAreRefused() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates()
        let server = try certificates.issue("server", commonName: "petrel-server")
        let client = try certificates.issue("client", commonName: "vmagent")
        let rogue = try certificates.issue("rogue", commonName: "intruder", by: "rogue-ca")
        let port = freePort()
        let petrel = try PetrelProcess(
            config: """
                sources:
                  rw:
                    type: prometheus_remote_write
                    address: "127.0.0.1:\(port)"
                    tls:
                      crt_file: \(server.crt)
                      key_file: \(server.key)
                      ca_file: \(certificates.path("ca.crt"))
                      verify_certificate: true
                      min_version: "1.3"
                sinks:
                  out: { type: blackhole, inputs: [rw] }
                """, directory: directory)
        try await petrel.start()
        let ca = ["-CAfile", certificates.path("ca.crt"), "-verify_return_error"]

        let trusted = await sClient(port: port, ca + ["-cert", client.crt, "-key", client.key, "-tls1_3"])
        #expect(trusted?.errors.contains("Protocol version: TLSv1.3") == true, "\(trusted?.errors ?? "")")
        #expect(answered(trusted), "a client with a certificate of the CA is served: \(trusted?.output ?? "")")

        let anonymous = await sClient(port: port, ca + ["-tls1_3"])
        #expect(!answered(anonymous), "a client without a certificate is refused")
        #expect(anonymous?.errors.contains("certificate required") == true, "\(anonymous?.errors ?? "")")

        let stranger = await sClient(port: port, ca + ["-cert", rogue.crt, "-key", rogue.key, "-tls1_3"])
        #expect(!answered(stranger), "a certificate of another CA is refused")

        let old = await sClient(port: port, ca + ["-cert", client.crt, "-key", client.key, "-tls1_2"])
        #expect(!answered(old), "TLS 1.2 is refused under min_version 1.3")
        #expect(old?.status != 0)

        let plain = await httpRequest(port: port, path: "/nowhere")
        #expect(plain?.status == nil, "plain HTTP gets no HTTP answer on a TLS listener")
        #expect(await petrel.stop() == 0)
    }

    @Test func vmagentSendsOverMutualTLSAndPetrelWritesToVictoriaMetricsOverHTTPS() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates()
        let server = try certificates.issue("server", commonName: "petrel")
        let client = try certificates.issue("client", commonName: "vmagent")
        let backend = try certificates.issue("vm", commonName: "victoria-metrics")
        let vm = VictoriaMetrics(tls: (backend.crt, backend.key, certificates.path("ca.crt")))
        try await vm.start()
        let port = freePort()
        let petrel = try PetrelProcess(
            config: """
                \(mutualTLSSource(port: port, server: server, certificates: certificates))
                sinks:
                  vm:
                    type: prometheus_remote_write
                    inputs: [rw]
                    endpoints: ["\(vm.writeURL)"]
                    batch: { max_age: 100ms }
                    tls: { ca_file: \(certificates.path("ca.crt")), crt_file: \(client.crt), key_file: \(client.key) }
                """, directory: directory)
        try await petrel.start()

        let vmagentPort = freePort()
        let vmagent = try startProcess(
            try findExecutable("vmagent"),
            [
                "-httpListenAddr=127.0.0.1:\(vmagentPort)", "-remoteWrite.url=https://127.0.0.1:\(port)/api/v1/write",
                "-remoteWrite.tlsCAFile=\(certificates.path("ca.crt"))", "-remoteWrite.tlsCertFile=\(client.crt)",
                "-remoteWrite.tlsKeyFile=\(client.key)", "-remoteWrite.flushInterval=100ms",
                "-remoteWrite.tmpDataPath=\(directory.path)/vmagent", "-loggerLevel=ERROR",
            ])
        defer { stopProcess(vmagent) }
        var ready = false
        for _ in 0..<100 where !ready {
            ready = await httpGet(port: vmagentPort, path: "/health")?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "vmagent started")

        let timestamp = (Int64(Date().timeIntervalSince1970) - 60) * 1000
        let lines = (0..<20).map { "tls_chain_test{series=\"\($0)\"} \($0 * 10 + 1) \(timestamp)" }
        let pushed = await httpRequest(
            port: vmagentPort, method: "POST", path: "/api/v1/import/prometheus",
            body: Array(lines.joined(separator: "\n").utf8))
        #expect(pushed?.status == 204)

        var landed: [VictoriaMetrics.ExportedSeries] = []
        for _ in 0..<60 where landed.count < 20 {
            landed = try await vm.export("{__name__=\"tls_chain_test\"}")
            if landed.count < 20 { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(landed.count == 20)
        for series in landed {
            let number = Int(series.labels["series"] ?? "") ?? -1
            #expect(series.values == [Double(number * 10 + 1)])
            #expect(series.timestamps == [timestamp])
        }
        await petrel.stop()
        await vm.stop()
    }

    @Test func prometheusRemoteWritesWithTLSConfig() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates()
        let server = try certificates.issue("server", commonName: "petrel")
        let client = try certificates.issue("client", commonName: "prometheus")
        let vm = VictoriaMetrics()
        try await vm.start()
        let port = freePort()
        let petrel = try PetrelProcess(
            config: """
                \(mutualTLSSource(port: port, server: server, certificates: certificates))
                sinks:
                  vm: { type: prometheus_remote_write, inputs: [rw], endpoints: ["\(vm.writeURL)"], batch: { max_age: 100ms } }
                """, directory: directory)
        try await petrel.start()

        let prometheusPort = freePort()
        let configFile = directory.appendingPathComponent("prometheus.yml")
        try """
        global: { scrape_interval: 1s }
        scrape_configs:
          - job_name: tls_self
            static_configs: [{ targets: ["127.0.0.1:\(prometheusPort)"] }]
        remote_write:
          - url: https://127.0.0.1:\(port)/api/v1/write
            tls_config: { ca_file: \(certificates.path("ca.crt")), cert_file: \(client.crt), key_file: \(client.key) }
            queue_config: { batch_send_deadline: 1s }
        """.write(to: configFile, atomically: true, encoding: .utf8)
        let prometheus = try startProcess(
            try findExecutable("prometheus"),
            [
                "--config.file=\(configFile.path)", "--storage.tsdb.path=\(directory.path)/prometheus",
                "--web.listen-address=127.0.0.1:\(prometheusPort)", "--log.level=error",
            ])
        defer { stopProcess(prometheus) }

        var landed: [VictoriaMetrics.ExportedSeries] = []
        for _ in 0..<90 where landed.isEmpty {
            landed = try await vm.export("{__name__=\"up\",job=\"tls_self\"}")
            if landed.isEmpty { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(landed.count == 1, "Prometheus's own `up` arrived through the mutual-TLS listener")
        #expect(landed.first?.values.allSatisfy { $0 == 1 } == true)
        #expect(landed.first?.labels["instance"] == "127.0.0.1:\(prometheusPort)")
        await petrel.stop()
        await vm.stop()
    }

    @Test func aReplacedCertificateIsServedToNewConnectionsAndOpenOnesKeepTheirs() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates()
        let first = try certificates.issue("first", commonName: "petrel-first")
        try certificates.issue("second", commonName: "petrel-second")
        // The listener reads the files at fixed paths, as a secret mount presents them.
        let crt = certificates.path("served.crt")
        let key = certificates.path("served.key")
        try FileManager.default.copyItem(atPath: first.crt, toPath: crt)
        try FileManager.default.copyItem(atPath: first.key, toPath: key)
        let port = freePort()
        let petrel = try PetrelProcess(
            config: """
                sources:
                  rw:
                    type: prometheus_remote_write
                    address: "127.0.0.1:\(port)"
                    tls: { crt_file: \(crt), key_file: \(key) }
                sinks:
                  out: { type: blackhole, inputs: [rw] }
                """, directory: directory)
        try await petrel.start()
        let ca = ["-CAfile", certificates.path("ca.crt"), "-verify_return_error"]

        let open = try OpenTLSSession(port: port, caFile: certificates.path("ca.crt"))
        defer { open.close() }
        #expect(try await open.request("GET /nowhere").contains("HTTP/1.1 404"))
        #expect(open.peer.contains("petrel-first"))

        let before = await sClient(port: port, ca)
        #expect(before?.errors.contains("CN = petrel-first") == true, "\(before?.errors ?? "")")

        // Swapped the way a secret mount swaps them: new files renamed into place.
        try replace(crt, with: certificates.path("second.crt"))
        try replace(key, with: certificates.path("second.key"))
        try await Task.sleep(for: .milliseconds(1500))
        let after = await sClient(port: port, ca)
        #expect(after?.errors.contains("CN = petrel-second") == true, "\(after?.errors ?? "")")
        #expect(answered(after))
        #expect(try await open.request("GET /nowhere").contains("HTTP/1.1 404"), "the open connection still works")

        // A broken file is logged and the certificate in use kept.
        try "not a certificate".write(toFile: crt + ".new", atomically: true, encoding: .utf8)
        try replace(crt, with: crt + ".new")
        try await Task.sleep(for: .milliseconds(1500))
        let broken = await sClient(port: port, ca)
        #expect(broken?.errors.contains("CN = petrel-second") == true, "\(broken?.errors ?? "")")
        #expect(petrel.logText.contains("keeping the previous certificate"))
        await petrel.stop()
    }

    @Test func bearerTokensAreCheckedAndReReadWhenTheFileChanges() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tokenFile = directory.appendingPathComponent("token").path
        try "first-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let port = freePort()
        let petrel = try PetrelProcess(
            config: """
                sources:
                  rw:
                    type: prometheus_remote_write
                    address: "127.0.0.1:\(port)"
                    auth: { strategy: bearer, token_file: \(tokenFile) }
                sinks:
                  out: { type: blackhole, inputs: [rw] }
                """, directory: directory)
        try await petrel.start()
        let series = [
            TestSeries(labels: ["__name__": "auth_test"], samples: [Sample(timestamp: baseTimestamp, value: 1)])
        ]
        func push(_ token: String?) async -> LoopbackResponse? {
            var headers = RemoteWriteRequest.headers()
            if let token { headers["Authorization"] = "Bearer \(token)" }
            return await httpRequest(
                port: port, method: "POST", path: "/api/v1/write", headers: headers,
                body: RemoteWriteRequest.body(series))
        }

        let anonymous = await push(nil)
        #expect(anonymous?.status == 401)
        #expect(anonymous?.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        #expect(await push("wrong-secret")?.status == 401)
        #expect(await push("first-secret")?.status == 204)
        let received =
            "petrel_component_received_events_total{component_id=\"rw\",component_kind=\"source\",component_type=\"prometheus_remote_write\"}"
        #expect(await petrel.metric(received) == 1, "only the authorized request was read")

        try "second-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(1500))
        #expect(await push("first-secret")?.status == 401)
        #expect(await push("second-secret")?.status == 204)
        await petrel.stop()
    }

    @Test func theAPIServesTLSAndAsksForCredentialsExceptOnProbes() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates()
        let server = try certificates.issue("api", commonName: "petrel-api")
        try "hunter2".write(toFile: certificates.path("password"), atomically: true, encoding: .utf8)
        let apiPort = freePort()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configFile = directory.appendingPathComponent("petrel.yaml")
        try """
        api:
          address: "127.0.0.1:\(apiPort)"
          tls: { crt_file: \(server.crt), key_file: \(server.key) }
          auth: { strategy: basic, username: prometheus, password_file: \(certificates.path("password")) }
        sources:
          demo: { type: demo, interval: 1h }
        sinks:
          out: { type: blackhole, inputs: [demo] }
        """.write(to: configFile, atomically: true, encoding: .utf8)
        let petrel = try startProcess(PetrelProcess.binary, ["run", "--config", configFile.path])
        defer { stopProcess(petrel) }
        let base = "https://127.0.0.1:\(apiPort)"
        let ca = certificates.path("ca.crt")
        var health: LoopbackResponse?
        for _ in 0..<100 where health?.status != 200 {
            health = await curlGet("\(base)/ready", caFile: ca)
            if health?.status != 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(health?.status == 200, "probes need no credentials")
        #expect(await curlGet("\(base)/metrics", caFile: ca)?.status == 401)
        let wrong = await curlGet(
            "\(base)/metrics", caFile: ca, headers: ["Authorization: Basic cHJvbWV0aGV1czpodW50ZXIz"])
        #expect(wrong?.status == 401)
        // base64("prometheus:hunter2")
        let metrics = await curlGet(
            "\(base)/metrics", caFile: ca, headers: ["Authorization: Basic cHJvbWV0aGV1czpodW50ZXIy"])
        #expect(metrics?.status == 200)
        #expect(metrics?.text.contains("petrel_component_sent_events_total") == true)
        #expect(await httpGet(port: apiPort, path: "/health") == nil, "no plain HTTP on the TLS port")
    }

    @Test func validateNamesTheBrokenTLSAndAuthKeys() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates()
        let server = try certificates.issue("server", commonName: "petrel")
        let other = try certificates.issue("other", commonName: "other")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configFile = directory.appendingPathComponent("broken.yaml")
        try """
        sources:
          missing:
            type: prometheus_remote_write
            address: "127.0.0.1:0"
            tls: { crt_file: /nonexistent/server.crt, key_file: \(server.key) }
          mismatched:
            type: prometheus_remote_write
            address: "127.0.0.1:0"
            tls: { crt_file: \(server.crt), key_file: \(other.key) }
          anyone:
            type: otlp
            grpc_address: "127.0.0.1:0"
            http_address: "127.0.0.1:0"
            tls: { crt_file: \(server.crt), key_file: \(server.key), verify_certificate: true }
            auth: { strategy: bearer, token_file: /nonexistent/token }
        sinks:
          out: { type: blackhole, inputs: [missing, mismatched, anyone] }
        """.write(to: configFile, atomically: true, encoding: .utf8)
        let result = try runCommand(PetrelProcess.binary, ["validate", "--config", configFile.path])
        #expect(result.status == 1)
        let errors = result.errors
        #expect(errors.contains("sources.missing.tls.crt_file"), "\(errors)")
        #expect(errors.contains("/nonexistent/server.crt"))
        #expect(errors.contains("sources.mismatched.tls.key_file"), "\(errors)")
        #expect(errors.contains("sources.anyone.tls.verify_certificate"), "\(errors)")
        #expect(errors.contains("sources.anyone.auth.token_file"), "\(errors)")
        #expect(errors.contains("broken.yaml:"), "errors carry the file and line: \(errors)")
    }

    private func replace(_ path: String, with source: String) throws {
        let staged = path + ".staged"
        try? FileManager.default.removeItem(atPath: staged)
        try FileManager.default.copyItem(atPath: source, toPath: staged)
        guard rename(staged, path) == 0 else { throw TestSupportError("cannot rename \(staged) to \(path)") }
    }
}

/// One `openssl s_client` connection kept open across requests, stopped by its PID.
private final class OpenTLSSession: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errors = Pipe()
    private var received = ""

    init(port: Int, caFile: String) throws {
        process.executableURL = try findExecutable("openssl")
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caFile, "-brief", "-ign_eof"]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
    }

    /// What s_client said about the server's certificate.
    var peer: String { String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self) }

    /// Sends a keep-alive request and returns what arrived until its answer.
    func request(_ line: String) async throws -> String {
        input.fileHandleForWriting.write(Data("\(line) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        let before = received.components(separatedBy: "HTTP/1.1 ").count
        let handle = output.fileHandleForReading
        for _ in 0..<50 {
            let chunk = await offload { handle.availableData }
            received += String(decoding: chunk, as: UTF8.self)
            if received.components(separatedBy: "HTTP/1.1 ").count > before { return received }
        }
        throw TestSupportError("no answer on the open TLS connection; got \(received)")
    }

    func close() {
        try? input.fileHandleForWriting.close()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
