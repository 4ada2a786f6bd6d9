import Foundation
import Logging
import NIOHTTP1
import PetrelTestSupport
import Testing

@testable import PetrelNet

/// The streaming GET a watch runs on: chunks as they come over TLS, the read-idle timeout, cancellation.
@Suite struct HTTPStreamingGetTests {
    private func pool(_ server: ScriptedKubernetesAPI) throws -> HTTPConnectionPool {
        var settings = TLSClientSettings()
        settings.caFile = server.caFile
        let tls = try ReloadingTLSContext(settings, applicationProtocols: ["http/1.1"], logger: Logger(label: "test"))
        return HTTPConnectionPool(endpoint: try HTTPEndpoint.parse(server.url).get(), maxIdle: 0, tls: tls)
    }

    private func server() async throws -> (TestCertificates, ScriptedKubernetesAPI) {
        let certificates = try TestCertificates()
        let server = try await ScriptedKubernetesAPI(
            certificates: certificates, token: "t", nodeReply: .json(status: 200, body: "{}"))
        return (certificates, server)
    }

    private let headers = HTTPHeaders([("Authorization", "Bearer t")])

    @Test func theBodyArrivesAsTheServerWritesItAndEndsWithTheResponse() async throws {
        let (certificates, server) = try await server()
        server.enqueue(.stream([.event("one"), .pause, .event("two"), .end]))
        let pool = try pool(server)
        let received = try await pool.stream(
            get: "/api/v1/pods?watch=1", headers: headers, connectTimeout: .seconds(10), idleTimeout: .seconds(30)
        ) { response in
            #expect(response.status == .ok)
            var text = ""
            for try await chunk in response.body {
                text += String(buffer: chunk)
                // The first event is here before the server writes the second.
                if text == "one\n" { server.resume() }
            }
            return text
        }
        await server.stop()
        #expect(received == "one\ntwo\n")
        #expect(server.requests.map(\.target) == ["/api/v1/pods?watch=1"])
        withExtendedLifetime(certificates) {}
    }

    @Test func aServerThatGoesSilentIsATimeoutNotAHang() async throws {
        let (certificates, server) = try await server()
        let pool = try pool(server)
        // Nothing queued: the server sends the head and then nothing.
        await #expect(throws: HTTPClientError.self) {
            try await pool.stream(
                get: "/api/v1/pods?watch=1", headers: headers, connectTimeout: .seconds(10),
                idleTimeout: .milliseconds(300)
            ) { response in
                for try await _ in response.body {}
            }
        }
        await server.stop()
        withExtendedLifetime(certificates) {}
    }

    @Test func aDroppedConnectionIsAnErrorNotAnEnd() async throws {
        let (certificates, server) = try await server()
        server.enqueue(.stream([.event("one"), .drop]))
        let pool = try pool(server)
        await #expect(throws: (any Error).self) {
            try await pool.stream(
                get: "/api/v1/pods?watch=1", headers: headers, connectTimeout: .seconds(10), idleTimeout: .seconds(30)
            ) { response in
                for try await _ in response.body {}
            }
        }
        await server.stop()
        withExtendedLifetime(certificates) {}
    }

    @Test func cancellingTheTaskClosesAHeldStream() async throws {
        let (certificates, server) = try await server()
        let pool = try pool(server)
        let task = Task {
            try await pool.stream(
                get: "/api/v1/pods?watch=1", headers: headers, connectTimeout: .seconds(10), idleTimeout: .seconds(600)
            ) { response in
                for try await _ in response.body {}
            }
        }
        #expect(await server.wait { $0.requests.count == 1 })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        await server.stop()
        withExtendedLifetime(certificates) {}
    }
}
