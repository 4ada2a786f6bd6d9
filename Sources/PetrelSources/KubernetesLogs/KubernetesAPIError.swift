#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a request to the Kubernetes API or its answer could not be used.
public struct KubernetesAPIError: Error, Sendable, CustomStringConvertible {
    private enum Kind: Sendable {
        case status
        case gone
        case malformed
        case transport
    }

    private let kind: Kind
    public let description: String

    /// The server's answer was `410 Gone` (HTTP status or an ERROR event): the resourceVersion is too old to resume
    /// from, so the pods must be LISTed again.
    public var isGone: Bool { kind == .gone }

    /// The answer could not be read: what the index holds may be missing a change.
    public var isMalformed: Bool { kind == .malformed }

    static func status(_ code: Int, _ what: String, message: String?) -> KubernetesAPIError {
        let detail = message.map { ": \($0)" } ?? ""
        return KubernetesAPIError(kind: code == 410 ? .gone : .status, description: "\(what) answered \(code)\(detail)")
    }

    static func malformed(_ message: String) -> KubernetesAPIError {
        KubernetesAPIError(kind: .malformed, description: message)
    }

    static func transport(_ what: String, _ error: any Error) -> KubernetesAPIError {
        KubernetesAPIError(kind: .transport, description: "\(what) failed: \(error)")
    }

    static func undecodable(_ what: String, _ error: any Error, sample: Data) -> KubernetesAPIError {
        let text = String(decoding: sample.prefix(200), as: UTF8.self)
        return KubernetesAPIError(
            kind: .malformed, description: "cannot decode a \(what) of \(sample.count) bytes (\(error)): \(text)")
    }
}
