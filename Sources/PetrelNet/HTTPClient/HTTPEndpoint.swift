/// An `http://` or `https://host:port/path` URL a sink sends to, parsed once at configuration time.
public struct HTTPEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Path and query, e.g. `/api/v1/write`.
    public var target: String
    /// `https://`: the connection speaks TLS.
    public var usesTLS: Bool

    public init(host: String, port: Int, target: String, usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.target = target
        self.usesTLS = usesTLS
    }

    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(usesTLS ? "https" : "http")://\(host):\(port)\(target)"
    }

    /// The value of the `Host` header.
    var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return port == (usesTLS ? 443 : 80) ? host : "\(host):\(port)"
    }

    /// Parses a URL, or says what is wrong with it.
    public static func parse(_ url: String) -> Result<HTTPEndpoint, HTTPEndpointError> {
        let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return .failure(HTTPEndpointError("expected a URL such as http://host:8428/api/v1/write"))
        }
        let scheme = parts[0].lowercased()
        guard scheme == "http" || scheme == "https" else {
            return .failure(HTTPEndpointError("unsupported scheme \"\(scheme)\"; expected http or https"))
        }
        let rest = parts[1]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        guard !authority.contains("@") else {
            return .failure(HTTPEndpointError("put credentials in basic_auth, not in the URL"))
        }
        var host = Substring(authority)
        var port = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure(HTTPEndpointError("an IPv6 address is missing its closing \"]\""))
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let parsed = Int(after.dropFirst()) else {
                    return .failure(HTTPEndpointError("invalid port in \"\(authority)\""))
                }
                port = parsed
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let parsed = Int(authority[authority.index(after: colon)...]) else {
                return .failure(HTTPEndpointError("invalid port in \"\(authority)\""))
            }
            port = parsed
        }
        guard !host.isEmpty else { return .failure(HTTPEndpointError("the URL has no host")) }
        guard (1...65535).contains(port) else { return .failure(HTTPEndpointError("port \(port) is out of range")) }
        return .success(HTTPEndpoint(host: String(host), port: port, target: target, usesTLS: scheme == "https"))
    }
}

/// What is wrong with an endpoint URL.
public struct HTTPEndpointError: Error, Sendable {
    public var message: String

    init(_ message: String) { self.message = message }
}
