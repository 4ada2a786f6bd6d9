/// The kind of telemetry a batch carries.
public enum Signal: String, Sendable, CaseIterable, CustomStringConvertible {
    case metrics
    case logs
    case traces
    /// Alertmanager alerts, made by the `alert` transform and taken by the `alertmanager`, `console` and `file` sinks.
    case alerts

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
        case .alerts: self = .alerts
        }
    }

    public static let metrics = SignalSet(rawValue: 1 << 0)
    public static let logs = SignalSet(rawValue: 1 << 1)
    public static let traces = SignalSet(rawValue: 1 << 2)
    public static let alerts = SignalSet(rawValue: 1 << 3)
    /// Metrics, logs and traces: what components that take "everything" take. Alerts are only for the components
    /// that name them, so that `petrel validate` refuses alerts wired into a telemetry sink.
    public static let all: SignalSet = [.metrics, .logs, .traces]

    public func contains(_ signal: Signal) -> Bool { contains(SignalSet(signal)) }

    public var description: String {
        let names = Signal.allCases.filter { contains($0) }.map(\.rawValue)
        return names.isEmpty ? "nothing" : names.joined(separator: ", ")
    }
}
