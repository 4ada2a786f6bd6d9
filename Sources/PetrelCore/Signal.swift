/// The kind of telemetry a batch carries.
public enum Signal: String, Sendable, CaseIterable, CustomStringConvertible {
    case metrics
    case logs
    case traces

    public var description: String { rawValue }
}

/// A set of signals, used to check that a component can take what its inputs emit.
public struct SignalSet: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public init(_ signal: Signal) {
        switch signal {
        case .metrics: self = .metrics
        case .logs: self = .logs
        case .traces: self = .traces
        }
    }

    public static let metrics = SignalSet(rawValue: 1 << 0)
    public static let logs = SignalSet(rawValue: 1 << 1)
    public static let traces = SignalSet(rawValue: 1 << 2)
    public static let all: SignalSet = [.metrics, .logs, .traces]

    public func contains(_ signal: Signal) -> Bool { contains(SignalSet(signal)) }

    public var description: String {
        let names = Signal.allCases.filter { contains($0) }.map(\.rawValue)
        return names.isEmpty ? "nothing" : names.joined(separator: ", ")
    }
}
