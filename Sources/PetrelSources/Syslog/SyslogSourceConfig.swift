import Foundation
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Settings of the `syslog` source.
public struct SyslogSourceConfig: Sendable {
    /// The transport messages arrive on.
    public enum Mode: String, Sendable, CaseIterable {
        case tcp
        case udp
    }

    public var mode = Mode.tcp
    public var address = HostPort(host: "0.0.0.0", port: 514)
    /// Longest message kept; the rest of a longer one is dropped and counted.
    public var maxMessageBytes = 100 * 1024
    /// The zone RFC 3164 times (which have none) are read in: `UTC`, an IANA name or a fixed `+hh:mm` offset.
    public var timezone = "UTC"
    /// `tls` (TCP only; with `verify_certificate`, senders must present a certificate signed by `ca_file`).
    public var security = ListenerSecurity()
    /// TCP connections open at once; more are closed as they are accepted.
    public var maxConnections = 4096
    /// How long a TCP connection may stay open without a byte arriving; nil for ever.
    public var idleTimeout: Duration?

    public init() {}

    public init(from reader: ConfigReader) {
        mode = reader.choice("mode", default: mode)
        address = reader.listenAddress("address", default: address)
        maxMessageBytes = reader.byteSize("max_message_bytes", default: maxMessageBytes)
        if !(1...64 * 1024 * 1024).contains(maxMessageBytes) {
            reader.error("max_message_bytes", "must be between 1 byte and 64MiB, found \(maxMessageBytes)")
            maxMessageBytes = SyslogSourceConfig().maxMessageBytes
        }
        timezone = reader.string("timezone", default: timezone)
        if Self.utcOffset(timezone) == nil {
            reader.error(
                "timezone", "unknown time zone \"\(timezone)\"; expected UTC, an IANA name (Europe/Paris) or +hh:mm")
        }
        maxConnections = reader.int("max_connections", default: maxConnections, range: 1...1_000_000)
        if reader.contains("idle_timeout") {
            let timeout = reader.duration("idle_timeout", default: .seconds(60))
            if timeout <= .zero { reader.error("idle_timeout", "must be longer than 0s") }
            idleTimeout = timeout
        }
        if reader.contains("auth") {
            _ = reader.node("auth")
            reader.error(
                "auth",
                "syslog carries no credentials; require client certificates with tls.verify_certificate and ca_file")
        }
        security = ListenerSecurity(tls: TLSServerSettings.read(from: reader))
        if mode == .udp {
            for key in ["tls", "max_connections", "idle_timeout"] where reader.contains(key) {
                reader.error(key, "applies to mode tcp only")
            }
        }
    }

    /// The parser for this configuration's time zone.
    var parser: SyslogParser {
        SyslogParser(utcOffset: Self.utcOffset(timezone) ?? { _ in 0 })
    }

    /// Seconds east of UTC at a given UTC time, for `UTC`, `+hh:mm`/`-hh:mm` or an IANA zone; nil when unknown.
    static func utcOffset(_ name: String) -> SyslogParser.UTCOffset? {
        if name == "UTC" || name == "Z" { return { _ in 0 } }
        let bytes = Array(name.utf8)
        if bytes.count == 6, bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-"),
            bytes[3] == UInt8(ascii: ":"), let hours = Int64(name.dropFirst().prefix(2)),
            let minutes = Int64(name.suffix(2)), hours <= 23, minutes <= 59
        {
            let offset = (bytes[0] == UInt8(ascii: "+") ? 1 : -1) * (hours * 3600 + minutes * 60)
            return { _ in offset }
        }
        guard let zone = TimeZone(identifier: name) else { return nil }
        return { seconds in Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds)))) }
    }
}
