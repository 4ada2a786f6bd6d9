import NIOCore
import NIOHTTP1
import PetrelCodecs
import PetrelCore
import PetrelNet

/// Answers one OTLP/HTTP request: `POST /v1/traces`, `/v1/metrics` or `/v1/logs`, protobuf or JSON, plain or gzip.
///
/// Errors follow the OTLP specification: a `google.rpc.Status` body encoded as the request was (protobuf or JSON),
/// 400 for bad data (never retried), 429 with `Retry-After` when the pipeline is full (retried), 413 past the size
/// limit. A request whose content type is not OTLP's gets a plain-text answer, as the Collector gives.
struct OTLPHTTPHandler: Sendable {
    let receiver: OTLPReceiver
    let maxMessageSize: Int
    let retryAfter: Duration

    static let paths: [String: Signal] = ["/v1/traces": .traces, "/v1/metrics": .metrics, "/v1/logs": .logs]

    func handle(_ request: HTTPIngestRequest) async -> HTTPIngestResponse {
        let contentType = request.headers.first(name: "Content-Type")
        let encoding = contentType.flatMap(Self.encoding(contentType:))
        let answer = Answer(contentType: contentType, encoding: encoding)
        guard let signal = Self.paths[request.path] else {
            return answer.status(
                .notFound, .notFound, "not found; OTLP/HTTP goes to /v1/traces, /v1/metrics or /v1/logs")
        }
        guard request.method == .POST else {
            var response = answer.status(.methodNotAllowed, .unimplemented, "OTLP/HTTP requests are POSTs")
            response.headers.add(name: "Allow", value: "POST")
            return response
        }
        guard let encoding else {
            receiver.refused(wireBytes: request.body.readableBytes)
            let found = contentType.map { "\"\($0)\"" } ?? "none"
            return .error(
                .unsupportedMediaType,
                "unsupported Content-Type \(found); OTLP/HTTP takes application/x-protobuf or application/json")
        }
        let compressed: Bool
        switch request.headers.first(name: "Content-Encoding")?.lowercased() {
        case nil, "", "identity": compressed = false
        case "gzip": compressed = true
        case let other?:
            receiver.refused(wireBytes: request.body.readableBytes)
            return answer.status(
                .unsupportedMediaType, .unimplemented,
                "unsupported Content-Encoding \"\(other)\"; expected gzip or none")
        }

        let wireBytes = request.body.readableBytes
        let body: [UInt8]
        if compressed {
            switch gunzip(request.body) {
            case .success(let decompressed): body = decompressed
            case .failure(let problem):
                receiver.refused(wireBytes: wireBytes)
                if problem.tooLarge { return answer.status(.payloadTooLarge, .resourceExhausted, problem.message) }
                return answer.status(.badRequest, .invalidArgument, problem.message)
            }
        } else {
            body = Array(request.body.readableBytesView)
        }

        switch await receiver.export(signal, body, encoding: encoding, wireBytes: wireBytes) {
        case .accepted(let rejected, let message):
            return HTTPIngestResponse(
                status: .ok, headers: answer.headers,
                body: OTLPExportResponses.encoded(signal, rejected: rejected, message: message, as: encoding))
        case .malformed(let reason):
            return answer.status(.badRequest, .invalidArgument, reason)
        case .throttled:
            return throttled(answer, "the pipeline is full; retry later")
        }
    }

    /// 429 for a body refused while it was read, because bodies being read hold the memory limit.
    func busy(_ headers: HTTPHeaders) -> HTTPIngestResponse {
        let contentType = headers.first(name: "Content-Type")
        return throttled(
            Answer(contentType: contentType, encoding: contentType.flatMap(Self.encoding(contentType:))),
            "request bodies being read hold the memory limit; retry later")
    }

    private func throttled(_ answer: Answer, _ message: String) -> HTTPIngestResponse {
        let seconds = max(1, retryAfter.components.seconds + (retryAfter.components.attoseconds > 0 ? 1 : 0))
        var response = answer.status(
            .tooManyRequests, GoogleRPCStatus(.resourceExhausted, message, retryDelay: retryAfter))
        response.headers.add(name: "Retry-After", value: String(seconds))
        return response
    }

