import CZlib

extension Zlib {
    /// Inflates a gzip stream piece by piece, for input too large to hold whole (a gzipped log file): memory stays at
    /// one output chunk whatever the size. Concatenated gzip members are joined, as `decompress` does.
    public final class GzipStreamInflater {
        private let stream: UnsafeMutablePointer<z_stream>
        private var chunk: [UInt8]
        /// The stream's last member ended with nothing after it so far.
        public private(set) var isAtEnd = false

        public init(chunkBytes: Int = 64 * 1024) throws(ZlibError) {
            stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            chunk = [UInt8](repeating: 0, count: chunkBytes)
            let code = inflateInit2_(stream, Format.gzip.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard code == Z_OK else {
                stream.deinitialize(count: 1)
                stream.deallocate()
                throw .libraryFailure("gzip", code: code, detail: nil)
            }
        }

        deinit {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }

        /// Inflates all of `input`, handing each piece of output to `emit`, which returns false to stop early.
        /// Returns false when `emit` stopped it.
        public func feed(
            _ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Bool
        ) throws(ZlibError) -> Bool {
            guard !input.isEmpty else { return true }
            var offset = 0
            while offset < input.count {
                if isAtEnd {
                    guard input[offset] == 0x1f else {
                        throw .corruptInput("gzip", detail: "\(input.count - offset) bytes after the end of the stream")
                    }
                    let code = inflateReset(stream)
                    guard code == Z_OK else { throw .libraryFailure("gzip", code: code, detail: nil) }
                    isAtEnd = false
                }
                let available = min(input.count - offset, Int(UInt32.max))
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset)
                stream.pointee.avail_in = uInt(available)
                var progressed = false
                while true {
                    let (code, produced) = chunk.withUnsafeMutableBytes { out -> (Int32, Int) in
                        stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        stream.pointee.avail_out = uInt(out.count)
                        let code = inflate(stream, Z_NO_FLUSH)
                        return (code, out.count - Int(stream.pointee.avail_out))
                    }
                    switch code {
                    case Z_OK, Z_BUF_ERROR: break
                    case Z_STREAM_END: isAtEnd = true
                    case Z_DATA_ERROR:
                        throw .corruptInput("gzip", detail: stream.pointee.msg.map { String(cString: $0) })
                    default: throw .libraryFailure("gzip", code: code, detail: nil)
                    }
                    if produced > 0 {
                        progressed = true
                        let keepGoing = chunk.withUnsafeBytes {
                            emit(UnsafeRawBufferPointer(rebasing: $0[..<produced]))
                        }
                        if !keepGoing { return false }
                    }
                    // A full chunk may leave output inside zlib: go on until a call leaves room to spare.
                    if isAtEnd || (stream.pointee.avail_in == 0 && produced < chunk.count) || code == Z_BUF_ERROR {
                        break
                    }
                }
                let consumed = available - Int(stream.pointee.avail_in)
                guard consumed > 0 || progressed || isAtEnd else {
                    throw .corruptInput("gzip", detail: "no progress")
                }
                offset += consumed
            }
            return true
        }
    }
}
