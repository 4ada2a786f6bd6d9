import PetrelCodecs
import PetrelCore
import PetrelNet

/// Settings of the `otlp` source.
public struct OTLPSourceConfig: Sendable {
    /// The two transports OTLP defines, each on its own address.
    public enum Transport: String, Sendable, CaseIterable {
        case grpc
        case http
    }

    public var grpcAddress = HostPort(host: "0.0.0.0", port: 4317)
    public var httpAddress = HostPort(host: "0.0.0.0", port: 4318)
    /// The servers that run; both by default.
    public var protocols: [Transport] = [.grpc, .http]
    /// Largest request accepted: a gRPC message (compressed and once decompressed), an HTTP body on the wire and once
    /// gunzipped. 4MiB is the Collector's default and grpc's. A gRPC message declared larger is refused with
    /// RESOURCE_EXHAUSTED from its prefix; the transport inflates a compressed one up to twice this size, so that
    /// one somewhat too large once inflated gets that status too rather than a reset stream clients would retry.
    public var maxMessageSize = 4 * 1024 * 1024
    /// What a sender is told to wait before retrying when the pipeline is full.
    public var retryAfter: Duration = .seconds(1)
    /// How OTLP metrics become Prometheus-style series.
    public var metrics = OTLPMetricOptions()
    /// `tls` and `auth`, for both servers.
    public var security = ListenerSecurity()
    /// Connections and timeouts of each listener (gRPC: `request_header_timeout` bounds the HTTP/2 preface and
    /// `idle_timeout` a connection without calls).
    public var listener = HTTPListenerLimits()

    public init() {}

    public init(from reader: ConfigReader) {
        grpcAddress = reader.listenAddress("grpc_address", default: grpcAddress)
        httpAddress = reader.listenAddress("http_address", default: httpAddress)
        if let names = reader.stringList("protocols") {
            var protocols: [Transport] = []
            for name in names {
                guard let transport = Transport(rawValue: name) else {
                    reader.error("protocols", "unknown protocol \"\(name)\"; expected grpc or http")
                    continue
                }
                if protocols.contains(transport) {
                    reader.error("protocols", "\(name) is listed twice")
                    continue
                }
                protocols.append(transport)
            }
            if names.isEmpty { reader.error("protocols", "must name at least one of grpc and http") }
            self.protocols = protocols
        }
        if protocols.count == 2 && grpcAddress == httpAddress && grpcAddress.port != 0 {
            reader.error("http_address", "must differ from grpc_address (\(grpcAddress))")
        }
        maxMessageSize = reader.byteSize("max_message_size", default: maxMessageSize)
        // gRPC frames a message with a 32-bit length.
        if !(1...Int(UInt32.max)).contains(maxMessageSize) {
            reader.error("max_message_size", "must be between 1 byte and 4GiB, found \(maxMessageSize)")
            maxMessageSize = OTLPSourceConfig().maxMessageSize
        }
        retryAfter = reader.duration("retry_after", default: retryAfter)
        security = ListenerSecurity.read(from: reader)
        listener = HTTPListenerLimits(from: reader, default: listener)
        if let section = reader.section("metrics") {
            metrics.addUnitAndTypeSuffixes = section.bool(
                "add_unit_and_type_suffixes", default: metrics.addUnitAndTypeSuffixes)
            metrics.resourceAttributes = section.choice("resource_attributes", default: metrics.resourceAttributes)
            metrics.addScopeLabels = section.bool("add_scope_labels", default: metrics.addScopeLabels)
            let promoted = section.stringList("promote_resource_attributes")
            metrics.promotedResourceAttributes = promoted ?? []
            if metrics.resourceAttributes == .promote && metrics.promotedResourceAttributes.isEmpty {
                section.error(
                    promoted == nil ? "resource_attributes" : "promote_resource_attributes",
                    "promote needs promote_resource_attributes: the resource attributes to make labels")
            } else if metrics.resourceAttributes != .promote && promoted?.isEmpty == false {
                section.error(
                    "promote_resource_attributes",
                    "applies only with resource_attributes: promote, found \(metrics.resourceAttributes.rawValue)")
            }
            section.finish()
        }
    }

    /// Whether `transport` is among the servers to run.
    public func serves(_ transport: Transport) -> Bool { protocols.contains(transport) }
}
