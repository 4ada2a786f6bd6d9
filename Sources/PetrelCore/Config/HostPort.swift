/// A `host:port` listen address as written in the configuration (`0.0.0.0:9201`, `[::1]:8686`).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// The host without brackets.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 host.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `text`, or says what is wrong with it.
    public static func parse(_ text: String) -> Result<HostPort, HostPortError> {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return .failure(HostPortError("an IPv6 address is missing its closing \"]\""))
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(HostPortError("expected :port after the host")) }
            portText = rest.dropFirst()
            guard isIPv6(host) else { return .failure(HostPortError("\"[\(host)]\" is not an IPv6 address")) }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                return .failure(HostPortError("expected host:port, such as 127.0.0.1:8686"))
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                return .failure(HostPortError("write an IPv6 address in brackets, such as [::1]:8686"))
            }
            guard !host.isEmpty else {
                return .failure(HostPortError("the host is missing; use 0.0.0.0 to listen on every interface"))
            }
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") })
            else {
                return .failure(HostPortError("\"\(host)\" is not a host name or an IP address"))
            }
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
            (0...65535).contains(port)
        else {
            return .failure(
                HostPortError("the port must be a number from 0 to 65535, found \(portText.quotedForMessage)"))
        }
        return .success(HostPort(host: String(host), port: port))
    }

    /// Whether `text` looks like an IPv6 address, with an optional zone (`fe80::1%eth0`); the socket
    /// layer has the last word.
    private static func isIPv6(_ text: Substring) -> Bool {
        let parts = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        let address = parts[0]
        guard address.contains(":"), address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
            return false
        }
        guard parts.count == 2 else { return true }
        return !parts[1].isEmpty && parts[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}

/// What is wrong with a `host:port` address.
public struct HostPortError: Error, Sendable, Equatable {
    public var message: String

    public init(_ message: String) { self.message = message }
}
