import PetrelCore

extension JSONWriter {
    /// Writes a field value: objects with their keys sorted (output that does not depend on hashing), bytes as
    /// base64.
    public mutating func value(_ value: AnyValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .int(let number): int(number)
        case .double(let number): double(number)
        case .string(let text): string(text)
        case .bytes(let bytes): string(Base64.encode(bytes))
        case .array(let values):
            beginArray()
            for element in values { self.value(element) }
            endArray()
        case .object(let fields): object(fields)
        }
    }

    /// Writes an object of field values, keys sorted.
    public mutating func object(_ fields: [String: AnyValue]) {
        beginObject()
        Self.forEachSorted(fields) { key, field in
            self.key(key)
            value(field)
        }
        endObject()
    }

    /// A dictionary's entries by key; a record's few keys are usually one or two, which need no array to sort.
    static func forEachSorted<Value>(_ dictionary: [String: Value], _ body: (String, Value) -> Void) {
        switch dictionary.count {
        case 0, 1:
            for (key, value) in dictionary { body(key, value) }
        case 2:
            var entries = dictionary.makeIterator()
            let (first, second) = (entries.next()!, entries.next()!)
            let (low, high) = first.key < second.key ? (first, second) : (second, first)
            body(low.key, low.value)
            body(high.key, high.value)
        default:
            for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) { body(key, value) }
        }
    }
}
