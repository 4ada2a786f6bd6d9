import PetrelCodecs
import PetrelCore
import PetrelNet

/// Settings of the `prometheus_remote_write` source.
public struct RemoteWriteSourceConfig: Sendable {
    public var address = HostPort(host: "0.0.0.0", port: 9201)
    public var path = "/api/v1/write"
    /// Largest request body accepted on the wire (compressed).
    public var maxBodySize = 32 * 1024 * 1024
    /// Largest request accepted once decompressed.
    public var maxDecompressedSize = 32 * 1024 * 1024
    public var limits = RemoteWriteDecoder.Limits()
    /// What a sender is told to wait before retrying when the pipeline is full.
    public var retryAfter: Duration = .seconds(1)
    /// `tls` and `auth`.
    public var security = ListenerSecurity()
    /// Connections and timeouts of the listener.
    public var listener = HTTPListenerLimits()

    public init() {}

    public init(from reader: ConfigReader) {
        address = reader.listenAddress("address", default: address)
        path = reader.string("path", default: path)
        if !path.hasPrefix("/") { reader.error("path", "must start with /") }
        maxBodySize = reader.byteSize("max_body_size", default: maxBodySize)
        maxDecompressedSize = reader.byteSize(
            "max_decompressed_body_size", default: maxDecompressedSize)
        limits.maxLabelsPerSeries = reader.int(
            "max_labels_per_series", default: limits.maxLabelsPerSeries, range: 1...65536)
        limits.maxLabelNameLength = reader.byteSize(
            "max_label_name_length", default: limits.maxLabelNameLength)
        limits.maxLabelValueLength = reader.byteSize(
            "max_label_value_length", default: limits.maxLabelValueLength)
        retryAfter = reader.duration("retry_after", default: retryAfter)
        security = ListenerSecurity.read(from: reader)
        listener = HTTPListenerLimits(from: reader, default: listener)
    }

    /// The HTTP server's settings.
    var server: HTTPServerSettings {
        HTTPServerSettings(
            host: address.host, port: address.port, maxBodySize: maxBodySize, limits: listener, retryAfter: retryAfter)
    }
}
