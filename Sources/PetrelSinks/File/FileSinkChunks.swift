import PetrelCodecs
import PetrelCore

/// The lines of one batch, grouped by the file they go to.
struct FileSinkChunk: Sendable, Equatable {
    var path: String
    var bytes: [UInt8]
}

extension FileSinkChunk {
    /// Splits `encoded` (what `EventJSONEncoder` wrote for `batch`, one line per event) by the path each line's event
    /// time renders to; lines keep their order within each file, and files come in the order of their first line.
    static func split(_ encoded: [UInt8], of batch: EventBatch, by template: TimeTemplate) -> [FileSinkChunk] {
        if encoded.isEmpty { return [] }
        if template.isStatic { return [FileSinkChunk(path: template.render(hour: 0), bytes: encoded)] }
        let hours = lineTimes(batch).map(TimeTemplate.hour(ofNanoseconds:))
        if let first = hours.first, hours.allSatisfy({ $0 == first }) {
            return [FileSinkChunk(path: template.render(hour: first), bytes: encoded)]
        }
        var chunks: [FileSinkChunk] = []
        var chunkOfHour: [Int64: Int] = [:]
        var lineStart = 0
        var line = 0
        for index in encoded.indices where encoded[index] == UInt8(ascii: "\n") {
            // The encoder writes a line per time, in the same order; past the end, the last hour takes the rest.
            let hour = line < hours.count ? hours[line] : hours.last ?? 0
            let chunk: Int
            if let existing = chunkOfHour[hour] {
                chunk = existing
            } else {
                chunk = chunks.count
                chunkOfHour[hour] = chunk
                chunks.append(FileSinkChunk(path: template.render(hour: hour), bytes: []))
            }
            chunks[chunk].bytes.append(contentsOf: encoded[lineStart...index])
            lineStart = index + 1
            line += 1
        }
        return chunks
    }

    /// The time of each line `EventJSONEncoder` writes for `batch`, in its order, in nanoseconds: a sample's or
    /// histogram sample's timestamp, a log record's, a span's start, an alert's end or else its start.
    static func lineTimes(_ batch: EventBatch) -> [Int64] {
        switch batch {
        case .metrics(let metrics):
            var times: [Int64] = []
            times.reserveCapacity(metrics.samples.count + metrics.histograms.count)
            for seriesIndex in metrics.series.indices {
                for sample in metrics.samples(of: seriesIndex) {
                    times.append(nanoseconds(milliseconds: sample.timestamp))
                }
                for histogram in metrics.histograms[metrics.series[seriesIndex].histogramRange] {
                    times.append(nanoseconds(milliseconds: histogram.timestamp))
                }
            }
            return times
        case .logs(let logs):
            return logs.records.map(\.timestamp)
        case .traces(let traces):
            var times: [Int64] = []
            for resourceSpans in traces.resourceSpans {
                for scopeSpans in resourceSpans.scopeSpans {
                    for span in scopeSpans.spans { times.append(Int64(clamping: span.startTimeUnixNano)) }
                }
            }
            return times
        case .alerts(let alerts):
            return alerts.alerts.map { $0.endsAt ?? $0.startsAt }
        }
    }

    private static func nanoseconds(milliseconds: Int64) -> Int64 {
        let (product, overflowed) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
        return overflowed ? (milliseconds < 0 ? .min : .max) : product
    }
}
