import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PetrelBench
import PetrelNet
import Synchronization

/// Posts one remote-write body and says whether it was answered 2xx; reads the whole response.
protocol Poster: Sendable {
    func post(_ body: ByteBuffer, headers: HTTPHeaders) async throws -> Bool
    func shutdown() async throws
}

/// Petrel's client: one `HTTPEndpointClient` (AsyncHTTPClient since issue #10, with Petrel's bounded body read and
/// retry on a closed keep-alive connection) shared by every worker, with up to `connections` connections.
struct PetrelPoster: Poster {
    let client: HTTPEndpointClient
    let endpoint: HTTPEndpoint

    init(url: String, connections: Int) {
        endpoint = try! HTTPEndpoint.parse(url).get()
        client = HTTPEndpointClient(origin: endpoint, connections: connections, timeout: .seconds(30))
    }

    func post(_ body: ByteBuffer, headers: HTTPHeaders) async throws -> Bool {
        let response = try await client.post(to: endpoint, body: body, headers: headers)
        return (200..<300).contains(response.status.code)
    }

    func shutdown() async throws { await client.shutdown() }
}

/// AsyncHTTPClient with its defaults (logging off, no decompression), its pool limited to `connections` connections.
struct AHCPoster: Poster {
    let client: HTTPClient
    let url: String

    init(url: String, connections: Int) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.url = url
    }

    func post(_ body: ByteBuffer, headers: HTTPHeaders) async throws -> Bool {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return (200..<300).contains(response.status.code)
    }

    func shutdown() async throws { try await client.shutdown() }
}

/// `connections` workers posting, in turn, the bodies of `petrel bench remote-write --series 20000
/// --series-per-request 1000` (by default: 20 bodies of `seriesPerRequest` series), each waiting for its answer before
/// the next (keep-alive, no pipelining).
struct Load {
    var url: String
    var connections: Int
    var duration: Double
    var warmup: Double
    var seriesPerRequest: Int

    func run(_ poster: some Poster) async throws {
        var options = LoadProfile.RemoteWrite()
        options.series = 20 * seriesPerRequest
        options.seriesPerRequest = seriesPerRequest
        let profile = LoadProfile.remoteWrite(options)
        let counters = Counters()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    while !counters.stop.load(ordering: .relaxed) {
                        let index = counters.next.add(1, ordering: .relaxed).oldValue % profile.bodies.count
                        if try await poster.post(profile.bodies[index], headers: profile.headers) {
                            counters.answered.add(1, ordering: .relaxed)
                        } else {
                            counters.failed.add(1, ordering: .relaxed)
                        }
                    }
                }
            }
            try await Task.sleep(for: .seconds(warmup))
            let startCPU = ProcessCPU.seconds()
            let startClock = ContinuousClock.now
            let startAnswered = counters.answered.load(ordering: .relaxed)
            let startFailed = counters.failed.load(ordering: .relaxed)
            emit("measuring")
            try await Task.sleep(for: .seconds(duration))
            let cpu = ProcessCPU.seconds() - startCPU
            let elapsed = startClock.duration(to: .now)
            let requests = counters.answered.load(ordering: .relaxed) - startAnswered
            let failures = counters.failed.load(ordering: .relaxed) - startFailed
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let bodyBytes = profile.bodies.map(\.readableBytes).reduce(0, +) / profile.bodies.count
            emit(
                #"{"requests": \#(requests), "failures": \#(failures), "seconds": \#(seconds), "#
                    + #""client_cpu_seconds": \#(cpu), "mean_body_bytes": \#(bodyBytes)}"#)
            counters.stop.store(true, ordering: .relaxed)
            try await group.waitForAll()
        }
        try await poster.shutdown()
    }
}

/// What the workers share.
final class Counters: Sendable {
    let answered = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    let next = Atomic<Int>(0)
}

/// This process's user and system CPU time, all threads.
enum ProcessCPU {
    static func seconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return value(usage.ru_utime) + value(usage.ru_stime)
    }
}
