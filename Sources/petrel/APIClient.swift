import NIOCore
import NIOHTTP1
import PetrelNet

/// The API of a running Petrel as `petrel tap` and `petrel top` reach it (`--url`, plain HTTP).
struct APIClient {
    /// The API's address when `--url` and `PETREL_API_URL` say nothing: `api.address`'s default.
    static let defaultURL = "http://127.0.0.1:8686"

    let base: HTTPEndpoint
    private let client: HTTPEndpointClient

    /// `timeout` bounds connecting, the wait for an answer and each wait for more of a streamed one.
    init(url: String, timeout: Duration) throws(APIClientError) {
        switch HTTPEndpoint.parse(url) {
        case .failure(let error): throw APIClientError("--url \(url): \(error)")
        case .success(let endpoint):
            guard !endpoint.usesTLS else {
                throw APIClientError("--url \(url): an https API is not supported yet; reach it over http")
            }
            base = endpoint
        }
        client = HTTPEndpointClient(origin: base, connections: 1, timeout: timeout)
    }

    /// The endpoint of an API path (`/tap?…`) under the URL's own path.
    func endpoint(_ path: String) -> HTTPEndpoint {
        var endpoint = base
        let prefix = base.target.hasSuffix("/") ? String(base.target.dropLast()) : base.target
        endpoint.target = prefix + path
        return endpoint
    }

    /// GETs `path` and hands each chunk of a 200 answer's body to `body` as it arrives, until `body` returns false or
    /// the answer ends.
    func stream(_ path: String, _ body: ([UInt8]) async throws -> Bool) async throws {
        do {
            try await get(path, body)
        } catch let error as APIClientError {
            throw error
        } catch {
            throw APIClientError("cannot reach the API at \(base) (is petrel running with its API there?): \(error)")
        }
    }

    private func get(_ path: String, _ body: ([UInt8]) async throws -> Bool) async throws {
        try await client.stream(get: endpoint(path), headers: [:]) { response in
            guard response.status == .ok else {
                var text = ""
                for try await chunk in response.body {
                    text += String(buffer: chunk)
                    if text.utf8.count > 4096 { break }
                }
                throw APIClientError("\(endpoint(path)) answered \(response.status.code): \(text)")
            }
            for try await chunk in response.body {
                guard try await body(Array(buffer: chunk)) else { return }
            }
        }
    }

    /// GETs `path` and returns its whole body (200 only).
    func get(_ path: String) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        try await stream(path) { chunk in
            bytes += chunk
            return true
        }
        return bytes
    }

    func shutdown() async {
        await client.shutdown()
    }

    /// A query value with everything but unreserved characters percent-encoded.
    static func encode(_ value: String) -> String {
        var text = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                text.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                text += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text
    }
}

/// `petrel tap` or `petrel top` could not reach the API or understand its answer.
struct APIClientError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
