import PetrelCore

/// What a reload changes: which components keep running as they are, which stop and which start.
///
/// A component is kept when its whole configuration subtree says the same as before, its `type`, `inputs` and
/// `buffer` included (lines and key order do not matter). Anything else with its id is replaced: the old one stops and
/// a new one starts. The settings every component shares (`data_dir`, `memory_limit`, `api`) cannot change without a
/// restart, so a reload that changes them is refused.
public struct ConfigChange: Sendable {
    /// Ids running before and after, untouched.
    public var kept: Set<String>
    /// Ids of the old configuration whose component stops: removed, or replaced by one in `started`.
    public var stopped: Set<String>
    /// Ids of the new configuration whose component starts: added, or replacing one in `stopped`.
    public var started: Set<String>

    public init(kept: Set<String> = [], stopped: Set<String> = [], started: Set<String> = []) {
        self.kept = kept
        self.stopped = stopped
        self.started = started
    }

    /// Whether the reload changes nothing.
    public var isEmpty: Bool { stopped.isEmpty && started.isEmpty }

    /// The change from `old` to `new`, or the errors that refuse it.
    public static func between(_ old: PipelineConfig, _ new: PipelineConfig, file: String) -> Result<
        ConfigChange, ConfigLoadError
    > {
        var errors: [ConfigError] = []
        for key in ["data_dir", "memory_limit", "api"] where !sameSetting(key, old, new) {
            errors.append(
                ConfigError(
                    file: file, line: new.document?[key]?.line ?? 0, path: key,
                    message: "cannot change on reload; restart Petrel to change it"))
        }
        guard errors.isEmpty else { return .failure(ConfigLoadError(errors: errors)) }
        var change = ConfigChange()
        for component in new.components {
            if let before = old.component(component.id), sameComponent(before, old, component, new) {
                change.kept.insert(component.id)
            } else {
                change.started.insert(component.id)
            }
        }
        for component in old.components where !change.kept.contains(component.id) {
            change.stopped.insert(component.id)
        }
        return .success(change)
    }

    private static func sameSetting(_ key: String, _ old: PipelineConfig, _ new: PipelineConfig) -> Bool {
        switch (old.document?[key], new.document?[key]) {
        case (nil, nil): true
        case (let before?, let after?): before.hasSameContent(as: after)
        default: false
        }
    }

    private static func sameComponent(
        _ before: ComponentConfig, _ old: PipelineConfig, _ after: ComponentConfig, _ new: PipelineConfig
    ) -> Bool {
        guard before.kind == after.kind, let oldNode = node(of: before, in: old), let newNode = node(of: after, in: new)
        else { return false }
        return oldNode.hasSameContent(as: newNode)
    }

    private static func node(of component: ComponentConfig, in config: PipelineConfig) -> ConfigNode? {
        config.document?[component.kind.sectionName]?[component.id]
    }
}
