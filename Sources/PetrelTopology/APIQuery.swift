/// The parameters of an API request's query string (`a=1&b=x%2Ay`), decoded, in order; a name may repeat.
struct APIQuery: Sendable {
    let parameters: [(name: String, value: String)]

    init(_ query: String) {
        parameters = query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    /// Every value given for `name`; a value may also list several, separated by commas.
    func values(_ name: String) -> [String] {
        parameters.filter { $0.name == name }.flatMap { $0.value.split(separator: ",").map(String.init) }
    }

    /// The last value given for `name`.
    func value(_ name: String) -> String? {
        parameters.last { $0.name == name }?.value
    }

    /// Percent-decoding with `+` as a space; a malformed escape stays as it is.
    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
