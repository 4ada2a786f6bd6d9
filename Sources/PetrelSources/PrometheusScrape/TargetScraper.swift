import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Fetches one target's exposition: the GET Prometheus makes (its `Accept`, gzip, the scrape timeout header),
/// the status checked, the body read up to `body_size_limit` and decompressed.
struct TargetScraper: Sendable {
    /// The body and the format its `Content-Type` names.
    struct Exposition {
        var body: [UInt8]
        var format: ExpositionFormat
        /// Bytes on the wire, compressed or not.
        var wireBytes: Int
    }

    /// Without a `body_size_limit`, bodies are still bounded by what a batch's 32-bit arena can hold.
    static let defaultBodyLimit = 1 << 30

    let job: ScrapeJobConfig
    let client: HTTPEndpointClient

    func scrape(_ target: ScrapeTarget) async throws(ScrapeError) -> Exposition {
        var headers: HTTPHeaders = [
            "Accept": ExpositionFormat.acceptHeader, "Accept-Encoding": "gzip",
            "User-Agent": "Petrel/\(PetrelVersion.string)",
            "X-Prometheus-Scrape-Timeout-Seconds": ScrapeSeconds.text(job.scrapeTimeout),
        ]
        if let authorization = job.authorizationHeader() { headers.add(name: "Authorization", value: authorization) }
        let limit = job.bodySizeLimit > 0 ? job.bodySizeLimit : Self.defaultBodyLimit
        let fetched: (status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8])
        do {
            fetched = try await client.stream(get: target.endpoint, headers: headers) { response in
                guard response.status == .ok else { return (response.status, response.headers, []) }
                var body: [UInt8] = []
                if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length <= limit {
                    body.reserveCapacity(length)
                }
                for try await chunk in response.body {
                    guard body.count + chunk.readableBytes <= limit else {
                        throw ScrapeError("body size limit exceeded: more than \(limit) bytes")
                    }
                    chunk.withUnsafeReadableBytes { body.append(contentsOf: $0) }
                }
                return (response.status, response.headers, body)
            }
        } catch let error as ScrapeError {
            throw error
        } catch {
            throw ScrapeError("\(error)")
        }
        guard fetched.status == .ok else {
            throw ScrapeError("server returned HTTP status \(fetched.status.code) \(fetched.status.reasonPhrase)")
        }
        var body = fetched.body
        let wireBytes = body.count
        if fetched.headers.first(name: "Content-Encoding")?.lowercased() == "gzip" {
            do {
                body = try Zlib.decompress(body, format: .gzip, maxDecompressedLength: limit)
            } catch {
                throw ScrapeError(
                    error == .tooLarge ? "body size limit exceeded: more than \(limit) bytes uncompressed" : "\(error)")
            }
        }
        return Exposition(
            body: body, format: ExpositionFormat(contentType: fetched.headers.first(name: "Content-Type")),
            wireBytes: wireBytes)
    }
}

/// Why a scrape failed, as the target's `lastError` shows it.
struct ScrapeError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Seconds as a decimal, for `X-Prometheus-Scrape-Timeout-Seconds` and `scrape_duration_seconds`.
enum ScrapeSeconds {
    static func value(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func text(_ duration: Duration) -> String {
        let seconds = value(duration)
        return seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
