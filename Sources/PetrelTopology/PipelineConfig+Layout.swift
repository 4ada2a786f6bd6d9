import PetrelConfig
import PetrelCore

extension PipelineConfig {
    /// The graph as the API shows it: each component's inputs and the bounds of its input queue.
    func layout(queueCapacity: Int) -> [ComponentLayout] {
        components.map { component in
            var layout = ComponentLayout(
                id: component.id, type: component.type, kind: component.kind, inputs: component.inputs)
            switch (component.kind, component.buffer) {
            case (.source, _): break
            case (.transform, _): layout.queueCapacity = queueCapacity
            case (.sink, .memory(let maxEvents)): layout.queueMaxEvents = maxEvents
            case (.sink, .disk(let settings)):
                // The disk buffer's writer reads from a queue of its own, bounded like a transform's.
                layout.queueCapacity = queueCapacity
                layout.diskBufferMaxBytes = settings.maxSize
            }
            return layout
        }
    }
}
