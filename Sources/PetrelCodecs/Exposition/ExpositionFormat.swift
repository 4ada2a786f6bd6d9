/// The two text formats a scrape target may answer in, told apart by the answer's `Content-Type`.
public enum ExpositionFormat: String, Sendable, CaseIterable {
    /// Prometheus' text format 0.0.4 (`text/plain; version=0.0.4`).
    case prometheusText = "prometheus_text"
    /// OpenMetrics 1.0 (`application/openmetrics-text; version=1.0.0`).
    case openMetrics = "openmetrics"

    /// The `Accept` header Prometheus 2.42 scrapes with: OpenMetrics preferred, the text format next, anything last.
    public static let acceptHeader =
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

    /// The format of an answer with this `Content-Type`; anything but OpenMetrics is read as the text format, as
    /// Prometheus reads it.
    public init(contentType: String?) {
        guard let contentType else {
            self = .prometheusText
            return
        }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        let trimmed = mediaType.filter { $0 != " " && $0 != "\t" }.lowercased()
        self = trimmed == "application/openmetrics-text" ? .openMetrics : .prometheusText
    }
}
