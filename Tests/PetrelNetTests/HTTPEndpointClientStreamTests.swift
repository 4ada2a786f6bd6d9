import Foundation
import Logging
import NIOHTTP1
import PetrelTestSupport
import Testing

@testable import PetrelNet

/// The streaming GET a watch runs on: chunks as they come over TLS, the read-idle timeout, cancellation.
@Suite struct HTTPEndpointClientStreamTests {
    /// A client of `server` whose waits for bytes last at most `timeout`; the test shuts it down.
    private func client(_ server: ScriptedKubernetesAPI, timeout: Duration = .seconds(30)) throws -> HTTPEndpointClient
    {
        var settings = TLSClientSettings()
        settings.caFile = server.caFile
        let tls = try ReloadingClientTLS(settings, logger: Logger(label: "test"))
        return HTTPEndpointClient(
            origin: try HTTPEndpoint.parse(server.url).get(), connections: 1, timeout: timeout, tls: tls)
    }

    private func watch(_ server: ScriptedKubernetesAPI) throws -> HTTPEndpoint {
        var endpoint = try HTTPEndpoint.parse(server.url).get()
        endpoint.target = "/api/v1/pods?watch=1"
        return endpoint
    }

    private func server() async throws -> (TestCertificates, ScriptedKubernetesAPI) {
        let certificates = try await TestCertificates.make()
        let server = try await ScriptedKubernetesAPI(
            certificates: certificates, token: "t", nodeReply: .json(status: 200, body: "{}"))
        return (certificates, server)
    }

    private let headers = HTTPHeaders([("Authorization", "Bearer t")])

    @Test func theBodyArrivesAsTheServerWritesItAndEndsWithTheResponse() async throws {
        let (certificates, server) = try await server()
        server.enqueue(.stream([.event("one"), .pause, .event("two"), .end]))
        let client = try client(server)
        let received = try await client.stream(get: watch(server), headers: headers) { response in
            #expect(response.status == .ok)
            var text = ""
            for try await chunk in response.body {
                text += String(buffer: chunk)
                // The first event is here before the server writes the second.
                if text == "one\n" { server.resume() }
            }
            return text
        }
        await client.shutdown()
        await server.stop()
        #expect(received == "one\ntwo\n")
        #expect(server.requests.map(\.target) == ["/api/v1/pods?watch=1"])
        withExtendedLifetime(certificates) {}
    }

    @Test func aServerThatGoesSilentIsATimeoutNotAHang() async throws {
        let (certificates, server) = try await server()
        let client = try client(server, timeout: .milliseconds(300))
        // Nothing queued: the server sends the head and then nothing.
        await #expect(throws: (any Error).self) {
            try await client.stream(get: watch(server), headers: headers) { response in
                for try await _ in response.body {}
            }
        }
        await client.shutdown()
        await server.stop()
        withExtendedLifetime(certificates) {}
    }

    @Test func aDroppedConnectionIsAnErrorNotAnEnd() async throws {
        let (certificates, server) = try await server()
        server.enqueue(.stream([.event("one"), .drop]))
        let client = try client(server)
        await #expect(throws: (any Error).self) {
            try await client.stream(get: watch(server), headers: headers) { response in
                for try await _ in response.body {}
            }
        }
        await client.shutdown()
        await server.stop()
        withExtendedLifetime(certificates) {}
    }

    @Test func cancellingTheTaskClosesAHeldStream() async throws {
        let (certificates, server) = try await server()
        let client = try client(server, timeout: .seconds(600))
        let task = Task {
            try await client.stream(get: watch(server), headers: headers) { response in
                for try await _ in response.body {}
            }
        }
        #expect(await server.wait { $0.requests.count == 1 })
        task.cancel()
        await #expect(throws: (any Error).self) { try await task.value }
        await client.shutdown()
        await server.stop()
        withExtendedLifetime(certificates) {}
    }
}
