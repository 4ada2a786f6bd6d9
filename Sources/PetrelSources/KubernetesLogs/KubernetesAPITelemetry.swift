import PetrelCore

/// What the pod watch reports about its conversation with the API server; handles created once.
public struct KubernetesAPITelemetry: Sendable {
    /// Watches started again from the last resourceVersion, after a timeout or a dropped connection.
    public let watchRestarts: Counter
    /// LISTs after the first one: the server answered `410 Gone` or the watch could not be trusted.
    public let relists: Counter
    /// Requests that failed (transport, HTTP status, undecodable answer).
    public let errors: Counter

    public init(registry: TelemetryRegistry, componentID: String) {
        let labels = [("component_id", componentID)]
        watchRestarts = registry.counter(
            "petrel_kubernetes_watch_restarts_total",
            help: "Pod watches started again from the last resourceVersion.", labels: labels)
        relists = registry.counter(
            "petrel_kubernetes_relists_total",
            help: "Pod LISTs after the first: the watch's resourceVersion expired (410 Gone) or could not be trusted.",
            labels: labels)
        errors = registry.counter(
            "petrel_kubernetes_api_errors_total", help: "Kubernetes API requests that failed.", labels: labels)
    }
}
