/// Prometheus' legacy label names, `[a-zA-Z_][a-zA-Z0-9_]*`: the one check every component uses.
///
/// Checked on bytes, so a name in a batch's arena needs no `String`; a non-ASCII byte is never part of a name.
public enum PrometheusLabelName {
    /// Whether `byte` may start a name: an ASCII letter or `_`.
    @inlinable
    public static func isStart(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z"))
    }

    /// Whether `byte` may follow the first: an ASCII letter, digit or `_`.
    @inlinable
    public static func isContinuation(_ byte: UInt8) -> Bool {
        isStart(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// Whether `scalar` may start a name, for code that rewrites names scalar by scalar.
    @inlinable
    public static func isStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && isStart(UInt8(scalar.value))
    }

    /// Whether `scalar` may follow the first, for code that rewrites names scalar by scalar.
    @inlinable
    public static func isContinuation(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && isContinuation(UInt8(scalar.value))
    }

    /// Whether `bytes` are a whole valid name; the empty name is not.
    @inlinable
    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        guard let first = bytes.first, isStart(first) else { return false }
        return bytes.dropFirst().allSatisfy(isContinuation)
    }

    /// Whether `name` is a whole valid name; the empty name is not.
    @inlinable
    public static func isValid(_ name: String) -> Bool {
        isValid(name.utf8)
    }
}
