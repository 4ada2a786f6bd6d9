import PetrelCore

/// Why bytes of a file were never sent.
enum LostBytesReason: String, CaseIterable {
    /// A rotated (renamed) file was let go, after `rotate_wait`, before it was read to the end.
    case rotatedBeforeRead = "rotated_before_read"
    /// The file shrank (copy-truncate) before what it held was read.
    case truncated
    /// A deleted file was let go, after `rotate_wait`, before it was read to the end.
    case deletedBeforeRead = "deleted_before_read"
    /// The part of a line past `max_line_bytes`.
    case lineTooLong = "line_too_long"
}

/// The tailer's own metrics, created once per source.
struct FileTelemetry: Sendable {
    let lostBytes: [String: Counter]
    let unreadBytes: Gauge
    let openFiles: Gauge
    let linesRead: Counter

    init(_ telemetry: ComponentTelemetry) {
        let labels = [("component_id", telemetry.id), ("component_type", telemetry.type)]
        var lost: [String: Counter] = [:]
        for reason in LostBytesReason.allCases {
            lost[reason.rawValue] = telemetry.registry.counter(
                "petrel_file_lost_bytes_total", help: "Bytes of tailed files that were never sent, by reason.",
                labels: labels + [("reason", reason.rawValue)])
        }
        lostBytes = lost
        unreadBytes = telemetry.registry.gauge(
            "petrel_file_unread_bytes", help: "Bytes in open tailed files not yet read: how far reading lags.",
            labels: labels)
        openFiles = telemetry.registry.gauge(
            "petrel_file_open_files", help: "Files the source holds open.", labels: labels)
        linesRead = telemetry.registry.counter(
            "petrel_file_lines_read_total", help: "Lines read from tailed files.", labels: labels)
    }

    func lost(_ bytes: Int64, _ reason: LostBytesReason) {
        lostBytes[reason.rawValue]!.increment(by: Int(bytes))
    }
}
