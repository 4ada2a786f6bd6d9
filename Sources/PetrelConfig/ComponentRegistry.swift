import PetrelCore

/// The component types a configuration may name, by kind and type.
///
/// A source and a sink may share a type name (`otlp`, `prometheus_remote_write`): the section a
/// component is written in says which one it is.
public struct ComponentRegistry: Sendable {
    private var definitions: [ComponentKind: [String: ComponentDefinition]] = [:]

    /// A registry of `definitions`; two definitions of the same kind and type are a programming error.
    public init(_ definitions: [ComponentDefinition]) {
        for definition in definitions {
            let previous = self.definitions[definition.kind, default: [:]].updateValue(
                definition, forKey: definition.type)
            precondition(previous == nil, "\(definition.kind) type \"\(definition.type)\" is defined twice")
        }
    }

    /// The definition of `type` among components of `kind`.
    public func definition(kind: ComponentKind, type: String) -> ComponentDefinition? {
        definitions[kind]?[type]
    }

    /// The types of `kind`, sorted.
    public func types(of kind: ComponentKind) -> [String] {
        definitions[kind].map { $0.keys.sorted() } ?? []
    }

    /// Every definition, sources first, then transforms, then sinks, each sorted by type.
    public var all: [ComponentDefinition] {
        ComponentKind.allCases.flatMap { kind in
            types(of: kind).compactMap { definition(kind: kind, type: $0) }
        }
    }
}