    /// 413 for a body over the limit, which the server does not read.
    func tooLarge(_ headers: HTTPHeaders) -> HTTPIngestResponse {
        // The body is discarded unread; what the sender declared is what crossed the wire.
        receiver.refused(wireBytes: headers.first(name: "Content-Length").flatMap(Int.init) ?? 0)
        let contentType = headers.first(name: "Content-Type")
        return Answer(contentType: contentType, encoding: contentType.flatMap(Self.encoding(contentType:)))
            .status(.payloadTooLarge, .resourceExhausted, "request body exceeds the limit of \(maxMessageSize) bytes")
    }

    /// The body encoding a `Content-Type` names; parameters such as `charset=utf-8` do not matter.
    static func encoding(contentType: String) -> OTLPBodyEncoding? {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        switch mediaType.trimmingSpaces().lowercased() {
        case "application/x-protobuf": return .protobuf
        case "application/json": return .json
        default: return nil
        }
    }

    private struct GunzipFailure: Error {
        var message: String
        var tooLarge: Bool
    }

    private func gunzip(_ body: ByteBuffer) -> Result<[UInt8], GunzipFailure> {
        if let declared = Self.declaredGzipSize(body), declared > maxMessageSize {
            return .failure(
                GunzipFailure(
                    message: "the gzip body declares \(declared) bytes, over the limit of \(maxMessageSize) bytes",
                    tooLarge: true))
        }
        do throws(ZlibError) {
            let bytes = try body.withUnsafeReadableBytes { (raw) throws(ZlibError) in
                try Zlib.decompress(raw, format: .gzip, maxDecompressedLength: maxMessageSize)
            }
            return .success(bytes)
        } catch {
            return .failure(
                GunzipFailure(message: "cannot decompress the gzip body: \(error)", tooLarge: error == .tooLarge))
        }
    }

    /// The size a gzip body's trailer declares, when it can be believed: a floor on the size inflating would reach, so
    /// a bomb is turned away before inflating a byte of it.
    ///
    /// A member ends with its uncompressed size mod 2^32 (RFC 1952), at most the whole body's size when members are
    /// joined. The last four bytes of a truncated or corrupt body are anything, so a size deflate could not reach
    /// from this many bytes (1032 to 1 at best) is not believed, and inflating finds the real fault.
    static func declaredGzipSize(_ body: ByteBuffer) -> Int? {
        let start = body.readerIndex
        guard body.readableBytes >= 18, body.getInteger(at: start, as: UInt16.self) == 0x1F8B,
            let size = body.getInteger(at: body.writerIndex - 4, endianness: .little, as: UInt32.self),
            Int(size) <= body.readableBytes * 1032
        else { return nil }
        return Int(size)
    }

    /// Builds error answers in the request's encoding, or as plain text when it has none.
    private struct Answer {
        let contentType: String?
        let encoding: OTLPBodyEncoding?

        /// A success answer's headers: the same `Content-Type` as the request.
        var headers: HTTPHeaders {
            guard let contentType else { return [:] }
            return ["Content-Type": contentType]
        }

        func status(_ status: HTTPResponseStatus, _ code: GoogleRPCStatus.Code, _ message: String) -> HTTPIngestResponse
        {
            self.status(status, GoogleRPCStatus(code, message))
        }

        func status(_ status: HTTPResponseStatus, _ rpcStatus: GoogleRPCStatus) -> HTTPIngestResponse {
            switch encoding {
            case .protobuf?: HTTPIngestResponse(status: status, headers: headers, body: rpcStatus.protobuf())
            case .json?: HTTPIngestResponse(status: status, headers: headers, body: rpcStatus.json())
            case nil: .error(status, rpcStatus.message)
            }
        }
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let start = firstIndex { !isSpace($0) } ?? endIndex
        let end = lastIndex { !isSpace($0) }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
