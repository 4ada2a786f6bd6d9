import PetrelCore

/// Why a configuration could not be loaded: every problem found, in the order of the file.
public struct ConfigLoadError: Error, Sendable, CustomStringConvertible {
    /// Sorted by line, then by key path.
    public var errors: [ConfigError]

    /// Sorts `errors` by line, then path, keeping the order they were found in for ties.
    public init(errors: [ConfigError]) {
        self.errors = errors.enumerated()
            .sorted { lhs, rhs in
                (lhs.element.line, lhs.element.path, lhs.offset) < (rhs.element.line, rhs.element.path, rhs.offset)
            }
            .map(\.element)
    }

    /// One error per line, as `petrel validate` prints them.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
