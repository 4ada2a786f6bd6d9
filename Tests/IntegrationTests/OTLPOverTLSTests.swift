import Foundation
import PetrelTestSupport
import Testing

/// The OpenTelemetry Python SDK exporting over gRPC with TLS and over HTTPS into a mutual-TLS `otlp` source, whose
/// `otlp` sink forwards over TLS to a second mutual-TLS Petrel.
@Suite(.serialized) struct OTLPOverTLSTests {
    /// The SDK's TLS settings. The bundle variables are emptied because `requests` lets them override the CA file
    /// the HTTP exporter sets on its session.
    private func sdkTLS(_ certificates: TestCertificates, client: (crt: String, key: String)?) -> [String: String] {
        var environment = [
            "OTEL_EXPORTER_OTLP_CERTIFICATE": certificates.path("ca.crt"), "REQUESTS_CA_BUNDLE": "",
            "CURL_CA_BUNDLE": "", "OTEL_EXPORTER_OTLP_TIMEOUT": "5",
        ]
        if let client {
            environment["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"] = client.crt
            environment["OTEL_EXPORTER_OTLP_CLIENT_KEY"] = client.key
        }
        return environment
    }

    private func receiverConfig(grpc: Int, http: Int, certificates: TestCertificates, extra: String = "") throws
        -> String
    {
        let server = try certificates.issue("receiver", commonName: "receiver")
        return """
            api: { enabled: false }
            sources:
              otlp:
                type: otlp
                grpc_address: "127.0.0.1:\(grpc)"
                http_address: "127.0.0.1:\(http)"
                tls: { crt_file: \(server.crt), key_file: \(server.key), ca_file: \(certificates.path("ca.crt")), verify_certificate: true, min_version: "1.3" }
                \(extra)
            sinks:
              spans: { type: capture, inputs: [otlp] }
            """
    }

    @Test(arguments: ["grpc", "http"])
    func spansCrossTwoMutualTLSHopsExactlyOnce(transport: String) async throws {
        let certificates = try TestCertificates()
        let client = try certificates.issue("client", commonName: "sdk")
        let receiverGRPC = freePort()
        let receiverHTTP = freePort()
        let receiver = try CapturePipeline(
            receiverConfig(grpc: receiverGRPC, http: receiverHTTP, certificates: certificates))
        try await receiver.start()

        let edgeGRPC = freePort()
        let edgeHTTP = freePort()
        let edgeServer = try certificates.issue("edge", commonName: "edge")
        let edge = try CapturePipeline(
            """
            api: { enabled: false }
            sources:
              otlp:
                type: otlp
                grpc_address: "127.0.0.1:\(edgeGRPC)"
                http_address: "127.0.0.1:\(edgeHTTP)"
                tls: { crt_file: \(edgeServer.crt), key_file: \(edgeServer.key), ca_file: \(certificates.path("ca.crt")), verify_certificate: true }
            sinks:
              forward:
                type: otlp
                inputs: [otlp]
                protocol: \(transport)
                endpoint: "https://127.0.0.1:\(transport == "grpc" ? receiverGRPC : receiverHTTP)"
                tls: { ca_file: \(certificates.path("ca.crt")), crt_file: \(client.crt), key_file: \(client.key), min_version: "1.3" }
                batch: { max_age: 20ms }
                retry: { initial_backoff: 50ms, max_backoff: 200ms }
            """)
        try await edge.start()

        let sent = try await OpenTelemetrySDK.exportSpans(
            protocol: transport, endpoint: "https://127.0.0.1:\(transport == "grpc" ? edgeGRPC : edgeHTTP)",
            traces: 20, environment: sdkTLS(certificates, client: client))
        try await edge.stop()
        try await receiver.stop()

        #expect(sent.count == 40)
        let received = receiver.sink.spans
        #expect(received.count == sent.count, "every span exactly once")
        #expect(Set(received.map { $0.span.spanID.description }) == Set(sent.map(\.spanID)))
        #expect(Set(received.map { $0.span.name }) == Set(sent.map(\.name)))
    }

    /// The SDK reports what it tried to send whether or not the export succeeded: the receiver's capture is the proof.
    @Test(arguments: ["grpc", "http"])
    func anSDKWithoutAClientCertificateIsRefused(transport: String) async throws {
        let certificates = try TestCertificates()
        let grpc = freePort()
        let http = freePort()
        let receiver = try CapturePipeline(receiverConfig(grpc: grpc, http: http, certificates: certificates))
        try await receiver.start()
        _ = try? await OpenTelemetrySDK.exportSpans(
            protocol: transport, endpoint: "https://127.0.0.1:\(transport == "grpc" ? grpc : http)", traces: 1,
            environment: sdkTLS(certificates, client: nil))
        try await receiver.stop()
        #expect(receiver.sink.spans.isEmpty)
    }

    @Test func gRPCCallsWithoutTheTokenAreUnauthenticated() async throws {
        let certificates = try TestCertificates()
        let client = try certificates.issue("client", commonName: "sdk")
        let tokenFile = certificates.path("token")
        try "s3cret".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let grpc = freePort()
        let receiver = try CapturePipeline(
            receiverConfig(
                grpc: grpc, http: freePort(), certificates: certificates,
                extra: "auth: { strategy: bearer, token_file: \(tokenFile) }"))
        try await receiver.start()
        let tls = sdkTLS(certificates, client: client)
        _ = try? await OpenTelemetrySDK.exportSpans(
            protocol: "grpc", endpoint: "https://127.0.0.1:\(grpc)", traces: 1,
            environment: tls.merging(["OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20wrong"]) { $1 })
        #expect(receiver.sink.spans.isEmpty, "a wrong token delivers nothing")
        let sent = try await OpenTelemetrySDK.exportSpans(
            protocol: "grpc", endpoint: "https://127.0.0.1:\(grpc)", traces: 5,
            environment: tls.merging(["OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret"]) { $1 })
        try await receiver.stop()
        #expect(receiver.sink.spans.count == sent.count)
    }
}
