import PetrelCodecs
import PetrelCore

/// Encodes a batch of log records as the `http` sink's body: each record as `EventJSONEncoder` writes it, one per
/// line or in a JSON array, then compressed.
struct HTTPSinkEncoder: Sendable {
    let encoding: HTTPSinkConfig.Encoding
    let compression: SinkRequestSettings.Compression

    func encode(_ batch: LogBatch) -> [UInt8] {
        var encoder = EventJSONEncoder()
        var body = encoder.encode(.logs(batch))
        if encoding == .json {
            // Newlines inside JSON strings are escaped, so every raw 0x0A ends a record: each becomes the comma
            // between two elements, the last one the closing bracket.
            for index in body.indices where body[index] == 0x0A { body[index] = UInt8(ascii: ",") }
            if body.isEmpty {
                body = Array("[]".utf8)
            } else {
                body[body.count - 1] = UInt8(ascii: "]")
                body.insert(UInt8(ascii: "["), at: 0)
            }
        }
        switch compression {
        case .gzip: return Zlib.compress(body, format: .gzip)
        case .zstd: return Zstd.compress(body)
        case .snappy, .none: return body
        }
    }
}
