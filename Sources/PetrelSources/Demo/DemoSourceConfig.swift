import PetrelCore

/// Settings of the `demo` source.
public struct DemoSourceConfig: Sendable, Equatable {
    /// Time between two rounds of generated batches.
    public var interval: Duration = .seconds(1)
    /// Rounds to generate before the source finishes; 0 generates until shutdown.
    public var count: Int = 0
    /// Events per batch: series, log records or spans.
    public var batchSize: Int = 10
    /// Which signals to generate.
    public var signals: SignalSet = .all

    public init() {}

    /// Reads the settings, reporting problems to `reader`.
    public init(from reader: ConfigReader) {
        interval = reader.duration("interval", default: interval)
        count = reader.int("count", default: count, range: 0...Int.max)
        batchSize = reader.int("batch_size", default: batchSize, range: 1...100_000)
        if let names = reader.stringList("signals") {
            var signals: SignalSet = []
            for name in names {
                guard let signal = Signal(rawValue: name), signal != .alerts else {
                    reader.error("signals", "unknown signal \"\(name)\"; expected metrics, logs or traces")
                    continue
                }
                signals.insert(SignalSet(signal))
            }
            if names.isEmpty { reader.error("signals", "must name at least one signal") }
            self.signals = signals
        }
    }
}
