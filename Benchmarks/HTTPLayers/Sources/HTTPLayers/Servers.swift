import Foundation
import Hummingbird
import Logging
import NIOCore
import PetrelCore
import PetrelNet

/// Both servers take the whole body into one buffer and answer 204; neither decodes it.
let maxBodySize = 32 << 20
let writePath = "/api/v1/write"
/// Logging off on both sides: no handler is called.
let silent = Logger(label: "http-layers", factory: { _ in SwiftLogNoOpLogHandler() })

/// Writes a line to stdout at once (unbuffered): the driver waits for these lines.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func announce(port: Int) { emit("listening \(port)") }

/// Petrel's server (`HTTPIngestServer`: on Hummingbird with Petrel's lifecycle since 2026-12-07; NIOHTTP1's
/// pipeline and `HTTPIngestHandler` when the figures of 2026-12-06 were taken), default limits, no memory limit.
func servePetrel(port: Int) async throws {
    let server = HTTPIngestServer(host: "127.0.0.1", port: port, maxBodySize: maxBodySize, logger: silent) { request in
        guard request.path == writePath else { return HTTPIngestResponse(status: .notFound) }
        guard request.body.readableBytes > 0 else { return HTTPIngestResponse(status: .badRequest) }
        return HTTPIngestResponse(status: .noContent)
    }
    try await server.run(shutdown: ShutdownSignal()) { port in announce(port: port) }
}

/// Hummingbird 2 with one route; an idle timeout as Petrel's server has one (a timer per connection on both).
func serveHummingbird(port: Int) async throws {
    let router = Router()
    router.post(RouterPath(writePath)) { request, _ -> HTTPResponse.Status in
        let body = try await request.body.collect(upTo: maxBodySize)
        return body.readableBytes > 0 ? .noContent : .badRequest
    }
    let app = Application(
        router: router, server: .http1(configuration: .init(idleTimeout: .seconds(60))),
        configuration: .init(address: .hostname("127.0.0.1", port: port)),
        onServerRunning: { channel in announce(port: channel.localAddress?.port ?? port) }, logger: silent)
    try await app.run()
}
