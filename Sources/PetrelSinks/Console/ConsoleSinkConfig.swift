import PetrelCore

/// Settings of the `console` sink.
public struct ConsoleSinkConfig: Sendable, Equatable {
    /// The stream to write to.
    public enum Target: String, Sendable, CaseIterable {
        case stdout
        case stderr
    }

    public var target: Target = .stdout

    public init() {}

    public init(from reader: ConfigReader) {
        target = reader.choice("target", default: target)
    }
}
