import PetrelCodecs

/// Encodes a push request as Loki's `logproto.PushRequest` protobuf (by hand on `ProtobufWriter`: sizes first, then
/// every message written once in place) or as its JSON form.
///
/// The protobuf schema (`shared/proto/loki/push.proto`): `PushRequest { repeated StreamAdapter streams = 1 }`,
/// `StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2 }`, `EntryAdapter { Timestamp timestamp = 1;
/// string line = 2; repeated LabelPairAdapter structuredMetadata = 3 }`, `LabelPairAdapter { string name = 1;
/// string value = 2 }`, and `google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2 }`.
enum LokiPushEncoder {
    /// The uncompressed `PushRequest`.
    static func protobuf(_ streams: [LokiStream]) -> [UInt8] {
        // Entry sizes are needed twice (for their stream's length and their own); kept in order, flattened.
        var entrySizes: [Int] = []
        entrySizes.reserveCapacity(streams.reduce(0) { $0 + $1.entries.count })
        var streamSizes: [Int] = []
        streamSizes.reserveCapacity(streams.count)
        var total = 0
        for stream in streams {
            var size = ProtobufWriter.lengthDelimitedFieldSize(1, length: stream.labelText.utf8.count)
            for entry in stream.entries {
                let entrySize = Self.entrySize(entry)
                entrySizes.append(entrySize)
                size += ProtobufWriter.lengthDelimitedFieldSize(2, length: entrySize)
            }
            streamSizes.append(size)
            total += ProtobufWriter.lengthDelimitedFieldSize(1, length: size)
        }
        var entryIndex = 0
        return ProtobufWriter.makeBytes(count: total) { writer in
            for (stream, size) in zip(streams, streamSizes) {
                writer.writeLengthDelimitedHeader(1, length: size)
                writeString(1, stream.labelText, to: &writer)
                for entry in stream.entries {
                    writer.writeLengthDelimitedHeader(2, length: entrySizes[entryIndex])
                    entryIndex += 1
                    let (seconds, nanos) = Self.split(entry.timestamp)
                    writer.writeLengthDelimitedHeader(1, length: timestampSize(seconds: seconds, nanos: nanos))
                    if seconds != 0 { writer.writeVarintField(1, UInt64(bitPattern: seconds)) }
                    if nanos != 0 { writer.writeVarintField(2, UInt64(nanos)) }
                    if !entry.line.isEmpty { writeString(2, entry.line, to: &writer) }
                    for pair in entry.structuredMetadata {
                        writer.writeLengthDelimitedHeader(3, length: pairSize(pair))
                        if !pair.name.isEmpty { writeString(1, pair.name, to: &writer) }
                        if !pair.value.isEmpty { writeString(2, pair.value, to: &writer) }
                    }
                }
            }
        }
    }

    /// `{"streams":[{"stream":{…},"values":[["<ns>","<line>",{…}],…]},…]}`; the structured metadata object only
    /// where an entry has some.
    static func json(_ streams: [LokiStream]) -> [UInt8] {
        var writer = JSONWriter(
            capacity: streams.reduce(64) { total, stream in
                total + 64 + stream.entries.reduce(0) { $0 + $1.line.utf8.count + 40 }
            })
        writer.beginObject()
        writer.key("streams")
        writer.beginArray()
        for stream in streams {
            writer.beginObject()
            writer.key("stream")
            writer.beginObject()
            for pair in stream.labels {
                writer.key(pair.name)
                writer.string(pair.value)
            }
            writer.endObject()
            writer.key("values")
            writer.beginArray()
            for entry in stream.entries {
                writer.beginArray()
                writer.string(String(entry.timestamp))
                writer.string(entry.line)
                if !entry.structuredMetadata.isEmpty {
                    writer.beginObject()
                    for pair in entry.structuredMetadata {
                        writer.key(pair.name)
                        writer.string(pair.value)
                    }
                    writer.endObject()
                }
                writer.endArray()
            }
            writer.endArray()
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// Seconds and a non-negative nanosecond part, as `google.protobuf.Timestamp` has them.
    static func split(_ nanoseconds: Int64) -> (seconds: Int64, nanos: Int32) {
        var seconds = nanoseconds / 1_000_000_000
        var nanos = nanoseconds % 1_000_000_000
        if nanos < 0 {
            seconds -= 1
            nanos += 1_000_000_000
        }
        return (seconds, Int32(nanos))
    }

    private static func entrySize(_ entry: LokiEntry) -> Int {
        let (seconds, nanos) = split(entry.timestamp)
        var size = ProtobufWriter.lengthDelimitedFieldSize(1, length: timestampSize(seconds: seconds, nanos: nanos))
        if !entry.line.isEmpty { size += ProtobufWriter.lengthDelimitedFieldSize(2, length: entry.line.utf8.count) }
        for pair in entry.structuredMetadata {
            size += ProtobufWriter.lengthDelimitedFieldSize(3, length: pairSize(pair))
        }
        return size
    }

    private static func timestampSize(seconds: Int64, nanos: Int32) -> Int {
        (seconds != 0 ? ProtobufWriter.varintFieldSize(1, UInt64(bitPattern: seconds)) : 0)
            + (nanos != 0 ? ProtobufWriter.varintFieldSize(2, UInt64(nanos)) : 0)
    }

    private static func pairSize(_ pair: LokiLabelPair) -> Int {
        (pair.name.isEmpty ? 0 : ProtobufWriter.lengthDelimitedFieldSize(1, length: pair.name.utf8.count))
            + (pair.value.isEmpty ? 0 : ProtobufWriter.lengthDelimitedFieldSize(2, length: pair.value.utf8.count))
    }

    private static func writeString(_ field: UInt32, _ text: String, to writer: inout ProtobufWriter) {
        var text = text
        text.withUTF8 { writer.writeBytesField(field, UnsafeRawBufferPointer($0)) }
    }
}
