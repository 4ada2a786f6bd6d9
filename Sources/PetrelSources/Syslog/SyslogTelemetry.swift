import PetrelCore

/// The `syslog` source's own metrics, created once per source.
struct SyslogTelemetry: Sendable {
    let component: ComponentTelemetry
    /// Messages read, whether they parsed or not.
    let messages: Counter
    /// Messages that parsed as neither RFC 5424 nor RFC 3164, sent on with their raw text as `message`.
    let parseFailures: Counter
    /// Messages longer than `max_message_bytes`, sent on cut to it.
    let cutMessages: Counter
    /// TCP connections that closed inside an octet-counted frame or its count.
    let cutOffFrames: Counter
    /// UDP datagrams dropped because the pipeline was full.
    let udpDropped: Counter
    let connections: Gauge

    init(_ component: ComponentTelemetry) {
        self.component = component
        let registry = component.registry
        let labels = [("component_id", component.id), ("component_type", component.type)]
        messages = registry.counter(
            "petrel_syslog_messages_total", help: "Syslog messages received, parsed or not.", labels: labels)
        parseFailures = registry.counter(
            "petrel_syslog_parse_failures_total",
            help: "Syslog messages that parsed as neither RFC 5424 nor RFC 3164; sent on with their raw text.",
            labels: labels)
        cutMessages = registry.counter(
            "petrel_syslog_truncated_messages_total",
            help: "Syslog messages longer than max_message_bytes, sent on cut to it.", labels: labels)
        cutOffFrames = registry.counter(
            "petrel_syslog_incomplete_frames_total",
            help: "TCP connections that closed inside an octet-counted frame; what arrived of it is sent on.",
            labels: labels)
        udpDropped = registry.counter(
            "petrel_syslog_udp_dropped_messages_total",
            help: "UDP syslog messages dropped because the pipeline was full.", labels: labels)
        connections = registry.gauge(
            "petrel_syslog_open_connections", help: "TCP connections open to the syslog source.", labels: labels)
    }
}
