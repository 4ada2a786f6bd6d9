import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import PetrelCore

/// One request of an `HTTPIngestServer`, on Hummingbird: checks credentials and the declared size before a byte of the
/// body is read, reads the body whole (bounded in size and memory as it arrives), runs the handler and writes its
/// answer.
struct HTTPIngestResponder: Sendable {
    let settings: HTTPServerSettings
    let authenticator: SourceAuthenticator?
    let openPaths: Set<String>
    let memory: MemoryLimit?
    let tooLarge: HTTPIngestServer.TooLarge
    let busy: HTTPIngestServer.Refusal
    let handler: HTTPIngestServer.Handler

    func respond(_ request: Request, _ writer: consuming ResponseWriter, _ channel: any Channel) async throws {
        let uri = request.head.path ?? "/"
        let path =
            uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        let headers = Self.headers(of: request.head)
        if let authenticator, !openPaths.contains(path),
            !authenticator.authorizes(request.headers[.authorization])
        {
            let response = HTTPIngestResponse(
                status: .unauthorized,
                headers: [
                    "WWW-Authenticate": "\(authenticator.scheme) realm=\"petrel\"",
                    "Content-Type": "text/plain; charset=utf-8",
                ], body: Array("missing or invalid credentials\n".utf8))
            try await write(response, closing: true, to: writer, channel)
            return
        }
        // A declared length over the limit is refused before a byte of the body is read; no memory is set aside for a
        // declared length either: a body counts as its bytes arrive.
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > settings.maxBodySize {
            try await write(tooLarge(headers), closing: true, to: writer, channel)
            return
        }
        // Each chunk is appended to one buffer, which becomes the batch's arena: the body is copied once, as today.
        var body = channel.allocator.buffer(capacity: 0)
        var reserved = 0
        defer { if reserved > 0 { memory?.add(-reserved) } }
        var refusal: HTTPIngestResponse?
        for try await chunk in request.body {
            let size = chunk.readableBytes
            guard body.readableBytes + size <= settings.maxBodySize else {
                // A chunked body is cut off at the limit as it arrives.
                refusal = tooLarge(headers)
                break
            }
            if let memory {
                guard memory.reserve(size, holding: reserved) else {
                    refusal = busy(headers)
                    break
                }
                reserved += size
            }
            body.writeImmutableBuffer(chunk)
        }
        if let refusal {
            try await write(refusal, closing: true, to: writer, channel)
            return
        }
        // A client that went away mid-body ends the body early; what it sent is not a request.
        if let declared, body.readableBytes != declared { throw HTTPParserError.invalidEOFState }
        memory?.add(-reserved)
        reserved = 0
        let method = HTTPMethod(rawValue: request.method.rawValue)
        let response = await handler(
            HTTPIngestRequest(
                method: method, path: path,
                query: uri.firstIndex(of: "?").map { String(uri[uri.index(after: $0)...]) } ?? "",
                headers: headers, body: body))
        try await write(response, closing: false, to: writer, channel, head: method == .HEAD)
    }

    /// Writes an answer in one batch; `closing` answers before the body is read and closes the connection after it.
    private func write(
        _ response: HTTPIngestResponse, closing: Bool, to writer: consuming ResponseWriter, _ channel: any Channel,
        head: Bool = false
    ) async throws {
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        if closing { fields[.connection] = "close" }
        let status = HTTPResponse.Status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase)
        if let stream = response.stream, !head {
            // No length: the body goes out in chunks for as long as the stream runs.
            let allocator = channel.allocator
            let body = ResponseBody { writer in
                var chunks = HTTPBodyStreamWriter(
                    base: writer, allocator: allocator, connection: HTTPStreamConnection(channel: channel))
                try await stream(&chunks)
                try await chunks.base.finish(nil)
            }
            try await writer.write(response: HTTPResponse(status: status, headerFields: fields), body: body)
            return
        }
        fields[.contentLength] = String(response.body.count)
        let body =
            response.body.isEmpty || head
            ? ResponseBody() : ResponseBody(byteBuffer: channel.allocator.buffer(bytes: response.body))
        try await writer.write(response: HTTPResponse(status: status, headerFields: fields), body: body)
    }

    /// The request's headers as NIO's HTTP/1.1 types carry them, `Host` (which HTTP types keep as the authority)
    /// first.
    private static func headers(of head: HTTPRequest) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headerFields.count + 1)
        if let authority = head.authority { headers.add(name: "Host", value: authority) }
        for field in head.headerFields { headers.add(name: field.name.rawName, value: field.value) }
        return headers
    }
}
