import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Ships metric batches to remote-write receivers (VictoriaMetrics, Prometheus, vmagent...).
///
/// One `EndpointWriter` per endpoint batches, encodes, compresses and sends with retries; the
/// `SeriesRouter` decides which endpoints get which series (all of them, or one by consistent
/// hash). A sink finishes once every series it accepted has been delivered or dropped for a reason.
public struct RemoteWriteSink: Sink {
    public let config: RemoteWriteSinkConfig

    public init(config: RemoteWriteSinkConfig) {
        self.config = config
    }

    public static let definition = ComponentDefinition(type: "prometheus_remote_write", kind: .sink) {
        reader, _ in
        .sink(RemoteWriteSink(config: RemoteWriteSinkConfig(from: reader)), accepts: .metrics)
    }

    public func run(_ input: SinkInput, _ context: SinkContext) async throws {
        let headers = RequestHeaders(config: config)
        let tls =
            config.endpoints.contains(where: \.usesTLS)
            ? try ReloadingTLSContext.client(config.tls, applicationProtocols: ["http/1.1"], logger: context.logger)
            : nil
        let writers = config.endpoints.map { endpoint in
            EndpointWriter(endpoint: endpoint, config: config, headers: headers, tls: tls, context: context)
        }
        let router = SeriesRouter(writers: writers, mode: config.mode)
        defer { for writer in writers { writer.close() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in writers {
                group.addTask { try await writer.run(router: router) }
            }
            for await envelope in input {
                guard case .metrics(let metrics) = envelope.batch else {
                    envelope.acknowledgement.acknowledge()
                    continue
                }
                try await router.route(metrics, envelope.acknowledgement)
            }
            await router.finish()
            try await group.waitForAll()
        }
    }
}

/// The headers of every request, with credentials read fresh for each (tokens get rotated).
struct RequestHeaders: Sendable {
    let config: RemoteWriteSinkConfig

    func make() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Encoding", value: "snappy")
        headers.add(name: "User-Agent", value: "petrel/\(PetrelVersion.string)")
        switch config.protocolVersion {
        case .v1:
            headers.add(name: "Content-Type", value: "application/x-protobuf")
            headers.add(name: "X-Prometheus-Remote-Write-Version", value: "0.1.0")
        case .v2:
            headers.add(
                name: "Content-Type", value: "application/x-protobuf;proto=io.prometheus.write.v2.Request")
            headers.add(name: "X-Prometheus-Remote-Write-Version", value: "2.0.0")
        }
        for header in config.headers { headers.replaceOrAdd(name: header.name, value: header.value) }
        if let file = config.bearerTokenFile, let token = CredentialFile.read(file) {
            headers.replaceOrAdd(name: "Authorization", value: "Bearer \(token)")
        }
        if let auth = config.basicAuth {
            let password = auth.password ?? auth.passwordFile.flatMap(CredentialFile.read) ?? ""
            let credentials = Base64.encode(Array("\(auth.username):\(password)".utf8))
            headers.replaceOrAdd(name: "Authorization", value: "Basic \(credentials)")
        }
        return headers
    }
}
