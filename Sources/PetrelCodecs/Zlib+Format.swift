extension Zlib {
    /// The container around a deflate stream: the zlib wrapper (HTTP `deflate`) or gzip (HTTP `gzip`).
    public enum Format: Hashable, Sendable {
        /// RFC 1950: a two-byte header and an Adler-32 trailer.
        case zlib
        /// RFC 1952: a ten-byte-or-longer header and a CRC-32 plus length trailer.
        case gzip

        /// The windowBits value that selects this container in deflateInit2_ and inflateInit2_.
        var windowBits: Int32 {
            switch self {
            case .zlib: return 15
            case .gzip: return 15 + 16
            }
        }
    }
}
